package registry

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/image-apiserver/image-apiserver/pkg/importer"
	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// Run these with `make bench-import`. They print a table and report the figures as metrics;
// they assert only that every import and every event was recorded.

// benchRounds is how many times each measurement is taken (BENCH_ROUNDS, default 3).
func benchRounds() int {
	n, err := strconv.Atoi(os.Getenv("BENCH_ROUNDS"))
	if err != nil || n < 1 {
		return 3
	}
	return n
}

// quietRegistry keeps the registries of a benchmark from logging every request (at info level
// by default): in this process, beside the load, that would cost CPU a registry of its own
// spends elsewhere.
func quietRegistry(b *testing.B) {
	level := logrus.GetLevel()
	logrus.SetLevel(logrus.WarnLevel)
	b.Cleanup(func() { logrus.SetLevel(level) })
}

// benchClient is an image clientset without client-side throttling, so that the server is
// what is measured.
func benchClient(b testing.TB, s *framework.Server) imageclient.Interface {
	cfg := rest.CopyConfig(s.RESTConfig())
	cfg.QPS, cfg.Burst = -1, 0
	c, err := imageclient.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkImportRepository: an ImageStreamImport of a whole 50-tag repository (spec.repository)
// from a real registry on loopback, every tag a new image: at the default pace of imports per
// registry host (2 requests a second, burst 3, as OpenShift), and unthrottled
// (--import-registry-qps=1000), where the server's own work shows.
func BenchmarkImportRepository(b *testing.B) {
	const tags = 50
	quietRegistry(b)
	reg := startRegistry(b, registryOptions{})
	paced := framework.StartServer(b, framework.Options{})
	fast := framework.StartServer(b, framework.Options{ExtraArgs: []string{"--import-registry-qps=1000", "--import-registry-burst=1000"}})
	repoSeq := 0
	// importOnce pushes a fresh repository (untimed) and times its import.
	importOnce := func(s *framework.Server) time.Duration {
		repoSeq++
		repo := fmt.Sprintf("bench/repo%d", repoSeq)
		for i := range tags {
			reg.push(fmt.Sprintf("%s:v%02d", repo, i))
		}
		isi := &imagev1.ImageStreamImport{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("repo%d", repoSeq)},
			Spec: imagev1.ImageStreamImportSpec{Import: true, Repository: &imagev1.RepositoryImportSpec{
				From:         corev1.ObjectReference{Kind: "DockerImage", Name: reg.host + "/" + repo},
				ImportPolicy: imagev1.TagImportPolicy{Insecure: true},
			}},
		}
		start := time.Now()
		out, err := benchClient(b, s).ImageV1().ImageStreamImports("bench").Create(context.Background(), isi, metav1.CreateOptions{})
		elapsed := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		st := out.Status.Repository
		if st == nil || st.Status.Status != metav1.StatusSuccess || len(st.Images) != tags || out.Status.Import == nil || len(out.Status.Import.Status.Tags) != tags {
			b.Fatalf("the import of %s did not record %d tags: %+v", repo, tags, st)
		}
		return elapsed
	}
	type row struct {
		pace    string
		imports int
		elapsed time.Duration
	}
	rows := []row{{pace: "default (2/s, burst 3)", imports: 1, elapsed: importOnce(paced)}}
	unthrottled := row{pace: "--import-registry-qps=1000"}
	for range benchRounds() {
		unthrottled.imports++
		unthrottled.elapsed += importOnce(fast)
	}
	rows = append(rows, unthrottled)

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\nImageStreamImport of a %d-tag repository from a distribution v3.1.2 registry on loopback (every tag a new image; one etcd transaction per import)\n", tags)
	fmt.Fprintln(w, "pace per registry host\timports\ts/import\timages/s\t")
	for _, r := range rows {
		per := r.elapsed / time.Duration(r.imports)
		fmt.Fprintf(w, "%s\t%d\t%.2f\t%.0f\t\n", r.pace, r.imports, per.Seconds(), float64(tags)/per.Seconds())
	}
	w.Flush()
	b.ReportMetric((rows[0].elapsed / time.Duration(rows[0].imports)).Seconds(), "s/import-default-pace")
	b.ReportMetric((unthrottled.elapsed / time.Duration(unthrottled.imports)).Seconds(), "s/import-unthrottled")
}

// gate forwards a registry's notifications to the server once it is open, and answers 503
// until then, so that events pile up in the registry's queue and their delivery can be timed
// from the moment it opens.
type gate struct {
	open atomic.Bool
	next http.Handler
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.open.Load() {
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	}
	g.next.ServeHTTP(w, r)
}

// notificationEvents is how many pushes BenchmarkNotificationThroughput sends
// (REGISTRY_BENCH_EVENTS, default 300).
func notificationEvents() int {
	n, err := strconv.Atoi(os.Getenv("REGISTRY_BENCH_EVENTS"))
	if err != nil || n < 1 {
		return 300
	}
	return n
}

// BenchmarkNotificationThroughput: pushes to a real registry become mappings through its
// notifications. The registry delivers one event per POST, one at a time; for each the server
// reads the manifest and config back from the registry and commits the mapping. Beside it, in
// the same run on the same server, the rate of the same mappings posted directly
// (ImageStreamMapping, images read from the registry beforehand), one at a time and from 16
// clients.
func BenchmarkNotificationThroughput(b *testing.B) {
	const token = "registry-notification-token"
	const streams = 10
	events := notificationEvents()
	quietRegistry(b)
	tokenFile := filepath.Join(b.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		b.Fatal(err)
	}
	s := framework.StartServer(b, framework.Options{ExtraArgs: []string{
		"--registry-notifications-token-file", tokenFile,
		"--tls-cert-file", servingCert, "--tls-private-key-file", servingKey,
	}})
	target, err := url.Parse(s.URL)
	if err != nil {
		b.Fatal(err)
	}
	g := &gate{next: httputil.NewSingleHostReverseProxy(target)}
	front := httptest.NewServer(g)
	b.Cleanup(front.Close)
	// As documented: blob events (media type application/octet-stream) and pulls ignored, so
	// that the registry sends one event per pushed manifest. Beside it, a registry that also
	// sends its blob events, which the server acknowledges as ignored.
	endpoint := notificationEndpoint(front.URL, token)
	endpoint.Threshold, endpoint.Backoff = 3, 20*time.Millisecond
	withBlobs := *endpoint
	withBlobs.Ignore.MediaTypes = nil
	notifying := startRegistry(b, registryOptions{notify: endpoint})
	notifyingBlobs := startRegistry(b, registryOptions{notify: &withBlobs})
	plain := startRegistry(b, registryOptions{})
	client := benchClient(b, s)
	ctx := context.Background()
	createStreams := func(ns string) {
		for i := range streams {
			if _, err := client.ImageV1().ImageStreams(ns).Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s%d", i)}}, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	recorded := func(ns string) int {
		list, err := client.ImageV1().ImageStreams(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, is := range list.Items {
			for _, st := range is.Status.Tags {
				if len(st.Items) > 0 {
					n++
				}
			}
		}
		return n
	}

	// notify times the delivery of events pushes to reg, queued while the gate was closed.
	notify := func(reg *testRegistry, ns string) time.Duration {
		createStreams(ns)
		g.open.Store(false)
		for i := range events {
			reg.push(fmt.Sprintf("%s/s%d:t%d", ns, i%streams, i/streams))
		}
		// Every event waits in the registry's queue: time their delivery.
		start := time.Now()
		g.open.Store(true)
		// Polled every 10 ms: the measurement's resolution.
		if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Minute, true, func(context.Context) (bool, error) {
			return recorded(ns) == events, nil
		}); err != nil {
			b.Fatalf("only %d of %d events recorded in 10 minutes", recorded(ns), events)
		}
		return time.Since(start)
	}
	var notified, notifiedBlobs time.Duration
	for round := range benchRounds() {
		notified += notify(notifying, fmt.Sprintf("notified%d", round))
		notifiedBlobs += notify(notifyingBlobs, fmt.Sprintf("notified-blobs%d", round))
	}

	// The same mappings posted directly: images read beforehand, as the handler reads them.
	fetcher := importer.New(importer.Options{RegistryQPS: 10000, RegistryBurst: 10000})
	images := func(repo string) []*imagev1.Image {
		out := make([]*imagev1.Image, events)
		for i := range out {
			img, _, err := fetcher.FetchDigest(ctx, plain.host+"/"+repo, digestOf(b, plain.push(fmt.Sprintf("%s:t%d", repo, i))), true, nil)
			if err != nil {
				b.Fatal(err)
			}
			out[i] = img
		}
		return out
	}
	direct := func(ns string, c int) time.Duration {
		createStreams(ns)
		imgs := images(ns + "/direct")
		var next atomic.Int64
		var failed atomic.Value
		var wg sync.WaitGroup
		start := time.Now()
		for range c {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(imgs) {
						return
					}
					_, err := client.ImageV1().ImageStreamMappings(ns).Create(ctx, &imagev1.ImageStreamMapping{
						ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s%d", i%streams)}, Tag: fmt.Sprintf("t%d", i/streams), Image: *imgs[i],
					}, metav1.CreateOptions{})
					if err != nil {
						failed.CompareAndSwap(nil, err)
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
		if n := recorded(ns); n != events {
			b.Fatalf("%d of %d direct mappings recorded", n, events)
		}
		return elapsed
	}
	var direct1, direct16 time.Duration
	for round := range benchRounds() {
		direct1 += direct(fmt.Sprintf("direct1-%d", round), 1)
		direct16 += direct(fmt.Sprintf("direct16-%d", round), 16)
	}

	total := events * benchRounds()
	rate := func(d time.Duration) float64 { return float64(total) / d.Seconds() }
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\nPushes recorded as ImageStreamMappings: %d events in %d streams, %d rounds (distribution v3.1.2 on loopback, embedded etcd)\n", events, streams, benchRounds())
	fmt.Fprintln(w, "path\tmappings/s\tms/mapping\t")
	for _, r := range []struct {
		path string
		d    time.Duration
	}{
		{"registry notifications (one POST at a time, manifest and config read back)", notified},
		{"registry notifications, blob events not ignored (4 POSTs a push)", notifiedBlobs},
		{"direct ImageStreamMapping, 1 client", direct1},
		{"direct ImageStreamMapping, 16 clients", direct16},
	} {
		fmt.Fprintf(w, "%s\t%.0f\t%.2f\t\n", r.path, rate(r.d), 1000/rate(r.d))
	}
	fmt.Fprintf(w, "notifications/direct (1 client)\t%.2f\t\t\n", rate(notified)/rate(direct1))
	w.Flush()
	b.ReportMetric(rate(notified), "notification-events/s")
	b.ReportMetric(rate(notifiedBlobs), "notification-pushes-with-blob-events/s")
	b.ReportMetric(rate(direct1), "direct-c1-mappings/s")
	b.ReportMetric(rate(direct16), "direct-c16-mappings/s")
}
