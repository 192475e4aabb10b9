package bench

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// The thin front is the least any HTTPS API in front of etcd has to do for a mapping: accept
// client-go's POST over TLS and HTTP/2, decode the JSON body, send the raw two-key transaction
// (group-committed as the server does) and answer with a Status. No authentication,
// validation, admission, watch cache, managed fields or object encoding. Its rate over the raw rate is a ceiling for ours/raw on this machine, measured in
// the same run. It runs as a process of its own (this test binary, re-executed), as the
// server does, so that it has its own runtime and its CPU time can be read apart.

// thinFrontEnv, when set to an etcd URL, makes this test binary serve as the thin front.
const thinFrontEnv = "BENCH_THIN_FRONT_ETCD"

func TestMain(m *testing.M) {
	if endpoint := os.Getenv(thinFrontEnv); endpoint != "" {
		if err := serveThinFront(endpoint, os.Getenv("BENCH_THIN_FRONT_STREAM_BYTES"), os.Getenv("BENCH_THIN_FRONT_IMAGE_BYTES")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// thinFront is a running thin-front process.
type thinFront struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	config *rest.Config
}

func (f *thinFront) Pid() int { return f.cmd.Process.Pid }

// startThinFront starts the thin front against etcdURL, writing values of the given sizes.
func startThinFront(b *testing.B, etcdURL string, streamBytes, imageBytes int) *thinFront {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), thinFrontEnv+"="+etcdURL,
		fmt.Sprintf("BENCH_THIN_FRONT_STREAM_BYTES=%d", streamBytes), fmt.Sprintf("BENCH_THIN_FRONT_IMAGE_BYTES=%d", imageBytes))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// The first line is "<url> <CA in base64 PEM>"; the process ends when its stdin closes.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("thin front did not start: %v", err)
	}
	url, caPEM, _ := strings.Cut(strings.TrimSpace(line), " ")
	f := &thinFront{cmd: cmd, stdin: stdin, config: &rest.Config{Host: url, TLSClientConfig: rest.TLSClientConfig{CAData: []byte(strings.ReplaceAll(caPEM, "|", "\n"))}}}
	b.Cleanup(f.stop)
	return f
}

// stop ends the process and waits for it; it may be called more than once.
func (f *thinFront) stop() {
	_ = f.stdin.Close()
	if f.cmd.ProcessState == nil {
		_ = f.cmd.Wait()
	}
}

func serveThinFront(endpoint, streamBytes, imageBytes string) error {
	var streamSize, imageSize int
	if _, err := fmt.Sscan(streamBytes, &streamSize); err != nil {
		return err
	}
	if _, err := fmt.Sscan(imageBytes, &imageSize); err != nil {
		return err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer cli.Close()
	cert, caPEM, err := selfSignedCert()
	if err != nil {
		return err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		return err
	}
	success, err := json.Marshal(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated})
	if err != nil {
		return err
	}
	commits := newThinCommitter(cli, strings.Repeat("s", streamSize), strings.Repeat("i", imageSize))
	handler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var mapping imagev1.ImageStreamMapping
		if err := json.NewDecoder(req.Body).Decode(&mapping); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := commits.commit(req.Context(), "/thin"+req.URL.Path+"/"+mapping.Name, "/thin/images/"+mapping.Image.Name); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(success)
	})
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("https://%s %s\n", ln.Addr(), strings.ReplaceAll(string(caPEM), "\n", "|"))
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = server.Shutdown(context.Background())
	}()
	if err := server.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// thinCommitter sends the raw two-key transaction of each request. Like the server, it
// group-commits: requests that wait together go in one transaction (at most maxGroup), with
// at most two transactions in flight, since fewer round trips cost etcd less per request.
type thinCommitter struct {
	cli                     *clientv3.Client
	streamValue, imageValue string
	queue                   chan *thinCommit

	mu        sync.Mutex
	revisions map[string]int64 // a stream's last revision, as the server's stream cache
}

type thinCommit struct {
	stream, image string
	done          chan error
}

const maxGroup = 128

func newThinCommitter(cli *clientv3.Client, streamValue, imageValue string) *thinCommitter {
	c := &thinCommitter{cli: cli, streamValue: streamValue, imageValue: imageValue, queue: make(chan *thinCommit, 4096), revisions: map[string]int64{}}
	for range 2 {
		go c.loop()
	}
	return c
}

func (c *thinCommitter) commit(ctx context.Context, stream, image string) error {
	req := &thinCommit{stream: stream, image: image, done: make(chan error, 1)}
	c.queue <- req
	return <-req.done
}

func (c *thinCommitter) loop() {
	for first := range c.queue {
		group := []*thinCommit{first}
	more:
		for len(group) < maxGroup {
			select {
			case req := <-c.queue:
				group = append(group, req)
			default:
				break more
			}
		}
		var cmps []clientv3.Cmp
		var puts []clientv3.Op
		c.mu.Lock()
		for _, req := range group {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(req.stream), "=", c.revisions[req.stream]))
			puts = append(puts, clientv3.OpPut(req.stream, c.streamValue), clientv3.OpPut(req.image, c.imageValue))
		}
		c.mu.Unlock()
		resp, err := c.cli.Txn(context.Background()).If(cmps...).Then(puts...).Commit()
		if err == nil && !resp.Succeeded {
			err = fmt.Errorf("raw transaction lost its guard")
		}
		if err == nil {
			c.mu.Lock()
			for _, req := range group {
				c.revisions[req.stream] = resp.Header.Revision
			}
			c.mu.Unlock()
		}
		for _, req := range group {
			req.done <- err
		}
	}
}

// selfSignedCert makes a serving certificate for 127.0.0.1 that is its own CA.
func selfSignedCert() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "thin-front"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, certPEM, nil
}
