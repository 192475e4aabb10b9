//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// stack is etcd, kube-apiserver and image-apiserver, with image-apiserver registered as the
// APIService v1.image.openshift.io. All tests of the package share one.
type stack struct {
	dir      string
	repoRoot string
	home     string // HOME for kubectl: its discovery cache
	pki      *pki
	kubectl  string

	etcd, kubeAPIServer, server *process
	etcdURL                     string
	kubeURL                     string
	serverURL                   string
	serverPort                  int

	// kubeconfigs of kube-apiserver, by user: "admin" (system:masters), "alice" (no RBAC) and
	// "image-apiserver" (the ServiceAccount token image-apiserver runs with).
	kubeconfigs map[string]string
	// serverToken is the token of the ServiceAccount image-system/image-apiserver.
	serverToken string
}

// startStack starts everything and waits until kubectl sees our API through kube-apiserver.
// On error the returned stack (if not nil) holds what was started, for logs and stop.
func startStack(ctx context.Context) (*stack, error) {
	s := &stack{kubeconfigs: map[string]string{}}
	_, file, _, _ := runtime.Caller(0)
	s.repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	var err error
	if s.dir, err = os.MkdirTemp("", "image-apiserver-e2e-"); err != nil {
		return nil, err
	}
	s.home = filepath.Join(s.dir, "home")
	if err := os.Mkdir(s.home, 0o700); err != nil {
		return s, err
	}
	if s.kubectl, err = framework.RealBinary("kubectl"); err != nil {
		return s, err
	}
	if s.pki, err = newPKI(s.dir); err != nil {
		return s, fmt.Errorf("PKI: %w", err)
	}
	steps := []struct {
		name string
		f    func(context.Context) error
	}{
		{"etcd", s.startEtcd},
		{"kube-apiserver", s.startKubeAPIServer},
		{"manifests (namespace, service account, RBAC, roles)", s.applyServerRBAC},
		{"image-apiserver", s.startServer},
		{"APIService", s.registerAPIService},
	}
	for _, st := range steps {
		start := time.Now()
		if err := st.f(ctx); err != nil {
			return s, fmt.Errorf("%s: %w", st.name, err)
		}
		logf("%s ready in %s", st.name, time.Since(start).Round(time.Millisecond))
	}
	return s, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "e2e: "+format+"\n", args...)
}

func (s *stack) startEtcd(ctx context.Context) error {
	bin, err := framework.RealBinary("etcd")
	if err != nil {
		return err
	}
	dataDir := filepath.Join(s.dir, "etcd")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return err
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	s.etcdURL = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	s.etcd, err = startProcess(s.dir, "etcd", bin,
		"--name", "e2e", "--data-dir", dataDir,
		"--listen-client-urls", s.etcdURL, "--advertise-client-urls", s.etcdURL,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "e2e="+peer, "--listen-metrics-urls", "",
		"--log-level", "warn", "--unsafe-no-fsync")
	if err != nil {
		return err
	}
	return waitOK(ctx, s.etcd, &http.Client{Timeout: 2 * time.Second}, s.etcdURL+"/health", 30*time.Second)
}

// startKubeAPIServer runs kube-apiserver with what an aggregated API server needs:
// client certificates from kubeCA, the front-proxy (requestheader) configuration that it
// publishes in kube-system/extension-apiserver-authentication, RBAC, and aggregation over
// loopback (ExternalName Services, --enable-aggregator-routing=false).
func (s *stack) startKubeAPIServer(ctx context.Context) error {
	bin, err := framework.RealBinary("kube-apiserver")
	if err != nil {
		return err
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	s.kubeURL = "https://127.0.0.1:" + strconv.Itoa(ports[0])
	p := s.pki
	s.kubeAPIServer, err = startProcess(s.dir, "kube-apiserver", bin,
		"--etcd-servers="+s.etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(ports[0]),
		"--endpoint-reconciler-type=none",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--cert-dir="+filepath.Join(s.dir, "kube-apiserver-certs"),
		"--tls-cert-file="+p.kubeAPIServer.certFile, "--tls-private-key-file="+p.kubeAPIServer.keyFile,
		"--client-ca-file="+p.kubeCA.certFile, "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p.saPubFile, "--service-account-signing-key-file="+p.saKeyFile,
		"--requestheader-client-ca-file="+p.frontProxyCA.certFile, "--requestheader-allowed-names="+frontProxyClientName,
		"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-uid-headers=X-Remote-Uid", "--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file="+p.frontProxyClient.certFile, "--proxy-client-key-file="+p.frontProxyClient.keyFile,
		"--enable-aggregator-routing=false", "--profiling=false")
	if err != nil {
		return err
	}
	admin := p.admin.tlsCert()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: p.kubeCA.pool(), Certificates: []tls.Certificate{admin},
	}}}
	if err := waitOK(ctx, s.kubeAPIServer, client, s.kubeURL+"/readyz", 90*time.Second); err != nil {
		return err
	}
	for _, u := range []struct {
		name string
		cert *certKey
	}{{"admin", p.admin}, {"alice", p.alice}} {
		path := filepath.Join(s.dir, u.name+".kubeconfig")
		if err := writeKubeconfig(path, s.kubeURL, p.kubeCA.certPEM, &clientcmdapi.AuthInfo{
			ClientCertificateData: u.cert.certPEM, ClientKeyData: u.cert.keyPEM,
		}); err != nil {
			return err
		}
		s.kubeconfigs[u.name] = path
	}
	return nil
}

// applyServerRBAC applies the manifests' Namespace, ServiceAccount, the server's own RBAC and
// the user roles for real, and gets a token for the ServiceAccount: image-apiserver then runs
// with exactly the permissions manifests/ grants it.
func (s *stack) applyServerRBAC(ctx context.Context) error {
	args := []string{"apply"}
	for _, f := range []string{"namespace.yaml", "serviceaccount.yaml", "rbac-apiserver.yaml", "clusterroles.yaml"} {
		args = append(args, "-f", filepath.Join("manifests", "base", f))
	}
	if out, err := s.run(ctx, "admin", "", args...); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	out, err := s.run(ctx, "admin", "", "create", "token", "image-apiserver", "-n", serverNamespace, "--duration=2h")
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	s.serverToken = strings.TrimSpace(out)
	path := filepath.Join(s.dir, "image-apiserver.kubeconfig")
	if err := writeKubeconfig(path, s.kubeURL, s.pki.kubeCA.certPEM, &clientcmdapi.AuthInfo{Token: s.serverToken}); err != nil {
		return err
	}
	s.kubeconfigs["image-apiserver"] = path
	return nil
}

// startServer runs our binary in aggregated mode (no --standalone) against the same etcd as
// kube-apiserver (its keys are under /registry/image.openshift.io/, which kube does not use).
func (s *stack) startServer(ctx context.Context) error {
	bin, err := framework.ServerBinary()
	if err != nil {
		return err
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	s.serverPort = ports[0]
	s.serverURL = "https://127.0.0.1:" + strconv.Itoa(s.serverPort)
	kubeconfig := s.kubeconfigs["image-apiserver"]
	s.server, err = startProcess(s.dir, "image-apiserver", bin,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(s.serverPort),
		"--tls-cert-file="+s.pki.serving.certFile, "--tls-private-key-file="+s.pki.serving.keyFile,
		"--etcd-servers="+s.etcdURL,
		"--kubeconfig="+kubeconfig, "--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		"--data-dir="+filepath.Join(s.dir, "image-apiserver-data"),
		"--registry-hostname=registry.e2e.test:5000",
		"--registry-notifications-client-ca-file="+s.pki.registryCA.certFile,
		framework.LoopbackRegistriesOnly,
		"--v=2")
	if err != nil {
		return err
	}
	// /readyz is one of the paths anonymous requests may use.
	return waitOK(ctx, s.server, s.directClient(nil), s.serverURL+"/readyz", 90*time.Second)
}

// registerAPIService points v1.image.openshift.io at our port through an ExternalName Service
// "localhost", then waits until the APIService is Available and kubectl's discovery and
// OpenAPI (for client-side validation) include the group.
func (s *stack) registerAPIService(ctx context.Context) error {
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
spec:
  type: ExternalName
  externalName: localhost
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1.image.openshift.io
spec:
  group: image.openshift.io
  version: v1
  groupPriorityMinimum: 9900
  versionPriority: 15
  caBundle: %[3]s
  service:
    name: %[1]s
    namespace: %[2]s
    port: %[4]d
`, loopbackServiceName, serverNamespace, base64.StdEncoding.EncodeToString(s.pki.servingCA.certPEM), s.serverPort)
	if out, err := s.run(ctx, "admin", manifest, "apply", "-f", "-"); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	if out, err := s.run(ctx, "admin", "", "wait", "--for=condition=Available", "--timeout=60s", "apiservice/v1.image.openshift.io"); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	// The aggregator's discovery and OpenAPI controllers fetch from us after Available.
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		out, err := s.run(ctx, "admin", "", "api-resources", "--api-group=image.openshift.io", "-o", "name")
		if err != nil || !strings.Contains(out, "imagestreammappings.image.openshift.io") {
			return false, nil
		}
		out, err = s.run(ctx, "admin", "", "get", "--raw", "/openapi/v3")
		return err == nil && strings.Contains(out, `"apis/image.openshift.io/v1"`), nil
	})
}

// run runs kubectl as user (a key of s.kubeconfigs) from the repository root.
func (s *stack) run(ctx context.Context, user, stdin string, args ...string) (string, error) {
	kubeconfig, ok := s.kubeconfigs[user]
	if !ok {
		return "", fmt.Errorf("no kubeconfig for user %q", user)
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.kubectl, append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
	cmd.Dir = s.repoRoot
	cmd.Env = append(os.Environ(), "HOME="+s.home, "KUBECONFIG=")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// directClient returns an HTTPS client for our port that trusts our serving CA and presents
// cert (none when nil), bypassing kube-apiserver.
func (s *stack) directClient(cert *certKey) *http.Client {
	cfg := &tls.Config{RootCAs: s.pki.servingCA.pool()}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.tlsCert()}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// stop stops image-apiserver gracefully (SIGTERM; it must exit 0), then kills kube-apiserver
// and etcd, and removes the directory unless E2E_KEEP_DIR is set.
func (s *stack) stop() error {
	var errs []error
	if s.server != nil {
		if err := s.server.stop(syscall.SIGTERM, 60*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("image-apiserver: %w", err))
		}
	}
	// The rest is throwaway: no need to wait for a graceful shutdown.
	if s.kubeAPIServer != nil {
		_ = s.kubeAPIServer.stop(syscall.SIGKILL, 10*time.Second)
	}
	if s.etcd != nil {
		_ = s.etcd.stop(syscall.SIGKILL, 10*time.Second)
	}
	if os.Getenv("E2E_KEEP_DIR") != "" {
		logf("kept %s", s.dir)
	} else if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
	return errors.Join(errs...)
}

// dumpLogs prints the end of every process log.
func (s *stack) dumpLogs() {
	for _, p := range []*process{s.etcd, s.kubeAPIServer, s.server} {
		if p != nil {
			fmt.Fprintf(os.Stderr, "===== %s log (last 150 lines) =====\n%s\n", p.name, p.tail(150))
		}
	}
}

func writeKubeconfig(path, server string, caPEM []byte, user *clientcmdapi.AuthInfo) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["user"] = user
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "user"}
	cfg.CurrentContext = "e2e"
	return clientcmd.WriteToFile(*cfg, path)
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for len(ports) < n {
		p, err := framework.FreePort()
		if err != nil {
			return nil, err
		}
		dup := false
		for _, q := range ports {
			dup = dup || p == q
		}
		if !dup {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// waitOK polls url until it answers 200, failing early if p exits.
func waitOK(ctx context.Context, p *process, client *http.Client, url string, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("%s exited: %v", p.name, p.exitErr())
		}
		resp, err := client.Get(url)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		defer resp.Body.Close()
		last = resp.Status
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s (last: %s): %w", url, last, err)
	}
	return nil
}

// process is a child process whose output goes to <dir>/<name>.log.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}

	mu      sync.Mutex
	waitErr error
}

func startProcess(dir, name, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// If the test binary dies (panic, timeout), take the children with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// stop sends sig and waits up to grace for the exit, then kills. It returns the exit error of
// a process that stopped by itself within grace (nil for exit status 0).
func (p *process) stop(sig syscall.Signal, grace time.Duration) error {
	if p.exited() {
		return fmt.Errorf("exited before it was stopped: %v", p.exitErr())
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		if sig == syscall.SIGKILL {
			return nil
		}
		return p.exitErr()
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("did not exit within %s of %s", grace, sig)
	}
}

// tail returns the last n lines of the log.
func (p *process) tail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
