package framework

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Etcd is a real etcd process built from go.etcd.io/etcd/server/v3 (`make tools`), alone or
// as a member of an EtcdCluster.
type Etcd struct {
	// URL is the client URL, for --etcd-servers.
	URL string
	// PeerURL is where the other members of its cluster reach it.
	PeerURL string
	// Name is the member's name in its cluster.
	Name string
	// TLS, set by StartEtcdTLS, is what clients need: the etcd serves HTTPS to clients and
	// requires their certificates. Nil for plain HTTP.
	TLS  *EtcdTLS
	bin  string
	args []string

	// mu guards cmd, exited and log. The log is written by exec's copying goroutine while
	// the test reads it, so it is only ever touched under mu (through lockedWriter).
	mu     sync.Mutex
	cmd    *exec.Cmd
	log    bytes.Buffer
	exited chan struct{}
}

// StartEtcd runs a throwaway etcd (no fsync) on free loopback ports until the test ends.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	return startEtcd(t, false)
}

// StartEtcdTLS is StartEtcd with TLS on the client port and client certificates required
// (--client-cert-auth), as production etcds run; Etcd.TLS has the files clients need.
func StartEtcdTLS(t testing.TB) *Etcd {
	t.Helper()
	return startEtcd(t, true)
}

func startEtcd(t testing.TB, withTLS bool) *Etcd {
	t.Helper()
	bin, err := RealBinary("etcd")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "etcd")
	e := &Etcd{bin: bin, Name: "test"}
	if withTLS {
		pkiDir := filepath.Join(t.TempDir(), "pki")
		if err := os.MkdirAll(pkiDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if e.TLS, err = newEtcdTLS(pkiDir); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		e.Kill()
		if t.Failed() {
			t.Logf("etcd log:\n%s", e.Log())
		}
	})
	startOnFreePorts(t, "etcd", func() (string, error) {
		urls, err := freeURLs(2)
		if err != nil {
			t.Fatal(err)
		}
		e.URL, e.PeerURL = urls[0], urls[1]
		if e.TLS != nil {
			e.URL = "https://" + strings.TrimPrefix(e.URL, "http://")
		}
		if err := e.configure(dir, e.Name+"="+e.PeerURL, dir); err != nil {
			t.Fatal(err)
		}
		e.resetLog()
		err = e.tryStart()
		return e.Log(), err
	})
	return e
}

// configure lays out a fresh data directory and the command line of a member of initialCluster.
// The token, unique to the test's directory, keeps members of different clusters apart
// should ports be reused.
func (e *Etcd) configure(dir, initialCluster, token string) error {
	// A fresh data directory: a failed earlier attempt may have initialised one with its ports.
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// On a restart the data directory already names the cluster and the --initial-* flags are
	// ignored, so the same command line serves the first start and every restart.
	e.args = []string{"--name", e.Name, "--data-dir", dir,
		"--listen-client-urls", e.URL, "--advertise-client-urls", e.URL,
		"--listen-peer-urls", e.PeerURL, "--initial-advertise-peer-urls", e.PeerURL,
		"--initial-cluster", initialCluster, "--initial-cluster-state", "new",
		"--initial-cluster-token", token,
		"--listen-metrics-urls", "", "--log-level", "warn", "--unsafe-no-fsync"}
	if e.TLS != nil {
		e.args = append(e.args, "--cert-file", e.TLS.serverCert, "--key-file", e.TLS.serverKey,
			"--trusted-ca-file", e.TLS.CAFile, "--client-cert-auth")
	}
	return nil
}

// Start (re)starts the process on the same data directory and ports and waits until it is
// healthy (for a cluster member: until it knows a leader).
func (e *Etcd) Start(t testing.TB) {
	t.Helper()
	if err := e.tryStart(); err != nil {
		t.Fatalf("etcd did not start: %v\n%s", err, e.Log())
	}
}

func (e *Etcd) tryStart() error {
	if err := e.spawn(); err != nil {
		return err
	}
	if err := e.waitHealthy(30 * time.Second); err != nil {
		e.Kill()
		return err
	}
	return nil
}

// spawn starts the process without waiting for it to serve.
func (e *Etcd) spawn() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	cmd := exec.Command(e.bin, e.args...)
	cmd.Stdout = &lockedWriter{mu: &e.mu, w: &e.log}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	e.cmd, e.exited = cmd, exited
	return nil
}

// Pid is the running process's id, 0 when it is stopped.
func (e *Etcd) Pid() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd == nil || e.cmd.Process == nil {
		return 0
	}
	return e.cmd.Process.Pid
}

// Running reports whether the process was started and not killed since.
func (e *Etcd) Running() bool { return e.Pid() != 0 }

// Kill stops the process abruptly (SIGKILL), as a crash would, and waits until it is gone. A
// paused process is killed too.
func (e *Etcd) Kill() {
	e.mu.Lock()
	cmd, exited := e.cmd, e.exited
	e.cmd = nil
	e.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Pause freezes the process with SIGSTOP: connections stay open and nothing is answered, as
// with a machine that hangs or a disk that stalls. Resume undoes it.
func (e *Etcd) Pause() error { return e.signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (e *Etcd) Resume() error { return e.signal(syscall.SIGCONT) }

func (e *Etcd) signal(sig syscall.Signal) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cmd == nil {
		return fmt.Errorf("etcd %s is not running", e.Name)
	}
	return e.cmd.Process.Signal(sig)
}

// Log returns what the process printed, across restarts.
func (e *Etcd) Log() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log.String()
}

func (e *Etcd) resetLog() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log.Reset()
}

// exitedChan is the channel closed when the current process exits (nil when none runs).
func (e *Etcd) exitedChan() chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.exited
}

// waitHealthy waits until etcd answers a status request and knows a leader; it fails at once
// if etcd exits.
func (e *Etcd) waitHealthy(timeout time.Duration) error {
	exited := e.exitedChan()
	c, err := e.Client()
	if err != nil {
		return err
	}
	defer c.Close()
	return wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		select {
		case <-exited:
			return false, fmt.Errorf("etcd %s exited", e.Name)
		default:
		}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		st, err := c.Status(sctx, e.URL)
		return err == nil && st.Leader != 0, nil
	})
}

// Client returns a new etcd client; the caller closes it.
func (e *Etcd) Client() (*clientv3.Client, error) {
	var tlsConfig *tls.Config
	if e.TLS != nil {
		var err error
		info := transport.TLSInfo{CertFile: e.TLS.CertFile, KeyFile: e.TLS.KeyFile, TrustedCAFile: e.TLS.CAFile}
		if tlsConfig, err = info.ClientConfig(); err != nil {
			return nil, err
		}
	}
	return newEtcdClient([]string{e.URL}, tlsConfig)
}

// ServerArgs are the image-apiserver flags that reach this etcd.
func (e *Etcd) ServerArgs() []string {
	args := []string{"--etcd-servers", e.URL}
	if e.TLS != nil {
		args = append(args, "--etcd-cafile", e.TLS.CAFile, "--etcd-certfile", e.TLS.CertFile, "--etcd-keyfile", e.TLS.KeyFile)
	}
	return args
}

func newEtcdClient(endpoints []string, tlsConfig *tls.Config) (*clientv3.Client, error) {
	// No client log: its warnings while a member is down or starting are expected here.
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tlsConfig, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	return c, nil
}

// EtcdCluster is several etcd processes forming one cluster on loopback.
type EtcdCluster struct {
	Members []*Etcd
}

// StartEtcdCluster runs a throwaway cluster of n members (no fsync) on free loopback ports
// until the test ends, and waits until every member knows the leader.
func StartEtcdCluster(t testing.TB, n int) *EtcdCluster {
	t.Helper()
	bin, err := RealBinary("etcd")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	c := &EtcdCluster{}
	for i := 0; i < n; i++ {
		c.Members = append(c.Members, &Etcd{bin: bin, Name: "member" + strconv.Itoa(i)})
	}
	t.Cleanup(func() {
		for _, m := range c.Members {
			m.Kill()
		}
		if t.Failed() {
			for _, m := range c.Members {
				t.Logf("etcd %s log:\n%s", m.Name, m.Log())
			}
		}
	})
	startOnFreePorts(t, "etcd cluster", func() (string, error) {
		urls, err := freeURLs(2 * n)
		if err != nil {
			t.Fatal(err)
		}
		var initial []string
		for i, m := range c.Members {
			m.URL, m.PeerURL = urls[2*i], urls[2*i+1]
			initial = append(initial, m.Name+"="+m.PeerURL)
		}
		for _, m := range c.Members {
			if err := m.configure(filepath.Join(root, m.Name), strings.Join(initial, ","), root); err != nil {
				t.Fatal(err)
			}
			m.resetLog()
		}
		err = c.startAll()
		var logs strings.Builder
		for _, m := range c.Members {
			fmt.Fprintf(&logs, "--- %s\n%s", m.Name, m.Log())
		}
		return logs.String(), err
	})
	return c
}

// startAll starts every member at once (none can be healthy before a quorum runs) and waits
// until all are healthy; on failure it kills them all.
func (c *EtcdCluster) startAll() error {
	for _, m := range c.Members {
		if err := m.spawn(); err != nil {
			c.killAll()
			return err
		}
	}
	for _, m := range c.Members {
		if err := m.waitHealthy(60 * time.Second); err != nil {
			c.killAll()
			return err
		}
	}
	return nil
}

func (c *EtcdCluster) killAll() {
	for _, m := range c.Members {
		m.Kill()
	}
}

// URLs is the members' client URLs, comma-separated, for --etcd-servers.
func (c *EtcdCluster) URLs() string {
	var urls []string
	for _, m := range c.Members {
		urls = append(urls, m.URL)
	}
	return strings.Join(urls, ",")
}

// Client returns a new etcd client for all members; the caller closes it.
func (c *EtcdCluster) Client() (*clientv3.Client, error) {
	return newEtcdClient(strings.Split(c.URLs(), ","), nil)
}

// Leader returns the index in Members of the leader. It fails unless every running member
// answers and all name the same leader, which is running.
func (c *EtcdCluster) Leader(ctx context.Context) (int, error) {
	cli, err := c.Client()
	if err != nil {
		return -1, err
	}
	defer cli.Close()
	index := map[uint64]int{}
	leaders := map[uint64]bool{}
	for i, m := range c.Members {
		if !m.Running() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := cli.Status(sctx, m.URL)
		cancel()
		if err != nil {
			return -1, fmt.Errorf("%s: %w", m.Name, err)
		}
		index[st.Header.MemberId] = i
		leaders[st.Leader] = true
	}
	if len(leaders) != 1 {
		return -1, fmt.Errorf("the running members name %d leaders", len(leaders))
	}
	for id := range leaders {
		if i, ok := index[id]; ok && id != 0 {
			return i, nil
		}
	}
	return -1, errors.New("the leader the members name is not running")
}

// WaitLeader waits until the running members have a running leader and returns its index.
func (c *EtcdCluster) WaitLeader(ctx context.Context, timeout time.Duration) (int, error) {
	leader := -1
	var last error
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		leader, last = c.Leader(ctx)
		return last == nil, nil
	})
	if err != nil {
		return -1, fmt.Errorf("no etcd leader within %s: %v", timeout, last)
	}
	return leader, nil
}

// freeURLs returns n loopback http URLs on ports that were free a moment ago.
func freeURLs(n int) ([]string, error) {
	var urls []string
	for len(urls) < n {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		if slices.Contains(urls, url) {
			continue
		}
		urls = append(urls, url)
	}
	return urls, nil
}
