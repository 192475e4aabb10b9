package embeddedetcd

import (
	"bufio"
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

func TestStartServesOnUnixSocketAndRestarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	ctx := context.Background()
	before := listeningTCPSockets(t)

	first, err := Start(ctx, dir, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(first.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "unix" || u.Path != filepath.Join(dir, socketName) {
		t.Fatalf("client URL %q, want a unix socket in the data directory", first.ClientURL())
	}
	assertNoNewTCPListeners(t, before)
	put(t, first, "/k", "v")
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
	assertNoNewTCPListeners(t, before)
	if got := get(t, second, "/k"); got != "v" {
		t.Fatalf("after restart /k = %q, want v", got)
	}
}

func TestLongDataDirServesOnPrivateShortSocket(t *testing.T) {
	// Keep the socket directory out of a long $XDG_RUNTIME_DIR of the machine running the
	// test: the system temporary directory is the one under test here.
	t.Setenv("XDG_RUNTIME_DIR", "")
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", maxSocketPath), "etcd")
	before := listeningTCPSockets(t)

	e, err := Start(context.Background(), dir, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			e.Close()
		}
	}()
	u, err := url.Parse(e.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "unix" || len(u.Path) > maxSocketPath {
		t.Fatalf("client URL %q, want a unix socket of at most %d bytes", e.ClientURL(), maxSocketPath)
	}
	socketDir := filepath.Dir(u.Path)
	fi, err := os.Stat(socketDir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("socket directory %s has mode %v, want 0700", socketDir, fi.Mode().Perm())
	}
	assertNoNewTCPListeners(t, before)
	put(t, e, "/long", "ok")
	if got := get(t, e, "/long"); got != "ok" {
		t.Fatalf("/long = %q, want ok", got)
	}

	e.Close()
	closed = true
	if _, err := os.Stat(socketDir); !os.IsNotExist(err) {
		t.Errorf("socket directory %s still there after Close (%v)", socketDir, err)
	}
}

func TestShortSocketDir(t *testing.T) {
	tests := []struct {
		name       string
		runtimeDir string
		tmpDir     string
		wantUnder  string // "runtime", "tmp" or "" for an error
	}{
		{name: "runtime dir preferred", runtimeDir: "RUNTIME", tmpDir: "TMP", wantUnder: "runtime"},
		{name: "relative runtime dir ignored", runtimeDir: "relative/dir", tmpDir: "TMP", wantUnder: "tmp"},
		{name: "too long runtime dir skipped", runtimeDir: "LONG", tmpDir: "TMP", wantUnder: "tmp"},
		{name: "nothing short enough", runtimeDir: "LONG", tmpDir: "LONG", wantUnder: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtimeDir, tmpDir := shortTempDir(t), shortTempDir(t)
			long := filepath.Join(shortTempDir(t), strings.Repeat("l", maxSocketPath))
			resolve := func(s, short string) string {
				switch s {
				case "RUNTIME", "TMP":
					return short
				case "LONG":
					return long
				}
				return s
			}
			t.Setenv("XDG_RUNTIME_DIR", resolve(tc.runtimeDir, runtimeDir))
			t.Setenv("TMPDIR", resolve(tc.tmpDir, tmpDir))
			got, err := shortSocketDir()
			if tc.wantUnder == "" {
				if err == nil {
					t.Fatalf("got %s, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"runtime": runtimeDir, "tmp": tmpDir}[tc.wantUnder]
			if filepath.Dir(got) != want {
				t.Errorf("socket dir %s, want one under %s", got, want)
			}
			if n := len(filepath.Join(got, socketName)); n > maxSocketPath {
				t.Errorf("socket path is %d bytes", n)
			}
		})
	}
}

// TestRestartsDataDirWithTCPPeerURL restarts a data directory made the way earlier versions
// made it, with a member whose peer URL is a loopback TCP port: etcd keeps that URL in its
// membership, and must start from it without listening on it.
func TestRestartsDataDirWithTCPPeerURL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	oldPeer := freeLoopbackURL(t)
	oldClient := freeLoopbackURL(t)
	cfg := embed.NewConfig()
	cfg.Name = "image-apiserver"
	cfg.Dir = dir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{oldClient}, []url.URL{oldClient}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{oldPeer}, []url.URL{oldPeer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ListenMetricsUrls = nil
	cfg.LogLevel = "error"
	oldClosing := &atomic.Bool{}
	logger, err := newLogger(oldClosing)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(logger)
	old, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-old.Server.ReadyNotify():
	case <-time.After(time.Minute):
		old.Close()
		t.Fatal("etcd with a TCP peer URL did not start")
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{oldClient.String()}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(context.Background(), "/old", "kept"); err != nil {
		t.Fatal(err)
	}
	_ = cli.Close()
	oldClosing.Store(true)
	old.Close()

	before := listeningTCPSockets(t)
	e, err := Start(context.Background(), dir, time.Minute)
	if err != nil {
		t.Fatalf("restart of a data directory with a TCP peer URL: %v", err)
	}
	defer e.Close()
	assertNoNewTCPListeners(t, before)
	if got := get(t, e, "/old"); got != "kept" {
		t.Fatalf("/old = %q, want kept", got)
	}
	members, err := client(t, e).MemberList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(members.Members) != 1 || len(members.Members[0].PeerURLs) != 1 || members.Members[0].PeerURLs[0] != oldPeer.String() {
		t.Errorf("members %v, want the one member with its old peer URL %s", members.Members, oldPeer.String())
	}
}

// TestListeningTCPSocketsSeesListeners checks the check the tests above rely on.
func TestListeningTCPSocketsSeesListeners(t *testing.T) {
	before := listeningTCPSockets(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	after := listeningTCPSockets(t)
	port := l.Addr().(*net.TCPAddr).Port
	found := false
	for inode, p := range after {
		if _, ok := before[inode]; !ok && p == port {
			found = true
		}
	}
	if !found {
		t.Fatalf("listener on port %d not seen: before %v, after %v", port, before, after)
	}
}

func assertNoNewTCPListeners(t *testing.T, before map[string]int) {
	t.Helper()
	for inode, port := range listeningTCPSockets(t) {
		if _, ok := before[inode]; !ok {
			t.Errorf("the process listens on TCP port %d since etcd started", port)
		}
	}
}

// listeningTCPSockets returns the listening TCP sockets (IPv4 and IPv6) this process holds,
// as socket inode -> local port. /proc/net/tcp lists every socket of the network namespace;
// only those whose inode is one of our file descriptors are ours.
func listeningTCPSockets(t *testing.T) map[string]int {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc, which only Linux has")
	}
	ours := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			ours[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	listening := map[string]int{}
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			if os.IsNotExist(err) {
				continue // no IPv6
			}
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A is TCP_LISTEN
				continue
			}
			if inode := fields[9]; ours[inode] {
				var port int
				if i := strings.LastIndexByte(fields[1], ':'); i >= 0 {
					for _, c := range fields[1][i+1:] {
						port = port*16 + strings.IndexRune("0123456789ABCDEF", c)
					}
				}
				listening[inode] = port
			}
		}
		_ = f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return listening
}

// shortTempDir is a temporary directory with a short path (t.TempDir's paths contain the
// test's name, too long to hold socket directories).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func freeLoopbackURL(t *testing.T) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return url.URL{Scheme: "http", Host: addr}
}

func put(t *testing.T, e *Etcd, key, value string) {
	t.Helper()
	if _, err := client(t, e).Put(context.Background(), key, value); err != nil {
		t.Fatalf("put: %v", err)
	}
}

func get(t *testing.T, e *Etcd, key string) string {
	t.Helper()
	resp, err := client(t, e).Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if len(resp.Kvs) != 1 {
		return ""
	}
	return string(resp.Kvs[0].Value)
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
