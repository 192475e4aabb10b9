package faults

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// requestBound is the "no hang" bound of one logical request, client-go's retries
	// included; a request still unanswered then is given up and counted as "hang".
	requestBound = 90 * time.Second
	// errorPause is how long a worker waits after a failed request before the next one, as a
	// registry's client would, so that a dead server is not hammered with refused connections.
	errorPause = 100 * time.Millisecond
	// hotStreams and hotCap spread the hot stream's pushes: at most hotCap pushes go to one
	// stream before the load moves to the next, so a stream's history (about 180 bytes per
	// tag event) stays far below the server's 1 MiB limit.
	hotStreams = 16
	hotCap     = 500
	// hotTags is how many tags of the hot stream take turns.
	hotTags = 4
	// cancelShare is the share of requests that carry a cancel point while cancels are on.
	cancelShare = 0.5
	// shortShare is the share of requests sent with ?timeout=1s when short deadlines are on.
	shortShare = 0.5
)

// cancelPoints are where a request may be cancelled by its client (scenario 6).
var cancelPoints = []string{"cancel:before-send", "cancel:connected", "cancel:sent", "cancel:random"}

// load sends registry-shaped mappings from its workers until stopped: even workers each push
// to a stream of their own, odd workers all push to the current hot stream. Every request
// pushes a new image.
type load struct {
	row     string
	ns      string
	workers int
	clients []imageclient.Interface

	// cancels turns client-side cancels on (scenario 6); short sends some requests with
	// ?timeout=1s (scenario 7).
	cancels atomic.Bool
	short   atomic.Bool
	// cancelPlanned counts the requests sent with a cancel point.
	cancelPlanned atomic.Int64
	// inFlight counts the requests sent and not yet answered.
	inFlight atomic.Int64

	seq, hotSeq atomic.Int64
	stopping    atomic.Bool
	wg          sync.WaitGroup

	mu       sync.Mutex
	requests []*request // completed requests
}

func distinctStream(worker int) string { return fmt.Sprintf("w%02d", worker) }
func hotStream(k int64) string         { return fmt.Sprintf("hot%02d", k) }

// streams lists every stream the load can push to; they must exist before it starts.
func (l *load) streams() []string {
	var out []string
	for i := 0; i < l.workers; i += 2 {
		out = append(out, distinctStream(i))
	}
	for k := int64(0); k < hotStreams; k++ {
		out = append(out, hotStream(k))
	}
	return out
}

// start starts the workers.
func (l *load) start() {
	for i := 0; i < l.workers; i++ {
		l.wg.Add(1)
		go l.worker(i)
	}
}

// stop lets every worker finish its request and waits for them.
func (l *load) stop() {
	l.stopping.Store(true)
	l.wg.Wait()
}

func (l *load) worker(i int) {
	defer l.wg.Done()
	rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
	for !l.stopping.Load() {
		r := l.next(i)
		l.send(r, rng)
		l.mu.Lock()
		l.requests = append(l.requests, r)
		l.mu.Unlock()
		if r.err != nil {
			// Pacing, not synchronisation: the next request does not depend on anything
			// happening meanwhile.
			time.Sleep(errorPause)
		}
	}
}

// next makes worker i's next request.
func (l *load) next(i int) *request {
	n := l.seq.Add(1)
	r := &request{n: n, server: (i / 2) % len(l.clients), shape: "default"}
	r.image = fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(fmt.Sprintf("%s/%d", l.row, n))))
	if i%2 == 0 {
		r.stream, r.tag = distinctStream(i), "latest"
	} else {
		k := l.hotSeq.Add(1) - 1
		r.stream, r.tag = hotStream(k/hotCap%hotStreams), fmt.Sprintf("t%d", k%hotTags)
	}
	return r
}

// mapping is what the registry sends after a push: the new image, named by its digest, with
// the pull spec of the stream's repository, tagged in the stream.
func (l *load) mapping(r *request) *imagev1.ImageStreamMapping {
	return &imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Namespace: l.ns, Name: r.stream},
		Tag:        r.tag,
		Image: imagev1.Image{
			ObjectMeta:           metav1.ObjectMeta{Name: r.image, Annotations: map[string]string{"openshift.io/image.managed": "true"}},
			DockerImageReference: "registry.test:5000/" + l.ns + "/" + r.stream + "@" + r.image,
			DockerImageLayers: []imagev1.ImageLayer{{
				Name: fmt.Sprintf("sha256:%064x", r.n), LayerSize: 1234567, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
			}},
		},
	}
}

// send sends r and records its result.
func (l *load) send(r *request, rng *rand.Rand) {
	ctx, cancel := context.WithTimeout(context.Background(), requestBound)
	defer cancel()
	ctx = context.WithValue(ctx, requestKey{}, r)
	if l.cancels.Load() && rng.Float64() < cancelShare {
		l.cancelPlanned.Add(1)
		r.shape = cancelPoints[rng.IntN(len(cancelPoints))]
		switch r.shape {
		case "cancel:before-send":
			cancel()
		case "cancel:connected":
			ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { cancel() }})
		case "cancel:sent":
			ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { cancel() }})
		case "cancel:random":
			// Anywhere from before the request leaves to after the server has committed it.
			timer := time.AfterFunc(time.Duration(rng.Int64N(int64(20*time.Millisecond))), cancel)
			defer timer.Stop()
		}
	} else if l.short.Load() && rng.Float64() < shortShare {
		r.shape = "timeout=1s"
	}
	c := l.clients[r.server].ImageV1()
	l.inFlight.Add(1)
	defer l.inFlight.Add(-1)
	r.start = time.Now()
	if r.shape == "timeout=1s" {
		// CreateOptions has no timeout; the server reads it from the query.
		r.err = c.RESTClient().Post().Namespace(l.ns).Resource("imagestreammappings").
			Param("timeout", "1s").Body(l.mapping(r)).Do(ctx).Error()
	} else {
		_, r.err = c.ImageStreamMappings(l.ns).Create(ctx, l.mapping(r), metav1.CreateOptions{})
	}
	r.end = time.Now()
}

// snapshot returns the requests completed so far.
func (l *load) snapshot() []*request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*request(nil), l.requests...)
}

// completedFrom returns the requests completed after the first from.
func (l *load) completedFrom(from int) []*request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*request(nil), l.requests[from:]...)
}

// waitCreated waits until n 201s through server (-1: any) completed after since, or timeout;
// it returns the first one's time (zero if none) and whether n were reached.
func (l *load) waitCreated(since time.Time, server, n int, timeout time.Duration) (time.Time, bool) {
	var first time.Time
	got, seen := 0, 0
	ok := waitForEvery(func() bool {
		fresh := l.completedFrom(seen)
		seen += len(fresh)
		for _, r := range fresh {
			if r.err == nil && r.end.After(since) && (server < 0 || r.server == server) {
				got++
				if first.IsZero() || r.end.Before(first) {
					first = r.end
				}
			}
		}
		return got >= n
	}, 20*time.Millisecond, timeout)
	return first, ok
}
