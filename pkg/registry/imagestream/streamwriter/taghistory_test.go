package streamwriter_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

// longestHistories records, for every stream a transaction writes, the longest tag history it
// holds: every version of the stream etcd ever stores passes through here.
type longestHistories struct {
	mu      sync.Mutex
	longest int
	writes  int
}

func (l *longestHistories) hook(_ int, prepared []txn.PreparedOp) error {
	stream, ok := prepared[0].Obj.(*imagev1.ImageStream)
	if !ok {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	for _, tag := range stream.Status.Tags {
		l.longest = max(l.longest, len(tag.Items))
	}
	return nil
}

// D16: under 64 concurrent pushes to three tags of one stream, no stored version of the stream
// ever holds more than the limit's events for a tag: the oldest are dropped in the very
// transaction that appends. Every push succeeds and every image stays.
func TestTagHistoryLimitInTheSameTransaction(t *testing.T) {
	const limit, pushes = 5, 64
	f := newFixture(t, func(c *streamwriter.Config) { c.MaxTagHistory = limit })
	seen := &longestHistories{}
	f.txn.setHook(seen.hook)
	var wg sync.WaitGroup
	errs := make([]error, pushes)
	for i := range pushes {
		wg.Go(func() {
			errs[i] = f.writer.Write(context.Background(), ns, "app", &tagChange{tag: fmt.Sprintf("t%d", i%3), image: image(1000 + i)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("push %d: %v", i, err)
		}
	}
	if seen.writes == 0 || seen.longest > limit {
		t.Errorf("%d stream writes, the longest history written %d events; want at most %d", seen.writes, seen.longest, limit)
	}
	stream := f.env.Stream(t, ns, "app")
	for _, tag := range []string{"t0", "t1", "t2"} {
		if n := len(f.history("app", tag)); n != limit {
			t.Errorf("tag %s keeps %d events, want %d", tag, n, limit)
		}
	}
	if len(stream.Status.Tags) != 3 {
		t.Errorf("tags %v, want t0, t1, t2", stream.Status.Tags)
	}
	for i := range pushes {
		if !f.env.ImageExists(t, digest(1000+i)) {
			t.Errorf("image %d was deleted or never written: the limit drops events, not images", i)
		}
	}
}

// D16: a stream's annotation overrides the server's limit, 0 meaning none for that stream.
func TestTagHistoryAnnotation(t *testing.T) {
	f := newFixture(t, func(c *streamwriter.Config) { c.MaxTagHistory = 2 })
	for name, annotation := range map[string]string{"three": "3", "unbounded": "0", "unreadable": "many", "plain": ""} {
		stream := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		if annotation != "" {
			stream.Annotations = map[string]string{imagestream.MaxTagHistoryAnnotation: annotation}
		}
		if annotation == "many" {
			// Validation refuses it: written straight to etcd, as a stream stored before the
			// annotation existed could hold it.
			stream.UID, stream.CreationTimestamp = "uid-unreadable", metav1.Now()
			prepared, err := txn.Prepare(context.Background(), 0, []txn.Op{{Resource: f.env.StreamRes, Namespace: ns, Name: name, Obj: stream}})
			if err == nil {
				_, err = f.env.Txn.CommitPrepared(context.Background(), prepared)
			}
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := f.env.Streams.Store.Create(genericapirequest.WithNamespace(context.Background(), ns), stream, nil, &metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 6 {
		for _, name := range []string{"three", "unbounded", "unreadable", "plain"} {
			if err := f.writer.Write(context.Background(), ns, name, &tagChange{tag: "latest", image: image(i)}); err != nil {
				t.Fatalf("push %d to %s: %v", i, name, err)
			}
		}
	}
	for name, want := range map[string]int{"three": 3, "unbounded": 6, "unreadable": 2, "plain": 2} {
		if h := f.history(name, "latest"); len(h) != want || h[0] != digest(5) {
			t.Errorf("stream %s: history %v, want %d events headed by the last push", name, h, want)
		}
	}
}

// D8 and D16: with a history limit, one hot tag never reaches the size limit; many tags still
// do, and the 413 names the largest tags and the remedies.
func TestSizeLimitWithTagHistoryLimit(t *testing.T) {
	f := newFixture(t, func(c *streamwriter.Config) { c.MaxImageStreamBytes, c.MaxTagHistory = 4096, 3 })
	for i := range 100 {
		if err := f.writer.Write(context.Background(), ns, "app", &tagChange{tag: "hot", image: image(i)}); err != nil {
			t.Fatalf("push %d to one tag: %v", i, err)
		}
	}
	var err error
	for i := 0; err == nil && i < 100; i++ {
		err = f.writer.Write(context.Background(), ns, "app", &tagChange{tag: fmt.Sprintf("tag%d", i), image: image(200 + i)})
	}
	if !apierrors.IsRequestEntityTooLargeError(err) {
		t.Fatalf("pushes to 100 tags: %v, want a 413", err)
	}
	for _, part := range []string{"ns/app", "4096-byte limit", "the largest tag histories: hot (3 events", "--max-tag-history", imagestream.MaxTagHistoryAnnotation, "prune"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("413 %q lacks %q", err, part)
		}
	}
}
