// Package imageimport imports images by itself, as OpenShift's controller manager does (D17):
// a spec tag `from: DockerImage` that is new, or whose generation moved past what its status
// records, is imported; a stream with spec.dockerImageRepository that was never imported into
// gets the whole repository imported; tags with importPolicy.scheduled are imported again
// every interval, at most a given number a minute, spread over the interval.
//
// The rules are OpenShift's, so that its controller and this one agree on what needs an
// import: a tag needs one when its spec generation is greater than the generation its status
// last recorded, an event's or an ImportSuccess condition's; a repository needs one until the
// stream carries the openshift.io/image.dockerRepositoryCheck annotation, which every import
// sets.
package imageimport

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
	"github.com/image-apiserver/image-apiserver/pkg/storage/listwatch"
)

// Importer imports into stream, at its current version, what spec asks for, as OpenShift's
// controllers post an ImageStreamImport for it.
type Importer interface {
	ImportStream(ctx context.Context, stream *imagev1.ImageStream, spec imagev1.ImageStreamImportSpec) (*imagev1.ImageStreamImport, error)
}

// StreamReader reads a stream as stored now; nil when it does not exist.
type StreamReader func(ctx context.Context, namespace, name string) (*imagev1.ImageStream, error)

// Options configure the controller.
type Options struct {
	// Interval between two imports of a scheduled tag (default 15 minutes).
	Interval time.Duration
	// PerMinute bounds scheduled imports (default 60).
	PerMinute int
	// Workers import in parallel (default 2).
	Workers int
}

// Controller decides which streams need an import and runs them.
type Controller struct {
	opts     Options
	importer Importer
	read     StreamReader
	queue    workqueue.TypedRateLimitingInterface[string]
	limiter  *rate.Limiter

	// leading says this replica imports; with several replicas one leads at a time (a Lease).
	leading atomic.Bool

	mu sync.Mutex
	// scheduled holds the streams with scheduled tags; due, those whose turn has come.
	scheduled map[string]bool
	due       map[string]bool
}

// New returns a controller; Observe feeds it, Run runs it.
func New(importer Importer, read StreamReader, opts Options) *Controller {
	if opts.Interval <= 0 {
		opts.Interval = 15 * time.Minute
	}
	if opts.PerMinute <= 0 {
		opts.PerMinute = 60
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	return &Controller{
		opts: opts, importer: importer, read: read,
		queue:     workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](), workqueue.TypedRateLimitingQueueConfig[string]{Name: "image-import"}),
		limiter:   rate.NewLimiter(rate.Limit(float64(opts.PerMinute)/60), 1),
		scheduled: map[string]bool{}, due: map[string]bool{},
	}
}

func key(namespace, name string) string { return namespace + "/" + name }

// Observe looks at a stream as it changed: it is queued when a tag needs an import, and
// remembered when it has scheduled tags.
func (c *Controller) Observe(stream *imagev1.ImageStream) {
	k := key(stream.Namespace, stream.Name)
	c.mu.Lock()
	if needsScheduling(stream) {
		c.scheduled[k] = true
	} else {
		delete(c.scheduled, k)
	}
	c.mu.Unlock()
	if ImportSpec(stream) != nil {
		c.queue.Add(k)
	}
}

// SetLeading starts or stops this replica's imports. Streams observed while not leading are
// dropped: when this replica comes to lead, Resync looks at every stream again.
func (c *Controller) SetLeading(leading bool) { c.leading.Store(leading) }

// Resync observes every stream of source again, as a replica that comes to lead must.
func (c *Controller) Resync(ctx context.Context, source listwatch.Source) error {
	return listwatch.ListAll(ctx, source, listwatch.DefaultPageSize, func(obj runtime.Object) {
		if stream, ok := obj.(*imagev1.ImageStream); ok {
			c.Observe(stream)
		}
	})
}

// Forget drops a deleted stream.
func (c *Controller) Forget(namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.scheduled, key(namespace, name))
	delete(c.due, key(namespace, name))
}

// ImportSpec is the import stream needs now, nil when it needs none. As OpenShift's
// controller decides:
//
//   - a stream with spec.dockerImageRepository that was never imported into (it lacks the
//     openshift.io/image.dockerRepositoryCheck annotation, which every import sets) imports the
//     whole repository, and every importable spec tag with it (the spec tags win where both
//     name a tag); the stream's openshift.io/image.insecureRepository annotation makes the
//     repository import insecure;
//   - otherwise the importable spec tags whose generation is newer than what their status
//     records are imported (and, without the annotation, those that never had a generation).
//
// A spec tag is importable when it comes from a DockerImage and is not a mere reference.
func ImportSpec(stream *imagev1.ImageStream) *imagev1.ImageStreamImportSpec {
	needed, partial := needsImport(stream)
	if !needed {
		return nil
	}
	spec := &imagev1.ImageStreamImportSpec{Import: true}
	for _, tag := range stream.Spec.Tags {
		if importable(tag) && (!partial || tagNeedsImport(stream, tag, true)) {
			spec.Images = append(spec.Images, imagev1.ImageImportSpec{
				From:            corev1.ObjectReference{Kind: "DockerImage", Name: tag.From.Name},
				To:              &corev1.LocalObjectReference{Name: tag.Name},
				ImportPolicy:    tag.ImportPolicy,
				ReferencePolicy: tag.ReferencePolicy,
			})
		}
	}
	if repo := stream.Spec.DockerImageRepository; !partial && repo != "" {
		spec.Repository = &imagev1.RepositoryImportSpec{
			From:         corev1.ObjectReference{Kind: "DockerImage", Name: repo},
			ImportPolicy: imagev1.TagImportPolicy{Insecure: stream.Annotations[imagev1.InsecureRepositoryAnnotation] == "true"},
		}
	}
	if spec.Repository == nil && len(spec.Images) == 0 {
		return nil
	}
	return spec
}

// needsImport reports whether stream needs an import, and whether a partial one (its changed
// tags only) or the whole repository with every tag.
func needsImport(stream *imagev1.ImageStream) (needed, partial bool) {
	if stream.Annotations[imagev1.DockerImageRepositoryCheckAnnotation] == "" {
		if stream.Spec.DockerImageRepository != "" {
			return true, false
		}
		for _, tag := range stream.Spec.Tags {
			if importable(tag) {
				return true, true
			}
		}
	}
	for _, tag := range stream.Spec.Tags {
		if tagNeedsImport(stream, tag, false) {
			return true, true
		}
	}
	return false, false
}

func importable(tag imagev1.TagReference) bool {
	return tag.From != nil && tag.From.Kind == "DockerImage" && !tag.Reference
}

// tagNeedsImport reports whether an importable tag's spec generation is newer than what its
// status records; a tag without a generation needs one when withoutGeneration says so.
func tagNeedsImport(stream *imagev1.ImageStream, tag imagev1.TagReference, withoutGeneration bool) bool {
	if !importable(tag) {
		return false
	}
	if tag.Generation == nil {
		return withoutGeneration
	}
	return *tag.Generation > observedGeneration(stream, tag.Name)
}

// observedGeneration is the newest generation the tag's status records: its head event's or
// its ImportSuccess condition's.
func observedGeneration(stream *imagev1.ImageStream, tag string) int64 {
	var observed int64
	if st := imageutil.StatusTag(stream, tag); st != nil {
		if len(st.Items) > 0 {
			observed = st.Items[0].Generation
		}
		for _, c := range st.Conditions {
			if c.Type == imagev1.ImportSuccess {
				observed = max(observed, c.Generation)
				break
			}
		}
	}
	return observed
}

// needsScheduling reports whether stream has a tag to import again on every turn: an
// importable scheduled tag, unless it names a digest and was imported already (a digest never
// moves; it is tried until it is imported once).
func needsScheduling(stream *imagev1.ImageStream) bool {
	for _, tag := range stream.Spec.Tags {
		if scheduledNow(stream, tag) {
			return true
		}
	}
	return false
}

func scheduledNow(stream *imagev1.ImageStream, tag imagev1.TagReference) bool {
	if !importable(tag) || !tag.ImportPolicy.Scheduled {
		return false
	}
	ref, err := reference.Parse(tag.From.Name)
	if err != nil {
		return false
	}
	return ref.ID == "" || !imported(stream, tag)
}

// imported reports whether the tag's head event answers its current spec generation.
func imported(stream *imagev1.ImageStream, tag imagev1.TagReference) bool {
	head := imageutil.LatestTagEvent(stream, tag.Name)
	return head != nil && tag.Generation != nil && head.Generation == *tag.Generation
}

// withScheduledTurn returns a copy of stream whose scheduled tags ask for an import: their
// generation is moved to the stream's next one, as OpenShift's scheduler does (locally only;
// the import records the real one).
func withScheduledTurn(stream *imagev1.ImageStream) *imagev1.ImageStream {
	stream = stream.DeepCopy()
	next := stream.Generation + 1
	for i, tag := range stream.Spec.Tags {
		if scheduledNow(stream, tag) {
			stream.Spec.Tags[i].Generation = &next
		}
	}
	return stream
}

// Run imports until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer c.queue.ShutDown()
	var wg sync.WaitGroup
	for range c.opts.Workers {
		wg.Go(func() {
			for c.next(ctx) {
			}
		})
	}
	wg.Go(func() { c.schedule(ctx) })
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

// schedule gives every stream with scheduled tags its turn once an interval, at a random
// point of it, so that turns spread evenly.
func (c *Controller) schedule(ctx context.Context) {
	t := time.NewTicker(c.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		for k := range c.scheduled {
			c.queue.AddAfter(k, rand.N(c.opts.Interval))
			c.due[k] = true
		}
		c.mu.Unlock()
	}
}

func (c *Controller) next(ctx context.Context) bool {
	k, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(k)
	if err := c.sync(ctx, k); err != nil {
		klog.FromContext(ctx).Info("Automatic image import failed; retrying", "imageStream", k, "err", err)
		c.queue.AddRateLimited(k)
		return true
	}
	c.queue.Forget(k)
	return true
}

func (c *Controller) sync(ctx context.Context, k string) error {
	if !c.leading.Load() {
		return nil
	}
	namespace, name := splitKey(k)
	stream, err := c.read(ctx, namespace, name)
	if err != nil || stream == nil {
		if stream == nil && err == nil {
			c.Forget(namespace, name)
		}
		return err
	}
	c.mu.Lock()
	due := c.due[k]
	delete(c.due, k)
	c.mu.Unlock()
	if due {
		stream = withScheduledTurn(stream)
	}
	spec := ImportSpec(stream)
	if spec == nil {
		return nil
	}
	if due {
		if err := c.limiter.Wait(ctx); err != nil {
			return err
		}
	}
	_, err = c.importer.ImportStream(ctx, stream, *spec)
	return err
}

func splitKey(k string) (string, string) {
	for i := 0; i < len(k); i++ {
		if k[i] == '/' {
			return k[:i], k[i+1:]
		}
	}
	return "", k
}

// Sink observes every stream of a list and watch (when no stream cache does it).
func (c *Controller) Sink() listwatch.Sink { return sink{c} }

type sink struct{ c *Controller }

func (s sink) BeginReplace() listwatch.Replacement { return replacement(s) }

func (s sink) Apply(eventType watch.EventType, obj runtime.Object) error {
	stream, ok := obj.(*imagev1.ImageStream)
	if !ok {
		return nil
	}
	switch eventType {
	case watch.Added, watch.Modified:
		s.c.Observe(stream)
	case watch.Deleted:
		s.c.Forget(stream.Namespace, stream.Name)
	}
	return nil
}

type replacement struct{ c *Controller }

func (r replacement) Add(objs []runtime.Object) error {
	for _, obj := range objs {
		if stream, ok := obj.(*imagev1.ImageStream); ok {
			r.c.Observe(stream)
		}
	}
	return nil
}

func (replacement) Finish(string) {}
func (replacement) Abort()        {}
