package faults

import (
	"context"
	"fmt"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// The server's etcd layout: /registry/<group>/<resource>/[<namespace>/]<name>.
const (
	imagesPrefix  = "/registry/image.openshift.io/images/"
	streamsPrefix = "/registry/image.openshift.io/imagestreams/"
)

// invariants are the columns I1–I5.
var invariants = [...]string{
	"I1 every 201 is in its stream's history and its image is stored",
	"I2 no half-applied mapping (an image without its tag event, or a tag event without its image)",
	"I3 no request answered \"not recorded\" was recorded",
	"I4 no 500; every error answer is about the request (400, 404, 413, 422) or a 429/503/504 with Retry-After; no request left unanswered (a stream reset by the live server, or no answer within the request bound)",
	"I5 /readyz 200 within 10 s of the fault's end, and mappings succeed again",
}

// findings counts the violations of each invariant, with a few examples.
type findings struct {
	count    [len(invariants)]int
	examples [len(invariants)][]string
}

const maxExamples = 5

func (f *findings) add(inv int, format string, args ...interface{}) {
	f.count[inv]++
	if len(f.examples[inv]) < maxExamples {
		f.examples[inv] = append(f.examples[inv], fmt.Sprintf(format, args...))
	}
}

// stored is what etcd holds once the servers have stopped.
type stored struct {
	images map[string]bool
	// history holds "stream/tag/image" for every tag event of the namespace's streams.
	history map[string]bool
}

func historyKey(stream, tag, image string) string { return stream + "/" + tag + "/" + image }

var decoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	if err := imagev1.Install(scheme); err != nil {
		panic(err)
	}
	return serializer.NewCodecFactory(scheme).UniversalDeserializer()
}()

// readStored reads the images and the namespace's streams straight from etcd, decoding the
// streams with the API's own codecs (the server stores protobuf or JSON).
func readStored(cli *clientv3.Client, ns string) (*stored, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := &stored{images: map[string]bool{}, history: map[string]bool{}}
	// Images first: a mapping writes its image and its tag event together, so an image read
	// now has its tag event in the streams read after.
	images, err := cli.Get(ctx, imagesPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("reading images from etcd: %w", err)
	}
	for _, kv := range images.Kvs {
		st.images[strings.TrimPrefix(string(kv.Key), imagesPrefix)] = true
	}
	streams, err := cli.Get(ctx, streamsPrefix+ns+"/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("reading image streams from etcd: %w", err)
	}
	for _, kv := range streams.Kvs {
		obj, _, err := decoder.Decode(kv.Value, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decoding %s: %w", kv.Key, err)
		}
		is, ok := obj.(*imagev1.ImageStream)
		if !ok {
			return nil, fmt.Errorf("%s holds a %T", kv.Key, obj)
		}
		for _, tl := range is.Status.Tags {
			for _, ev := range tl.Items {
				st.history[historyKey(is.Name, tl.Tag, ev.Image)] = true
			}
		}
	}
	return st, nil
}

// readServed reads the same through the API, as the registry sees it.
func readServed(c imageclient.Interface, ns string) (*stored, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st := &stored{images: map[string]bool{}, history: map[string]bool{}}
	opts := metav1.ListOptions{Limit: 1000}
	for {
		images, err := c.ImageV1().Images().List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("listing images: %w", err)
		}
		for _, img := range images.Items {
			st.images[img.Name] = true
		}
		if opts.Continue = images.Continue; opts.Continue == "" {
			break
		}
	}
	streams, err := c.ImageV1().ImageStreams(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing image streams: %w", err)
	}
	for _, is := range streams.Items {
		for _, tl := range is.Status.Tags {
			for _, ev := range tl.Items {
				st.history[historyKey(is.Name, tl.Tag, ev.Image)] = true
			}
		}
	}
	return st, nil
}

// differences lists up to n keys that one of a and b holds and the other does not.
func differences(a, b *stored, n int) []string {
	var out []string
	diff := func(what string, x, y map[string]bool, only string) {
		for k := range x {
			if !y[k] && len(out) < n {
				out = append(out, fmt.Sprintf("%s %s only in %s", what, k, only))
			}
		}
	}
	diff("image", a.images, b.images, "etcd")
	diff("image", b.images, a.images, "the API")
	diff("tag event", a.history, b.history, "etcd")
	diff("tag event", b.history, a.history, "the API")
	return out
}

// checkStored checks I1, I2 and I3 of the load's requests against what etcd holds, and I4
// on every raw answer.
// It returns how many requests of unknown outcome were in fact recorded.
func checkStored(requests []*request, st *stored, f *findings) (unknownStored int) {
	byImage := map[string]*request{}
	for _, r := range requests {
		byImage[r.image] = r
		inHistory := st.history[historyKey(r.stream, r.tag, r.image)]
		switch r.outcome() {
		case unknown:
			if inHistory {
				unknownStored++
			}
		case recorded:
			if !inHistory || !st.images[r.image] {
				f.add(0, "request %d (%s/%s, %s) answered 201: tag event stored %t, image stored %t; attempts %s",
					r.n, r.stream, r.tag, r.shape, inHistory, st.images[r.image], r.attemptsString())
			}
		case notRecorded:
			if inHistory || st.images[r.image] {
				f.add(2, "request %d (%s/%s, %s) answered %q but its tag event (%t) or image (%t) is stored; attempts %s",
					r.n, r.stream, r.tag, r.shape, r.err, inHistory, st.images[r.image], r.attemptsString())
			}
		}
		r.mu.Lock()
		for _, a := range r.attempts {
			if !acceptable(a) {
				f.add(3, "request %d (%s/%s, %s): %s", r.n, r.stream, r.tag, r.shape, a)
			}
		}
		r.mu.Unlock()
	}
	for image := range st.images {
		if r := byImage[image]; r != nil && !st.history[historyKey(r.stream, r.tag, image)] {
			f.add(1, "image %s of request %d (%s/%s, outcome %s) is stored without its tag event; attempts %s",
				image, r.n, r.stream, r.tag, r.outcome(), r.attemptsString())
		}
	}
	for key := range st.history {
		parts := strings.SplitN(key, "/", 3)
		if r := byImage[parts[2]]; r != nil && !st.images[r.image] {
			f.add(1, "tag event %s of request %d has no image; attempts %s", key, r.n, r.attemptsString())
		}
	}
	return unknownStored
}

// acceptable is I4 for one raw exchange: a success, a refusal about the request itself, or a
// retryable answer that says when to retry. A lost connection or a cancel by the client is
// no answer and is fine; a stream the server reset instead of answering, or a request left
// unanswered for requestBound, is not.
func acceptable(a attempt) bool {
	switch {
	case a.code == 0:
		return a.label() != "hang" && a.label() != "reset"
	case a.code < 300:
		return true
	case a.code == 400, a.code == 404, a.code == 413, a.code == 422:
		return true
	case a.code == 429, a.code == 503, a.code == 504:
		return a.retryAfter != ""
	}
	return false
}

func (a attempt) String() string {
	if a.code == 0 {
		return fmt.Sprintf("%s (%v)", a.label(), a.err)
	}
	s := fmt.Sprint(a.code)
	if a.retryAfter != "" {
		s += " Retry-After:" + a.retryAfter
	}
	if a.message != "" {
		s += fmt.Sprintf(" %q", truncate(a.message, 160))
	}
	return s
}

func (r *request) attemptsString() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.attempts) == 0 {
		return "[none sent]"
	}
	var parts []string
	for _, a := range r.attempts {
		parts = append(parts, a.String())
	}
	return "[" + strings.Join(parts, " -> ") + "]"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// transportErrorSamples returns up to n distinct transport errors (not client cancels) the
// load's attempts met, with the request they belong to.
func transportErrorSamples(requests []*request, n int) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range requests {
		r.mu.Lock()
		for _, a := range r.attempts {
			if a.code != 0 || a.ctxErr != nil || len(out) >= n || seen[a.label()+a.err.Error()] {
				continue
			}
			seen[a.label()+a.err.Error()] = true
			out = append(out, fmt.Sprintf("request %d (%s/%s, %s): %v", r.n, r.stream, r.tag, r.shape, a.err))
		}
		r.mu.Unlock()
	}
	return out
}
