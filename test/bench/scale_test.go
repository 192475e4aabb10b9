package bench

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// The scale harness loads a fresh server, on an etcd process of its own, with registry-shaped
// images pushed through the API as the registry pushes them, and measures what a large
// registry lives with: memory at rest and under a push burst, etcd size, restart time, full
// LISTs, GETs, the layers endpoint and mappings on large streams. `make scale` runs it at
// 100 000 images (BenchmarkScale); TestScaleShort runs it small in `make test` so that it
// keeps working, and asserts only that every step did.

// scaleClients is how many clients push at once, during the load and the burst.
const scaleClients = 32

// tagsPerStream: a registry's repositories carry about ten tags each.
const tagsPerStream = 10

type scaleConfig struct {
	images, streams int
	burst           time.Duration
	serverArgs      []string
	// rssSamples is how many more readings, half a second apart, a memory figure at rest
	// takes the lowest of.
	rssSamples int
}

// BenchmarkScale is `make scale`: SCALE_IMAGES (default 100 000), SCALE_STREAMS (10 000),
// SCALE_BURST (60s) and SCALE_SERVER_ARGS (server flags, space-separated). It runs once
// whatever b.N is.
func BenchmarkScale(b *testing.B) {
	cfg := scaleConfig{images: 100000, streams: 10000, burst: time.Minute, rssSamples: 10, serverArgs: strings.Fields(os.Getenv("SCALE_SERVER_ARGS"))}
	if v, err := strconv.Atoi(os.Getenv("SCALE_IMAGES")); err == nil && v > 0 {
		cfg.images = v
	}
	if v, err := strconv.Atoi(os.Getenv("SCALE_STREAMS")); err == nil && v > 0 {
		cfg.streams = v
	}
	if v, err := time.ParseDuration(os.Getenv("SCALE_BURST")); err == nil && v > 0 {
		cfg.burst = v
	}
	runScale(b, cfg).print(os.Stdout)
}

// TestScaleShort runs every step of the harness on a small load. Timings are not asserted:
// only that no request failed and that every figure was measured.
func TestScaleShort(t *testing.T) {
	r := runScale(t, scaleConfig{images: 500, streams: 50, burst: 2 * time.Second, rssSamples: 2, serverArgs: strings.Fields(os.Getenv("SCALE_SERVER_ARGS"))})
	var out strings.Builder
	r.print(&out)
	t.Log("\n" + out.String())
	for _, f := range r.failures {
		t.Error(f)
	}
	for _, want := range scaleFigures {
		if v, ok := r.values[want]; !ok || v == "" {
			t.Errorf("figure %q was not measured", want)
		}
	}
}

// scaleFigures are the rows of the report, in order.
var scaleFigures = []string{
	"load: streams created", "load: images pushed (mappings)",
	"RSS empty", "RSS at rest", "RSS at rest per image", "heap at rest",
	"etcd dbSize / dbSizeInUse", "image as stored in etcd",
	"LIST images", "LIST streams", "GET image",
	"layers, 100 history items",
	"mapping on a 1 KiB stream", "mapping on a 100 KiB stream", "mapping on a 900 KiB stream",
	"restart: /readyz 200", "restart: index synced", "RSS after restart",
	"burst", "RSS during burst (peak)", "RSS peak per image", "RSS right after burst", "RSS settled after burst", "heap after burst",
	"whole run",
}

type scaleReport struct {
	header   []string
	values   map[string]string
	failures []string
}

func (r *scaleReport) set(figure, format string, args ...any) {
	if !slices.Contains(scaleFigures, figure) {
		panic("unknown figure " + figure)
	}
	r.values[figure] = fmt.Sprintf(format, args...)
}

// failed records a step's failed requests; the benchmark prints them, the test fails on them.
func (r *scaleReport) failed(step string, res result) {
	if res.failed > 0 {
		r.failures = append(r.failures, fmt.Sprintf("%s: %d requests failed, first: %s", step, res.failed, res.errSample))
	}
}

func (r *scaleReport) print(w io.Writer) {
	for _, h := range r.header {
		fmt.Fprintln(w, h)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\t")
	for _, f := range scaleFigures {
		fmt.Fprintf(tw, "%s\t%s\t\n", f, r.values[f])
	}
	tw.Flush()
	for _, f := range r.failures {
		fmt.Fprintln(w, "FAILED:", f)
	}
}

// scaleRun is one harness run: the processes, clients and the images pushed so far.
type scaleRun struct {
	tb     testing.TB
	cfg    scaleConfig
	etcd   *framework.Etcd
	server *framework.Server
	client imageclient.Interface
	cli    *clientv3.Client
	report *scaleReport
	// images counts the images created (one per successful mapping); names holds those of
	// the initial load, for random GETs.
	images atomic.Int64
	names  []string
	seq    atomic.Int64
	// emptyRSS is the fresh server's, before the load.
	emptyRSS int64
}

func runScale(tb testing.TB, cfg scaleConfig) *scaleReport {
	start, startLoad := time.Now(), loadAverage()
	etcd := framework.StartEtcd(tb)
	server := framework.StartServer(tb, framework.Options{EtcdServers: etcd.URL, ExtraArgs: cfg.serverArgs})
	cli, err := etcd.Client()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cli.Close() })
	s := &scaleRun{tb: tb, cfg: cfg, etcd: etcd, server: server, cli: cli, client: newClient(tb, server.RESTConfig()),
		report: &scaleReport{values: map[string]string{}}, names: make([]string, cfg.images)}
	s.report.header = []string{
		fmt.Sprintf("make scale, %s: %d images, %d streams, burst %s, %d clients; %d CPUs (%s), etcd 3.7.3 process (--unsafe-no-fsync)",
			start.Format("2006-01-02"), cfg.images, cfg.streams, cfg.burst, scaleClients, runtime.NumCPU(), cpuModel()),
		"server flags: " + serverFlags(tb, server.Pid()),
		// Other processes take CPU from the three measured: their load is the figures' context.
		"machine load average (1 min) before the run: " + startLoad,
	}
	s.emptyRSS = steadyRSS(tb, server.Pid(), cfg.rssSamples)
	s.report.set("RSS empty", "%s", mib(s.emptyRSS))

	s.load()
	s.atRest()
	s.lists()
	s.gets()
	s.layers()
	s.mappingLatencies()
	s.restart()
	s.burst()
	s.report.set("whole run", "%s", time.Since(start).Round(time.Second))
	return s.report
}

// streamAt is stream k of the load, spread over 100 namespaces as a registry's projects.
func (s *scaleRun) streamAt(k int) (ns, name string) {
	return fmt.Sprintf("project-%02d", k%100), fmt.Sprintf("app-%d", k)
}

// mapping pushes a new registry-shaped image into ns/stream:tag and counts it.
func (s *scaleRun) mapping(ctx context.Context, ns, stream, tag string) (string, error) {
	img := registryImage(ns, stream, int(s.seq.Add(1)))
	_, err := s.client.ImageV1().ImageStreamMappings(ns).Create(ctx, &imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: stream}, Tag: tag, Image: img,
	}, metav1.CreateOptions{})
	if err == nil {
		s.images.Add(1)
	}
	return img.Name, err
}

// load creates the streams, then pushes the images through ImageStreamMappings, image i to
// stream i mod streams, so each stream receives images/streams pushes over tagsPerStream tags.
// Through the API, with the manifest and config in the mapping, the server derives every
// image's metadata and layers as it does for the registry: the honest path.
func (s *scaleRun) load() {
	ctx := context.Background()
	streams := run(scaleClients, s.cfg.streams, func(_, k int) error {
		ns, name := s.streamAt(k)
		_, err := s.client.ImageV1().ImageStreams(ns).Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		return err
	})
	s.report.failed("creating streams", streams)
	s.report.set("load: streams created", "%d in %s: %.0f/s", streams.ok, streams.elapsed.Round(time.Millisecond), streams.rate())
	images := run(scaleClients, s.cfg.images, func(_, i int) error {
		ns, name := s.streamAt(i % s.cfg.streams)
		digest, err := s.mapping(ctx, ns, name, fmt.Sprintf("t%d", i/s.cfg.streams%tagsPerStream))
		s.names[i] = digest
		return err
	})
	s.report.failed("pushing images", images)
	s.report.set("load: images pushed (mappings)", "%d in %s: %.0f/s", images.ok, images.elapsed.Round(time.Millisecond), images.rate())
}

// atRest reads the server's memory once the load's garbage is collected, and etcd's size.
func (s *scaleRun) atRest() {
	rss := steadyRSS(s.tb, s.server.Pid(), s.cfg.rssSamples)
	s.report.set("RSS at rest", "%s", mib(rss))
	s.report.set("RSS at rest per image", "%s", s.perImage(rss))
	s.report.set("heap at rest", "%s", s.heap())
	st, err := s.cli.Status(context.Background(), s.etcd.URL)
	if err != nil {
		s.tb.Fatal(err)
	}
	s.report.set("etcd dbSize / dbSizeInUse", "%s / %s", mib(st.DbSize), mib(st.DbSizeInUse))
	// The stored size of one image, to read the bytes per image against (the first 100).
	resp, err := s.cli.Get(context.Background(), "/registry/image.openshift.io/images/", clientv3.WithPrefix(), clientv3.WithLimit(100))
	if err != nil || len(resp.Kvs) == 0 {
		s.tb.Fatalf("reading images from etcd: %v", err)
	}
	total := 0
	for _, kv := range resp.Kvs {
		total += len(kv.Value)
	}
	s.report.set("image as stored in etcd", "%d B (mean of %d)", total/len(resp.Kvs), len(resp.Kvs))
}

// perImage is the server's growth over its empty size, per image held.
func (s *scaleRun) perImage(rss int64) string {
	n := s.images.Load()
	return fmt.Sprintf("%.0f B (growth over the empty server, %d images)", float64(rss-s.emptyRSS)/float64(n), n)
}

// lists times a full paginated LIST of images and of streams, 500 a page, in JSON.
func (s *scaleRun) lists() {
	ctx := context.Background()
	list := func(figure string, page func(metav1.ListOptions) (metav1.ListInterface, int, error)) {
		start, n, pages := time.Now(), 0, 0
		opts := metav1.ListOptions{Limit: 500}
		for {
			meta, items, err := page(opts)
			if err != nil {
				s.tb.Fatalf("%s: %v", figure, err)
			}
			n, pages = n+items, pages+1
			if opts.Continue = meta.GetContinue(); opts.Continue == "" {
				break
			}
		}
		s.report.set(figure, "%s for %d items (%d pages)", time.Since(start).Round(time.Millisecond), n, pages)
	}
	list("LIST images", func(o metav1.ListOptions) (metav1.ListInterface, int, error) {
		l, err := s.client.ImageV1().Images().List(ctx, o)
		if err != nil {
			return nil, 0, err
		}
		return l, len(l.Items), nil
	})
	list("LIST streams", func(o metav1.ListOptions) (metav1.ListInterface, int, error) {
		l, err := s.client.ImageV1().ImageStreams("").List(ctx, o)
		if err != nil {
			return nil, 0, err
		}
		return l, len(l.Items), nil
	})
}

// gets times GETs of random images of the load, one at a time.
func (s *scaleRun) gets() {
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	p50, p99 := s.latencies("GET image", 300, func(int) error {
		_, err := s.client.ImageV1().Images().Get(ctx, s.names[rnd.IntN(len(s.names))], metav1.GetOptions{})
		return err
	})
	s.report.set("GET image", "p50 %s, p99 %s (300 random names)", p50, p99)
}

// layersStream is the stream with 100 history items the layers and the restart steps read.
const layersNS, layersStream = "scale-layers", "hundred"

// layers times imagestreams/layers on a stream whose 100 history items are 100 images.
func (s *scaleRun) layers() {
	s.growStream(layersNS, layersStream, 100, 0)
	ctx := context.Background()
	// The layers endpoint reads the stream from the watch cache, which follows the last
	// mapping within milliseconds.
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		isl, err := s.client.ImageV1().ImageStreams(layersNS).Layers(ctx, layersStream, metav1.GetOptions{})
		return err == nil && len(isl.Images) == 100, nil
	})
	if err != nil {
		s.tb.Fatalf("the layers of %s/%s never listed its 100 images", layersNS, layersStream)
	}
	p50, p99 := s.latencies("layers", 200, func(int) error {
		_, err := s.client.ImageV1().ImageStreams(layersNS).Layers(ctx, layersStream, metav1.GetOptions{})
		return err
	})
	s.report.set("layers, 100 history items", "p50 %s, p99 %s (200 requests)", p50, p99)
}

// mappingLatencies times mappings one at a time on streams grown to about 1 KiB, 100 KiB and
// 900 KiB (the default --max-imagestream-bytes is 1 MiB): a mapping rewrites the whole stream.
func (s *scaleRun) mappingLatencies() {
	const pushes = 40
	for _, kib := range []int{1, 100, 900} {
		figure := fmt.Sprintf("mapping on a %d KiB stream", kib)
		ns, name := "scale-sized", fmt.Sprintf("s%dk", kib)
		s.growStream(ns, name, 0, kib<<10)
		before := s.storedSize(ns, name)
		ctx := context.Background()
		p50, p99 := s.latencies(figure, pushes, func(int) error {
			_, err := s.mapping(ctx, ns, name, "measured")
			return err
		})
		s.report.set(figure, "p50 %s, p99 %s (%d pushes; stream %.1f → %.1f KiB)", p50, p99, pushes,
			float64(before)/1024, float64(s.storedSize(ns, name))/1024)
	}
}

// growStream creates ns/name and pushes images into it, ten to a tag, concurrently (so the
// server coalesces them): pushes of them, or, with bytes > 0, until the stored stream
// reaches bytes less one push.
func (s *scaleRun) growStream(ns, name string, pushes, bytes int) {
	ctx := context.Background()
	if _, err := s.client.ImageV1().ImageStreams(ns).Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		s.tb.Fatal(err)
	}
	done := 0
	push := func(n int) {
		res := run(min(n, scaleClients), n, func(_, i int) error {
			_, err := s.mapping(ctx, ns, name, fmt.Sprintf("t%d", (done+i)/10))
			return err
		})
		if res.failed > 0 {
			s.tb.Fatalf("growing %s/%s: %s", ns, name, res.errSample)
		}
		done += n
	}
	if bytes == 0 {
		push(pushes)
		return
	}
	// Each push adds one history item; its size is learned from the first pushes.
	empty, perPush := s.storedSize(ns, name), 400
	for size := empty; size+perPush < bytes; size = s.storedSize(ns, name) {
		push(max(1, (bytes-size)/perPush))
		perPush = max(1, (s.storedSize(ns, name)-empty)/done)
	}
}

// storedSize is the size of a stream as stored in etcd, which --max-imagestream-bytes bounds.
func (s *scaleRun) storedSize(ns, name string) int {
	resp, err := s.cli.Get(context.Background(), "/registry/image.openshift.io/imagestreams/"+ns+"/"+name)
	if err != nil || len(resp.Kvs) != 1 {
		s.tb.Fatalf("reading stream %s/%s from etcd: %v", ns, name, err)
	}
	return len(resp.Kvs[0].Value)
}

// restart kills the server and starts it again: the time until /readyz answers 200, and until
// the image index has loaded every image (the layers endpoint answers 200 rather than 504).
func (s *scaleRun) restart() {
	s.server.Kill()
	start := time.Now()
	s.server.Start()
	s.report.set("restart: /readyz 200", "%s", time.Since(start).Round(10*time.Millisecond))
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		// Without client-go's retries, which would wait out the 504's Retry-After (2 s) and
		// so round the time up.
		err := s.client.ImageV1().RESTClient().Get().Namespace(layersNS).Resource("imagestreams").Name(layersStream).
			SubResource("layers").MaxRetries(0).Do(ctx).Error()
		// The first requests may fail on the connection the kill broke, and the loading index
		// answers 504; any other answer from the server is a failure.
		var status apierrors.APIStatus
		if errors.As(err, &status) && status.Status().Code != http.StatusGatewayTimeout {
			return false, err
		}
		return err == nil, nil
	})
	if err != nil {
		s.tb.Fatalf("after the restart the layers endpoint never answered: %v", err)
	}
	s.report.set("restart: index synced", "%s", time.Since(start).Round(10*time.Millisecond))
	s.report.set("RSS after restart", "%s (index synced, lowest of %d readings)", mib(steadyRSS(s.tb, s.server.Pid(), s.cfg.rssSamples)), s.cfg.rssSamples+1)
}

// burst pushes images at full speed for the burst's duration, to the load's streams, while
// the server's RSS is sampled every 100 ms.
func (s *scaleRun) burst() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.burst)
	defer cancel()
	var peak atomic.Int64
	var sampling sync.WaitGroup
	sampling.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			peak.Store(max(peak.Load(), vmRSS(s.tb, s.server.Pid())))
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	var next atomic.Int64
	res := runUntil(ctx, scaleClients, func() error {
		i := int(next.Add(1))
		ns, name := s.streamAt(i % s.cfg.streams)
		// Not the burst's context: the pushes under way when it ends complete.
		_, err := s.mapping(context.Background(), ns, name, fmt.Sprintf("t%d", i/s.cfg.streams%tagsPerStream))
		return err
	})
	after := vmRSS(s.tb, s.server.Pid())
	sampling.Wait()
	peak.Store(max(peak.Load(), after))
	s.report.failed("burst", res)
	s.report.set("burst", "%d mappings in %s: %.0f/s", res.ok, res.elapsed.Round(time.Millisecond), res.rate())
	s.report.set("RSS during burst (peak)", "%s", mib(peak.Load()))
	s.report.set("RSS peak per image", "%s", s.perImage(peak.Load()))
	s.report.set("RSS right after burst", "%s", mib(after))
	s.report.set("RSS settled after burst", "%s (lowest of %d readings)", mib(steadyRSS(s.tb, s.server.Pid(), s.cfg.rssSamples)), s.cfg.rssSamples+1)
	s.report.set("heap after burst", "%s", s.heap())
}

// heap is where the server's memory goes, from its own metrics: the Go heap's live objects at
// the last collection and the goal of the next one, the image index and the stream cache.
func (s *scaleRun) heap() string {
	m := func(name string) int64 { return int64(scrape(s.tb, s.server, name)) }
	return fmt.Sprintf("heap in use %s, next GC at %s; image index %s, stream cache %s",
		mib(m("go_memstats_heap_inuse_bytes")), mib(m("go_memstats_next_gc_bytes")),
		mib(m("openshift_image_apiserver_image_index_bytes")), mib(m("openshift_image_apiserver_imagestream_cache_bytes")))
}

// runUntil is run for a duration: c goroutines call op until ctx ends.
func runUntil(ctx context.Context, c int, op func() error) result {
	var total result
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			var mine result
			for ctx.Err() == nil {
				if err := op(); err != nil {
					mine.failed++
					if mine.errSample == "" {
						mine.errSample = err.Error()
					}
					continue
				}
				mine.ok++
			}
			mu.Lock()
			total = total.plus(mine)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	return total
}

// latencies calls op n times one after the other, so that each measures one request alone,
// and returns the 50th and 99th percentiles.
func (s *scaleRun) latencies(what string, n int, op func(i int) error) (p50, p99 time.Duration) {
	d := make([]time.Duration, n)
	for i := range n {
		start := time.Now()
		if err := op(i); err != nil {
			s.tb.Fatalf("%s: %v", what, err)
		}
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	at := func(p float64) time.Duration { return d[min(n-1, int(p*float64(n)))].Round(10 * time.Microsecond) }
	return at(0.50), at(0.99)
}

// registryImage is image i as the integrated registry sends it in a mapping after a schema2
// push: the manifest and its config, from which the server derives the metadata and the 12
// layers (the first 6 a base stack shared by the images of the same base, of 20), before
// dropping both (manifestBlobStored).
func registryImage(ns, stream string, i int) imagev1.Image {
	// A layer's digest and its uncompressed content's (diff id) differ; the first six are
	// those of the image's base.
	digest := func(kind, l int) string {
		if l < 6 {
			return fmt.Sprintf("sha256:%x%063x", kind, (i%20)*6+l)
		}
		return fmt.Sprintf("sha256:%x%063x", kind, 1<<40+i*12+l)
	}
	var diffIDs, layers []string
	for l := range 12 {
		diffIDs = append(diffIDs, fmt.Sprintf("%q", digest(0xd, l)))
		layers = append(layers, fmt.Sprintf(`{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":%d,"digest":%q}`, 1000000+l*4096, digest(0xa, l)))
	}
	config := fmt.Sprintf(`{"architecture":"amd64","os":"linux","created":"2024-05-06T07:08:09Z",`+
		`"config":{"User":"1001","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","APP_ROOT=/opt/app-root"],`+
		`"Cmd":["/usr/bin/run"],"WorkingDir":"/opt/app-root/src","Labels":{"io.k8s.display-name":"app","vendor":"Example","build":"%d"}},`+
		`"rootfs":{"type":"layers","diff_ids":[%s]}}`, i, strings.Join(diffIDs, ","))
	configDigest := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(config)))
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":%q},"layers":[%s]}`,
		len(config), configDigest, strings.Join(layers, ","))
	name := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(manifest)))
	return imagev1.Image{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{
			"image.openshift.io/manifestBlobStored": "true", "openshift.io/image.managed": "true",
		}},
		DockerImageReference:         "registry.test:5000/" + ns + "/" + stream + "@" + name,
		DockerImageManifest:          manifest,
		DockerImageManifestMediaType: "application/vnd.docker.distribution.manifest.v2+json",
		DockerImageConfig:            config,
	}
}

// serverFlags is the server's command line, read back from /proc so that it is what ran.
func serverFlags(tb testing.TB, pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		tb.Fatal(err)
	}
	args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
	return strings.Join(args[1:], " ")
}

// cpuModel names the machine's processor, for the report's header.
func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}

// loadAverage is the machine's load average over the last minute.
func loadAverage() string {
	data, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
