package framework

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Etcd is a real etcd process built from go.etcd.io/etcd/server/v3 (`make tools`).
type Etcd struct {
	// URL is the client URL, for --etcd-servers.
	URL  string
	bin  string
	args []string
	cmd  *exec.Cmd
	log  bytes.Buffer
	// exited is closed when cmd has exited.
	exited chan struct{}
}

// StartEtcd runs a throwaway etcd (no fsync) on free loopback ports until the test ends.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	bin, err := RealBinary("etcd")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "etcd")
	e := &Etcd{bin: bin}
	t.Cleanup(func() {
		e.Kill()
		if t.Failed() {
			t.Logf("etcd log:\n%s", e.log.String())
		}
	})
	startOnFreePorts(t, "etcd", func() (string, error) {
		// A fresh data directory: a failed earlier attempt may have initialised one with its ports.
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		clientPort, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		peerPort, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		client := "http://127.0.0.1:" + strconv.Itoa(clientPort)
		peer := "http://127.0.0.1:" + strconv.Itoa(peerPort)
		e.URL = client
		e.args = []string{"--name", "test", "--data-dir", dir,
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", "test=" + peer, "--listen-metrics-urls", "",
			"--log-level", "warn", "--unsafe-no-fsync"}
		e.log.Reset()
		err = e.tryStart()
		return e.log.String(), err
	})
	return e
}

// Start (re)starts the process on the same data directory and ports and waits until it is
// healthy.
func (e *Etcd) Start(t testing.TB) {
	t.Helper()
	if err := e.tryStart(); err != nil {
		t.Fatalf("etcd did not start: %v\n%s", err, e.log.String())
	}
}

func (e *Etcd) tryStart() error {
	e.cmd = exec.Command(e.bin, e.args...)
	e.cmd.Stdout, e.cmd.Stderr = &e.log, &e.log
	if err := e.cmd.Start(); err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	e.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(e.cmd, e.exited)
	if err := e.waitHealthy(); err != nil {
		e.Kill()
		return err
	}
	return nil
}

// Pid is the running process's id, 0 when it is stopped.
func (e *Etcd) Pid() int {
	if e.cmd == nil || e.cmd.Process == nil {
		return 0
	}
	return e.cmd.Process.Pid
}

// Kill stops the process abruptly, as a crash would.
func (e *Etcd) Kill() {
	if e.cmd == nil {
		return
	}
	_ = e.cmd.Process.Kill()
	<-e.exited
	e.cmd = nil
}

// waitHealthy waits until etcd answers a status request; it fails at once if etcd exits.
func (e *Etcd) waitHealthy() error {
	return wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case <-e.exited:
			return false, fmt.Errorf("etcd exited")
		default:
		}
		c, err := e.Client()
		if err != nil {
			return false, nil
		}
		defer c.Close()
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err = c.Status(sctx, e.URL)
		return err == nil, nil
	})
}

// Client returns a new etcd client; the caller closes it.
func (e *Etcd) Client() (*clientv3.Client, error) {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.URL}, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	return c, nil
}
