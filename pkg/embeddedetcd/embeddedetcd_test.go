package embeddedetcd

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestStartServesOnUnixSocketAndRestarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	ctx := context.Background()

	put := func(e *Etcd, key, value string) {
		t.Helper()
		cli := client(t, e)
		if _, err := cli.Put(ctx, key, value); err != nil {
			t.Fatalf("put: %v", err)
		}
	}
	get := func(e *Etcd, key string) string {
		t.Helper()
		resp, err := client(t, e).Get(ctx, key)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if len(resp.Kvs) != 1 {
			return ""
		}
		return string(resp.Kvs[0].Value)
	}

	first, err := Start(ctx, dir, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(first.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "unix" || u.Path != filepath.Join(dir, "client.sock") {
		t.Fatalf("client URL %q, want a unix socket in the data directory", first.ClientURL())
	}
	put(first, "/k", "v")
	first.Close()

	// A killed server leaves its socket file behind; a restart must not trip over it.
	if err := os.WriteFile(u.Path+".tmp", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(u.Path+".tmp", u.Path); err != nil {
		t.Fatal(err)
	}
	second, err := Start(ctx, dir, time.Minute)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer second.Close()
	if got := get(second, "/k"); got != "v" {
		t.Fatalf("after restart /k = %q, want v", got)
	}
}

func TestClientURLFallsBackToLoopbackForLongPaths(t *testing.T) {
	long := filepath.Join(t.TempDir(), strings.Repeat("d", maxSocketPath))
	u, err := clientURLIn(long)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "http" || !strings.HasPrefix(u.Host, "127.0.0.1:") {
		t.Fatalf("client URL %q, want http on loopback", u)
	}
}

func client(t *testing.T, e *Etcd) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.ClientURL()}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}
