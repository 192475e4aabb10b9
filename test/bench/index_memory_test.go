package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// BenchmarkServerMemoryWithImages measures the server's resident memory with
// INDEX_BENCH_IMAGES registry-shaped images (default 100 000) in etcd, against the same server
// on an empty etcd: the images are written straight into etcd in the server's storage
// encoding, the server is started on it, and VmRSS is read once its image index holds every
// image. INDEX_BENCH_SERVER_ARGS adds server flags (space-separated), e.g.
// --watch-cache-sizes=imagestreams.image.openshift.io#0 to measure without the streams watch cache.
// It runs once whatever b.N is (`make bench-index`).
func BenchmarkServerMemoryWithImages(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("INDEX_BENCH_IMAGES")); err == nil && v > 0 {
		n = v
	}
	empty := serverMemory(b, 0)
	loaded := serverMemory(b, n)
	b.ReportMetric(float64(loaded.rss-empty.rss)/float64(n), "rss-B/image")
	b.ReportMetric(loaded.indexBytes/float64(n), "index-B/image")
	b.Logf("empty etcd: VmRSS %s; %d images: VmRSS %s (+%s, %.0f B/image), of which the image index estimates %s (%.0f B/image); the rest is the Go heap's headroom and what else the server holds",
		mib(empty.rss), n, mib(loaded.rss), mib(loaded.rss-empty.rss), float64(loaded.rss-empty.rss)/float64(n),
		mib(int64(loaded.indexBytes)), loaded.indexBytes/float64(n))
}

type memorySample struct {
	rss        int64
	indexBytes float64
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// serverMemory fills a fresh etcd with n images, starts a server on it and samples it once its
// index has loaded them.
func serverMemory(b *testing.B, n int) memorySample {
	etcd := framework.StartEtcd(b)
	writeImages(b, etcd, n)
	s := framework.StartServer(b, framework.Options{EtcdServers: etcd.URL, ExtraArgs: strings.Fields(os.Getenv("INDEX_BENCH_SERVER_ARGS"))})
	defer func() { _ = s.Stop() }()
	var indexed float64
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 10*time.Minute, true, func(context.Context) (bool, error) {
		indexed = scrape(b, s, "openshift_image_apiserver_image_index_images")
		return int(indexed) == n, nil
	})
	if err != nil {
		b.Fatalf("the index holds %v of %d images", indexed, n)
	}
	return memorySample{rss: steadyRSS(b, s.Pid(), 10), indexBytes: scrape(b, s, "openshift_image_apiserver_image_index_bytes")}
}

// steadyRSS is a process's resident size once the garbage of a load is returned: the collector
// frees it over the next seconds, so the lowest of samples half a second apart.
func steadyRSS(tb testing.TB, pid, samples int) int64 {
	rss := vmRSS(tb, pid)
	for range samples {
		time.Sleep(500 * time.Millisecond)
		rss = min(rss, vmRSS(tb, pid))
	}
	return rss
}

// writeImages puts n registry-shaped images under the server's images prefix, encoded as the
// server stores them, in transactions of 100.
func writeImages(b *testing.B, etcd *framework.Etcd, n int) {
	client, err := etcd.Client()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = client.Close() }()
	codec, _, err := apiserver.StorageCodec()
	if err != nil {
		b.Fatal(err)
	}
	var ops []clientv3.Op
	flush := func() {
		if _, err := client.Txn(context.Background()).Then(ops...).Commit(); err != nil {
			b.Fatal(err)
		}
		ops = ops[:0]
	}
	for i := 0; i < n; i++ {
		img := benchImage(i)
		data, err := runtime.Encode(codec, img)
		if err != nil {
			b.Fatal(err)
		}
		ops = append(ops, clientv3.OpPut("/registry/image.openshift.io/images/"+img.Name, string(data)))
		if len(ops) == 100 {
			flush()
		}
	}
	if len(ops) > 0 {
		flush()
	}
}

// benchImage is image i as the integrated registry leaves it after a schema2 push: 12 layers,
// the first 6 a base stack shared with the images of the same base (20 bases), metadata with
// the config digest as Id and a typical config, no manifest or config kept.
func benchImage(i int) *imagev1.Image {
	name := fmt.Sprintf("sha256:%064x", 1<<40+i)
	img := &imagev1.Image{
		TypeMeta: metav1.TypeMeta{Kind: "Image", APIVersion: "image.openshift.io/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i)),
			CreationTimestamp: metav1.NewTime(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)),
			Annotations: map[string]string{
				"image.openshift.io/dockerLayersOrder": "ascending", "openshift.io/image.managed": "true",
			}},
		DockerImageReference:         "image-registry.openshift-image-registry.svc:5000/ns/app@" + name,
		DockerImageManifestMediaType: "application/vnd.docker.distribution.manifest.v2+json",
		DockerImageMetadataVersion:   "1.0",
		DockerImageMetadata: runtime.RawExtension{Raw: fmt.Appendf(nil,
			`{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"sha256:%064x","Created":"2024-05-06T07:08:09Z","ContainerConfig":{},`+
				`"Config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","APP_ROOT=/opt/app-root"],"Cmd":["/usr/bin/run"],`+
				`"WorkingDir":"/opt/app-root/src","Labels":{"io.k8s.display-name":"app","vendor":"Example"}},"Architecture":"amd64","Size":123456789}`,
			2<<40+i)},
	}
	base := i % 20
	for l := 0; l < 12; l++ {
		digest := fmt.Sprintf("sha256:%064x", 3<<40+i*12+l)
		if l < 6 {
			digest = fmt.Sprintf("sha256:%064x", 4<<40+base*6+l)
		}
		img.DockerImageLayers = append(img.DockerImageLayers, imagev1.ImageLayer{
			Name: digest, LayerSize: int64(1000 + l), MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
		})
	}
	return img
}

// scrape reads one unlabelled metric from the server's /metrics.
func scrape(b testing.TB, s *framework.Server, metric string) float64 {
	client, err := rest.HTTPClientFor(s.RESTConfig())
	if err != nil {
		b.Fatal(err)
	}
	resp, err := client.Get(s.URL + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("/metrics: %d %v", resp.StatusCode, err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, metric+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// vmRSS reads a process's resident set size from /proc.
func vmRSS(b testing.TB, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
