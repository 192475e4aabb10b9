// Package bench measures ImageStreamMapping throughput against a raw etcd baseline and a thin
// HTTPS front, both measured in the same run on the same etcd. Run it with `make bench`.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// concurrencies can be narrowed with BENCH_CONCURRENCY=16 (comma-separated) while profiling.
// pushesPerStream is how many mappings each distinct stream receives.
const pushesPerStream = 10

var concurrencies = func() []int {
	v := os.Getenv("BENCH_CONCURRENCY")
	if v == "" {
		return []int{1, 16, 64}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		var c int
		if _, err := fmt.Sscan(f, &c); err == nil && c > 0 {
			out = append(out, c)
		}
	}
	return out
}()

// rounds is how many times ours, raw and the thin front take turns on distinct streams
// (BENCH_ROUNDS, default 3).
var rounds = func() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("BENCH_ROUNDS"), &n); err != nil || n < 1 {
		return 3
	}
	return n
}()

// requestsAt is how many mappings each measurement sends: enough for a stable rate, few
// enough that a hot stream's history stays far below --max-imagestream-bytes.
func requestsAt(c int) int {
	if c == 1 {
		return 600
	}
	return 2400
}

type result struct {
	ok, failed int64
	elapsed    time.Duration
	cpu        cpuTimes
	errSample  string
}

func (r result) rate() float64 { return float64(r.ok) / r.elapsed.Seconds() }

// plus adds another round of the same measurement.
func (r result) plus(o result) result {
	r.ok += o.ok
	r.failed += o.failed
	r.elapsed += o.elapsed
	r.cpu = r.cpu.plus(o.cpu)
	if r.errSample == "" {
		r.errSample = o.errSample
	}
	return r
}

// meter, when set, charges each run with the CPU time the processes used during it.
var meter *cpuMeter

// run calls op total times from c goroutines and measures the rate of successes.
func run(c, total int, op func(worker, i int) error) result {
	var next, ok, failed atomic.Int64
	var sample atomic.Value
	var wg sync.WaitGroup
	cpuBefore := meter.read()
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				if err := op(w, i); err != nil {
					failed.Add(1)
					sample.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		}(w)
	}
	wg.Wait()
	r := result{ok: ok.Load(), failed: failed.Load(), elapsed: time.Since(start), cpu: meter.read().minus(cpuBefore)}
	if s, _ := sample.Load().(string); s != "" {
		r.errSample = s
	}
	return r
}

var imageSeq atomic.Int64

func nextImage(ns string) imagev1.Image {
	n := imageSeq.Add(1)
	digest := fmt.Sprintf("sha256:%064x", n)
	return imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: digest, Annotations: map[string]string{"openshift.io/image.managed": "true"}},
		DockerImageReference: "registry.test:5000/" + ns + "/app@" + digest,
		DockerImageLayers:    []imagev1.ImageLayer{{Name: fmt.Sprintf("sha256:%064x", n+1<<40), LayerSize: 1234567, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"}},
	}
}

// BenchmarkMappingThroughput prints mapping creates per second beside raw two-key etcd
// transactions of the same value sizes, and the ratio ours/raw.
func BenchmarkMappingThroughput(b *testing.B) {
	etcd := framework.StartEtcd(b)
	// BENCH_SERVER_ARGS adds server flags, to compare settings (e.g. --watch-cache-sizes).
	server := framework.StartServer(b, framework.Options{EtcdServers: etcd.URL, ExtraArgs: strings.Fields(os.Getenv("BENCH_SERVER_ARGS"))})
	if out := os.Getenv("BENCH_CPU_PROFILE"); out != "" {
		stop := profileServer(b, server, "/debug/pprof/profile?seconds=20", out)
		defer stop()
	}
	if out := os.Getenv("BENCH_ALLOC_PROFILE"); out != "" {
		stop := profileServer(b, server, "/debug/pprof/allocs?seconds=20", out)
		defer stop()
	}
	meter = &cpuMeter{serverPid: server.Pid, etcdPid: etcd.Pid}
	defer func() { meter = nil }()
	cfg := server.RESTConfig()
	client := newClient(b, cfg)
	ctx := context.Background()
	mapping := func(client imageclient.Interface, ns, stream, tag string) error {
		img := nextImage(ns)
		_, err := client.ImageV1().ImageStreamMappings(ns).Create(ctx, &imagev1.ImageStreamMapping{
			ObjectMeta: metav1.ObjectMeta{Name: stream}, Tag: tag, Image: img,
		}, metav1.CreateOptions{})
		return err
	}
	createStreamWith := func(client imageclient.Interface, ns, name string) {
		if _, err := client.ImageV1().ImageStreams(ns).Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	createStream := func(ns, name string) { createStreamWith(client, ns, name) }
	// BENCH_COMPARE_ARGS (flags added) or BENCH_COMPARE_BIN (another build of the server)
	// starts a second server, on its own etcd prefix of the same etcd, which takes its turn
	// last in every round of distinct streams: settings or builds compared within one run,
	// where the machine's drift cannot tell them apart across runs.
	var compare *framework.Server
	var compareClient imageclient.Interface
	if args, bin := os.Getenv("BENCH_COMPARE_ARGS"), os.Getenv("BENCH_COMPARE_BIN"); args != "" || bin != "" {
		extra := append(strings.Fields(os.Getenv("BENCH_SERVER_ARGS")), strings.Fields(args)...)
		compare = framework.StartServer(b, framework.Options{EtcdServers: etcd.URL, Binary: bin, ExtraArgs: append(extra, "--etcd-prefix=/compare")})
		compareClient = newClient(b, compare.RESTConfig())
	}

	cli, err := etcd.Client()
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()

	type row struct {
		scenario string
		c        int
		ours     result
	}
	var rows []row
	raw, thin, streamSizes := map[int]result{}, map[int]result{}, map[int]int{}
	imageSize := 0
	for _, c := range concurrencies {
		// Distinct streams: no two workers share a stream, and every stream receives about
		// pushesPerStream mappings, as repositories of a registry do. Stream sizes are then
		// alike at every concurrency, and so comparable with the raw baseline.
		perWorker := max(1, requestsAt(c)/c/pushesPerStream)
		distinctLoad := func(client imageclient.Interface, ns string) result {
			return run(c, requestsAt(c), func(w, i int) error {
				return mapping(client, ns, fmt.Sprintf("s%d-%d", w, (i/c)%perWorker), fmt.Sprintf("t%d", i%8))
			})
		}
		distinctOn := func(client imageclient.Interface, ns string) result {
			for w := 0; w < c; w++ {
				for k := 0; k < perWorker; k++ {
					createStreamWith(client, ns, fmt.Sprintf("s%d-%d", w, k))
				}
			}
			return distinctLoad(client, ns)
		}
		distinct := func(round int) result { return distinctOn(client, fmt.Sprintf("distinct-%d-%d", c, round)) }
		compareRound := func(round int) result {
			meter.serverPid = compare.Pid
			defer func() { meter.serverPid = server.Pid }()
			return distinctOn(compareClient, fmt.Sprintf("compare-%d-%d", c, round))
		}
		// This machine's speed drifts within seconds, so ours, raw and the thin front take
		// turns, for several rounds, and each is the sum of its rounds.
		ours := distinct(1)
		// A stream grows by one event per mapping; its mean stored size over a round is about
		// half the mean size of the distinct streams at its end.
		streamSizes[c] = meanValueSize(b, cli, fmt.Sprintf("/registry/image.openshift.io/imagestreams/distinct-%d-1/", c)) / 2
		imageSize = meanValueSize(b, cli, "/registry/image.openshift.io/images/")
		front := startThinFront(b, etcd.URL, streamSizes[c], imageSize)
		frontClient := newClient(b, front.config)
		thinRound := func(round int) result {
			meter.serverPid = front.Pid
			defer func() { meter.serverPid = server.Pid }()
			return distinctLoad(frontClient, fmt.Sprintf("thin-%d-%d", c, round))
		}
		raw[c] = rawTxn(ctx, cli, "/bench/1", c, requestsAt(c), streamSizes[c], imageSize)
		thin[c] = thinRound(1)
		var compared result
		if compare != nil {
			compared = compareRound(1)
		}
		for round := 2; round <= rounds; round++ {
			ours = ours.plus(distinct(round))
			raw[c] = raw[c].plus(rawTxn(ctx, cli, fmt.Sprintf("/bench/%d", round), c, requestsAt(c), streamSizes[c], imageSize))
			thin[c] = thin[c].plus(thinRound(round))
			if compare != nil {
				compared = compared.plus(compareRound(round))
			}
		}
		front.stop()
		rows = append(rows, row{"distinct streams", c, ours})
		if compare != nil {
			rows = append(rows, row{"distinct streams, compared", c, compared})
		}

		// One hot stream: every worker pushes to the same stream.
		hot := fmt.Sprintf("hot-%d", c)
		createStream(hot, "hot")
		rows = append(rows, row{"one hot stream", c, run(c, requestsAt(c), func(w, i int) error { return mapping(client, hot, "hot", fmt.Sprintf("t%d", i%8)) })})
	}

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\nImageStreamMapping creates/s vs raw etcd two-key transactions and a thin HTTPS front (etcd 3.7.3 process, --unsafe-no-fsync; image value %d B)\n", imageSize)
	fmt.Fprintln(w, "scenario\tconcurrency\trequests\tfailed\tmappings/s\tstream B\traw txn/s\tours/raw\tthin front/s\tthin/raw\tours/thin\thot/distinct\tCPU ms/op server/etcd/client\traw CPU ms/op\tthin CPU ms/op\t")
	distinct := map[int]float64{}
	for _, r := range rows {
		hotRatio := ""
		if strings.HasPrefix(r.scenario, "distinct streams") {
			if r.scenario == "distinct streams" {
				distinct[r.c] = r.ours.rate()
			}
		} else {
			hotRatio = fmt.Sprintf("%.2f", r.ours.rate()/distinct[r.c])
		}
		// The thin front serves distinct streams only; its columns belong to those rows.
		thinRate, thinRatio, oursThin, thinCPU, thinErr := "", "", "", "", ""
		if strings.HasPrefix(r.scenario, "distinct streams") {
			thinRate, thinRatio, thinCPU = fmt.Sprintf("%.0f", thin[r.c].rate()), fmt.Sprintf("%.2f", thin[r.c].rate()/raw[r.c].rate()), thin[r.c].cpu.perOp(thin[r.c].ok)
			oursThin = fmt.Sprintf("%.2f", r.ours.rate()/thin[r.c].rate())
			thinErr = thin[r.c].errSample
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%.0f\t%d\t%.0f\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.scenario, r.c, r.ours.ok+r.ours.failed, r.ours.failed,
			r.ours.rate(), streamSizes[r.c], raw[r.c].rate(), r.ours.rate()/raw[r.c].rate(),
			thinRate, thinRatio, oursThin, hotRatio, r.ours.cpu.perOp(r.ours.ok), raw[r.c].cpu.perOp(raw[r.c].ok), thinCPU)
		if thinErr != "" {
			fmt.Fprintf(w, "  thin front error: %s\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n", strings.TrimSpace(thinErr))
		}
		if r.ours.errSample != "" {
			fmt.Fprintf(w, "  first error: %s\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n", strings.TrimSpace(r.ours.errSample))
		}
	}
	w.Flush()
	if os.Getenv("BENCH_SERVER_METRICS") != "" {
		dumpLatencyMetrics(b, server)
	}
	for _, r := range rows {
		b.ReportMetric(r.ours.rate(), fmt.Sprintf("%s-c%d-mappings/s", strings.ReplaceAll(r.scenario, " ", "-"), r.c))
	}
}

// newClient is an openshift/client-go clientset without client-side throttling, so that the
// server is what is measured.
func newClient(b testing.TB, cfg *rest.Config) imageclient.Interface {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	if ct := os.Getenv("BENCH_CONTENT_TYPE"); ct != "" {
		cfg.ContentType = ct // e.g. application/vnd.kubernetes.protobuf
	}
	client, err := imageclient.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return client
}

// meanValueSize is the mean size of the values stored under prefix.
func meanValueSize(b *testing.B, cli *clientv3.Client, prefix string) int {
	resp, err := cli.Get(context.Background(), prefix, clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) == 0 {
		b.Fatalf("reading %s: %v", prefix, err)
	}
	total := 0
	for _, kv := range resp.Kvs {
		total += len(kv.Value)
	}
	return total / len(resp.Kvs)
}

// rawTxn issues `if ModRevision(stream)==rev then put(stream), put(new image)` like a mapping's
// commit, each worker on its own stream key.
func rawTxn(ctx context.Context, cli *clientv3.Client, prefix string, c, total, streamSize, imageSize int) result {
	streamValue, imageValue := strings.Repeat("s", streamSize), strings.Repeat("i", imageSize)
	revs := make([]int64, c)
	var seq atomic.Int64
	return run(c, total, func(w, i int) error {
		key := fmt.Sprintf("%s/raw-%d/stream-%d", prefix, c, w)
		resp, err := cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", revs[w])).
			Then(clientv3.OpPut(key, streamValue), clientv3.OpPut(fmt.Sprintf("%s/raw-%d/image-%d", prefix, c, seq.Add(1)), imageValue)).
			Commit()
		if err != nil {
			return err
		}
		if !resp.Succeeded {
			return fmt.Errorf("raw transaction lost its guard")
		}
		revs[w] = resp.Header.Revision
		return nil
	})
}

// profileServer collects a 20 s profile of the server while the benchmark runs: its CPU for
// BENCH_CPU_PROFILE=file, its allocations for BENCH_ALLOC_PROFILE=file (read them with go tool
// pprof).
func profileServer(b *testing.B, s *framework.Server, path, out string) func() {
	cfg := s.RESTConfig()
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := httpClient.Get(s.URL + path)
		if err != nil {
			b.Log(err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(out)
		if err != nil {
			b.Log(err)
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
	}()
	return func() { <-done }
}

// dumpLatencyMetrics prints the server's request and etcd latency sums, for BENCH_SERVER_METRICS=1.
func dumpLatencyMetrics(b *testing.B, s *framework.Server) {
	httpClient, err := rest.HTTPClientFor(s.RESTConfig())
	if err != nil {
		b.Fatal(err)
	}
	resp, err := httpClient.Get(s.URL + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(data), "\n") {
		if (strings.HasPrefix(line, "apiserver_request_duration_seconds_sum") && strings.Contains(line, "imagestreammappings")) ||
			(strings.HasPrefix(line, "apiserver_request_duration_seconds_count") && strings.Contains(line, "imagestreammappings")) ||
			strings.HasPrefix(line, "etcd_request_duration_seconds_sum") || strings.HasPrefix(line, "etcd_request_duration_seconds_count") ||
			(strings.HasPrefix(line, "openshift_image_apiserver") && !strings.Contains(line, "bucket")) {
			fmt.Println(line)
		}
	}
}
