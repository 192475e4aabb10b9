package framework

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Server is a running image-apiserver process.
type Server struct {
	t          testing.TB
	bin        string
	args       []string
	DataDir    string
	Kubeconfig string
	Port       int
	// URL is https://127.0.0.1:<port>.
	URL string

	mu   sync.Mutex
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan error
}

// Options change how a server starts.
type Options struct {
	// EtcdServers, when set, points the server at that etcd instead of the embedded one.
	EtcdServers string
	// DataDir reuses a data directory (for restarts of a standalone server); default t.TempDir().
	DataDir string
	// ExtraArgs are appended to the command line.
	ExtraArgs []string
	// Binary runs another build of the server (a benchmark comparing two); default
	// ServerBinary.
	Binary string
}

// LoopbackRegistriesOnly is the server flag that keeps a test server's imports on loopback.
const LoopbackRegistriesOnly = "--allowed-registries-for-import=127.0.0.1:*,localhost:*"

// StartServer starts a standalone server and waits until /readyz answers 200. It is stopped
// (SIGTERM) when the test ends; its log is printed if the test failed.
func StartServer(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := ServerBinary()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Binary != "" {
		bin = opts.Binary
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	s := &Server{t: t, bin: bin, DataDir: dataDir, Kubeconfig: filepath.Join(dataDir, "kubeconfig")}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("image-apiserver log:\n%s", s.Log())
		}
		_ = s.Stop()
	})
	startOnFreePorts(t, "image-apiserver", func() (string, error) {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Port, s.URL = port, "https://127.0.0.1:"+strconv.Itoa(port)
		s.args = []string{
			"--standalone", "--data-dir", dataDir, "--secure-port", strconv.Itoa(port),
			"--write-kubeconfig", s.Kubeconfig, "--registry-hostname", "registry.test:5000",
			// Tests reach only loopback: imports (and the automatic imports of spec tags such
			// as quay.io/example/...) may read only registries the tests run.
			LoopbackRegistriesOnly,
		}
		if opts.EtcdServers != "" {
			s.args = append(s.args, "--etcd-servers", opts.EtcdServers)
		}
		s.args = append(s.args, opts.ExtraArgs...)
		s.mu.Lock()
		s.log = &bytes.Buffer{}
		s.mu.Unlock()
		err = s.tryStart()
		return s.Log(), err
	})
	return s
}

// Start starts the process again after Stop or Kill, with the same flags, port and data
// directory, and waits until /readyz answers 200.
func (s *Server) Start() {
	s.t.Helper()
	if s.Pid() != 0 {
		s.t.Fatal("image-apiserver is already running")
	}
	s.mu.Lock()
	fmt.Fprintf(s.log, "--- image-apiserver restarted at %s ---\n", time.Now().Format(time.RFC3339Nano))
	s.mu.Unlock()
	if err := s.tryStart(); err != nil {
		s.t.Fatalf("image-apiserver did not become ready: %v (its log follows)", err)
	}
}

// tryStart starts the process and waits until it is ready; it fails if the process exits.
// The process appends to s.log, which keeps the output of earlier runs.
func (s *Server) tryStart() error {
	s.mu.Lock()
	s.cmd = exec.Command(s.bin, s.args...)
	s.cmd.Stdout = &lockedWriter{mu: &s.mu, w: s.log}
	s.cmd.Stderr = s.cmd.Stdout
	s.done = make(chan error, 1)
	if err := s.cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("starting image-apiserver: %w", err)
	}
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	go func() { done <- cmd.Wait() }()
	return s.waitReady(done)
}

// waitReady polls /readyz without credentials (the health paths are public).
func (s *Server) waitReady(done chan error) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	return wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-done:
			done <- err
			return false, fmt.Errorf("process exited: %v", err)
		default:
		}
		resp, err := client.Get(s.URL + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// Stop sends SIGTERM and waits for the process; it returns the process's exit error.
func (s *Server) Stop() error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("image-apiserver did not stop within 60s of SIGTERM")
	}
}

// Kill stops the process abruptly (SIGKILL), as a crash or an OOM kill would, and waits until
// it is gone. Start brings it back.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Pid is the running process's id, 0 when it is stopped.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Restart stops and starts the process with the same flags and data directory.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.Stop(); err != nil {
		s.t.Fatalf("stopping image-apiserver: %v", err)
	}
	s.Start()
}

// Log returns what the process printed.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// RESTConfig returns the admin configuration from the written kubeconfig.
func (s *Server) RESTConfig() *rest.Config {
	s.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		s.t.Fatalf("loading kubeconfig: %v", err)
	}
	cfg.QPS, cfg.Burst = 1000, 2000
	return cfg
}

// ContentTypes are the wire encodings every client test runs with.
var ContentTypes = []string{"application/json", "application/vnd.kubernetes.protobuf"}

// ImageClient returns an openshift/client-go image clientset speaking contentType.
func (s *Server) ImageClient(contentType string) imageclient.Interface {
	s.t.Helper()
	cfg := s.RESTConfig()
	cfg.ContentType = contentType
	cfg.AcceptContentTypes = contentType
	c, err := imageclient.NewForConfig(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// startOnFreePorts calls start, which chooses ports with FreePort and starts a process on
// them, until it succeeds. A port found free may be taken by another process before ours binds
// it; only then (the process's log says "address already in use") is start called again, up to
// three times in all. start returns the process's log and why it did not start.
func startOnFreePorts(t testing.TB, what string, start func() (log string, err error)) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		log, err := start()
		if err == nil {
			return
		}
		if attempt == 3 || !strings.Contains(log, "address already in use") {
			t.Fatalf("%s did not start: %v (its log follows)", what, err)
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
