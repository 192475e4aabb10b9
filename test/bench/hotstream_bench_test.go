package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// BenchmarkHotStream pushes mappings of distinct images into a few tags of ONE stream from
// HOTSTREAM_CLIENTS concurrent clients (default 64) for HOTSTREAM_DURATION (default 60s), on a
// server with the default --max-imagestream-bytes, twice: with --max-tag-history
// HOTSTREAM_MAX_TAG_HISTORY (default 50), where the target is zero failed requests, and without
// it, where the stream reaches the size limit and every later push gets D8's 413. It prints
// requests, failures by code, the rate, the stream's final size and its history lengths, and
// when the first 413 came. Each run has its own etcd process. It runs once whatever b.N is
// (`make bench-hotstream`; HOTSTREAM_DURATION=5s for a smoke run).
func BenchmarkHotStream(b *testing.B) {
	duration := envDuration(b, "HOTSTREAM_DURATION", 60*time.Second)
	clients := envInt(b, "HOTSTREAM_CLIENTS", 64)
	limit := envInt(b, "HOTSTREAM_MAX_TAG_HISTORY", 50)
	const tags = 4

	limited := hotStream(b, duration, clients, tags, []string{"--max-tag-history=" + strconv.Itoa(limit)})
	unlimited := hotStream(b, duration, clients, tags, nil)

	fmt.Printf("\nOne hot stream: %d clients pushing mappings of distinct images into %d tags for %s (default --max-imagestream-bytes, etcd 3.7.3 process)\n", clients, tags, duration)
	limited.print(fmt.Sprintf("--max-tag-history=%d", limit))
	unlimited.print("no history limit")
	if limited.failed() > 0 {
		b.Errorf("with --max-tag-history=%d, %d requests failed (%v); want none", limit, limited.failed(), limited.codes)
	}
	b.ReportMetric(limited.rate(), "limited-mappings/s")
	b.ReportMetric(float64(limited.failed()), "limited-failed")
	b.ReportMetric(unlimited.rate(), "unlimited-mappings/s")
	if unlimited.first413 > 0 {
		b.ReportMetric(unlimited.first413.Seconds(), "unlimited-first-413-s")
	}
}

// hotStreamResult is what one run measured.
type hotStreamResult struct {
	requests int64
	// codes counts the answers by HTTP status (201 for a success; 0: no answer).
	codes    map[int]int64
	elapsed  time.Duration
	first413 time.Duration
	// okBefore413 is how many pushes had succeeded when the first 413 came.
	okBefore413 int64
	errSample   string
	// streamBytes is the stream's size as the size limit counts it; history its tags' lengths.
	streamBytes   int
	history       map[string]int
	bytesPerEvent float64
}

func (r hotStreamResult) failed() int64 { return r.requests - r.codes[http.StatusCreated] }

func (r hotStreamResult) rate() float64 {
	return float64(r.codes[http.StatusCreated]) / r.elapsed.Seconds()
}

func (r hotStreamResult) print(title string) {
	var codes []string
	for _, code := range slices.Sorted(maps.Keys(r.codes)) {
		codes = append(codes, fmt.Sprintf("%d: %d", code, r.codes[code]))
	}
	var history []string
	for _, tag := range slices.Sorted(maps.Keys(r.history)) {
		history = append(history, fmt.Sprintf("%s %d", tag, r.history[tag]))
	}
	fmt.Printf("  %s: %d requests in %.1fs, %d failed (answers %s), %.0f mappings/s succeeded\n",
		title, r.requests, r.elapsed.Seconds(), r.failed(), strings.Join(codes, ", "), r.rate())
	fmt.Printf("    final stream: %d bytes, history %s events, %.0f bytes per event\n", r.streamBytes, strings.Join(history, ", "), r.bytesPerEvent)
	if r.first413 > 0 {
		fmt.Printf("    first 413 after %.1fs, %d successful pushes (%.0f/s until then), %d after it\n",
			r.first413.Seconds(), r.okBefore413, float64(r.okBefore413)/r.first413.Seconds(), r.codes[http.StatusCreated]-r.okBefore413)
	}
	if r.errSample != "" {
		fmt.Printf("    first error: %s\n", r.errSample)
	}
}

// hotStream runs one server with args on a fresh etcd and pushes into one stream for duration.
func hotStream(b *testing.B, duration time.Duration, clients, tags int, args []string) hotStreamResult {
	etcd := framework.StartEtcd(b)
	server := framework.StartServer(b, framework.Options{EtcdServers: etcd.URL, ExtraArgs: args})
	defer func() { _ = server.Stop(); etcd.Kill() }()
	client := newClient(b, server.RESTConfig())
	ctx := context.Background()
	const ns, name = "hot", "app"
	if _, err := client.ImageV1().ImageStreams(ns).Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}

	var (
		mu       sync.Mutex
		res      = hotStreamResult{codes: map[int]int64{}}
		ok, seq  atomic.Int64
		wg       sync.WaitGroup
		start    = time.Now()
		deadline = start.Add(duration)
	)
	for range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				n := seq.Add(1)
				_, err := client.ImageV1().ImageStreamMappings(ns).Create(ctx, &imagev1.ImageStreamMapping{
					ObjectMeta: metav1.ObjectMeta{Name: name}, Tag: fmt.Sprintf("t%d", n%int64(tags)), Image: nextImage(ns),
				}, metav1.CreateOptions{})
				code := http.StatusCreated
				if err == nil {
					ok.Add(1)
				} else {
					code = 0
					var status apierrors.APIStatus
					if errors.As(err, &status) {
						code = int(status.Status().Code)
					}
				}
				mu.Lock()
				res.requests++
				res.codes[code]++
				if err != nil && res.errSample == "" {
					res.errSample = err.Error()
				}
				if code == http.StatusRequestEntityTooLarge && res.first413 == 0 {
					res.first413, res.okBefore413 = time.Since(start), ok.Load()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)

	stream, err := client.ImageV1().ImageStreams(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	res.streamBytes = stream.Size()
	res.history = map[string]int{}
	historyBytes, events := 0, 0
	for _, tag := range stream.Status.Tags {
		res.history[tag.Tag] = len(tag.Items)
		historyBytes += tag.Size()
		events += len(tag.Items)
	}
	if events > 0 {
		res.bytesPerEvent = float64(historyBytes) / float64(events)
	}
	return res
}

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration such as 60s", name, v)
	}
	return d
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
