package imagestreammapping

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
	imageregistry "github.com/image-apiserver/image-apiserver/pkg/registry/image"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

// DefaultMaxImageStreamBytes is the default --max-imagestream-bytes (decisions.md D8): under
// etcd's 1.5 MiB request limit, with room for the image written in the same transaction.
const DefaultMaxImageStreamBytes = 1 << 20

// managedAnnotation marks images pushed to the integrated registry (spec §6 step 6).
const managedAnnotation = "openshift.io/image.managed"

// commitTimeout bounds one etcd transaction. It is not tied to the request's deadline: a
// transaction cancelled half-way might still commit, and the client would be told otherwise.
const commitTimeout = 10 * time.Second

// readTimeout bounds one storage read. etcd's client retries an unreachable cluster until its
// context ends; the mapping should answer 503 within seconds rather than hang the registry.
const readTimeout = 5 * time.Second

// deadlineMargin is kept free at the end of the request's deadline, so the last attempt can
// finish and the 429 still reaches the client before the apiserver's own timeout.
const deadlineMargin = time.Second

// Config is what the mapping storage needs.
type Config struct {
	Typer runtime.ObjectTyper
	// Txn reads and commits raw, undecorated objects.
	Txn txn.Interface
	// Streams and Images describe how imagestreams and images are stored.
	Streams, Images *txn.Resource
	// ImageStrategy is the images create strategy; StatusStrategy the imagestreams/status one.
	ImageStrategy  rest.RESTCreateStrategy
	StatusStrategy rest.RESTUpdateStrategy
	Hostnames      imagestream.RegistryHostnames
	// MaxImageStreamBytes is D8's limit on a stored stream.
	MaxImageStreamBytes int
	// MaxBatch caps how many queued mappings to one stream share a transaction.
	MaxBatch int
	// CachedStreams bounds how many streams' last committed state is kept (see streamCache).
	CachedStreams int
}

// REST is the imagestreammappings storage: create only (spec §1).
type REST struct {
	cfg      Config
	strategy Strategy
	batches  *batcher
	streams  *streamCache
	group    *groupCommitter
}

var _ rest.Creater = &REST{}
var _ rest.Storage = &REST{}
var _ rest.SingularNameProvider = &REST{}

// NewREST returns the mapping storage.
func NewREST(cfg Config) *REST {
	if cfg.MaxImageStreamBytes <= 0 {
		cfg.MaxImageStreamBytes = DefaultMaxImageStreamBytes
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 64
	}
	if cfg.CachedStreams <= 0 {
		cfg.CachedStreams = 10000
	}
	r := &REST{
		cfg:      cfg,
		strategy: NewStrategy(cfg.Typer, cfg.Hostnames),
		streams:  newStreamCache(cfg.CachedStreams),
		// A group stays well under etcd's 1.5 MiB request limit.
		group: newGroupCommitter(cfg.Txn, 2, 1<<20),
	}
	r.batches = newBatcher(cfg.MaxBatch, r.commitBatch)
	return r
}

// New returns an empty mapping.
func (r *REST) New() runtime.Object { return &imagev1.ImageStreamMapping{} }

// Destroy does nothing: the transaction client is owned by the server.
func (r *REST) Destroy() {}

// NamespaceScoped is true.
func (r *REST) NamespaceScoped() bool { return true }

// GetSingularName is imagestreammapping.
func (r *REST) GetSingularName() string { return "imagestreammapping" }

// mapping is a validated request: the image as it would be created, and where to tag it.
type mapping struct {
	namespace, stream, tag string
	image                  *imagev1.Image
	managed                bool
}

// Create validates the mapping, then records it (spec §6, decisions.md D1–D9, D12).
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	out, err := r.create(ctx, obj, createValidation, options)
	code := http.StatusCreated
	if err != nil {
		code = http.StatusInternalServerError
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			code = int(status.Status().Code)
		}
	}
	recordResult(code)
	return out, err
}

func (r *REST) create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	ism, ok := obj.(*imagev1.ImageStreamMapping)
	if !ok {
		return nil, apierrors.NewBadRequest("not an ImageStreamMapping")
	}
	if err := imageregistry.NormalizeMetadata(&ism.Image); err != nil {
		return nil, err
	}
	// The generic store does this for its objects before BeforeCreate; a mapping is not stored,
	// but BeforeCreate insists.
	rest.FillObjectMetaSystemFields(ism)
	if err := rest.BeforeCreate(r.strategy, ctx, ism); err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, ism.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	img, err := r.prepareImage(ctx, &ism.Image)
	if err != nil {
		return nil, err
	}
	m := &mapping{namespace: ism.Namespace, stream: ism.Name, tag: ism.Tag, image: img, managed: img.Annotations[managedAnnotation] == "true"}
	if len(options.DryRun) > 0 {
		// decisions.md D6: validate and compute everything, write nothing.
		if err := r.dryRun(ctx, m); err != nil {
			return nil, err
		}
		return success(m.namespace, m.stream, m.tag, m.image.Name), nil
	}
	if err := r.batches.submit(ctx, m); err != nil {
		return nil, err
	}
	return success(m.namespace, m.stream, m.tag, m.image.Name), nil
}

// prepareImage runs the full Image create strategy (defaulting, metadata derivation,
// validation) on a copy of the embedded image, as if it were POSTed to images.
func (r *REST) prepareImage(ctx context.Context, embedded *imagev1.Image) (*imagev1.Image, error) {
	img := embedded.DeepCopy()
	img.Namespace = ""
	img.ResourceVersion = ""
	img.ManagedFields = nil
	rest.FillObjectMetaSystemFields(img)
	if err := rest.BeforeCreate(r.cfg.ImageStrategy, genericapirequest.WithNamespace(ctx, metav1.NamespaceNone), img); err != nil {
		return nil, err
	}
	return img, nil
}

// dryRun reads what a commit would guard and runs every check a commit would, writing nothing.
func (r *REST) dryRun(ctx context.Context, m *mapping) error {
	b := &batch{namespace: m.namespace, stream: m.stream, members: []*request{{m: m}}}
	// Read everything: a dry run must not rely on this server's view of the stream.
	st := &planState{imageRevs: map[string]int64{}}
	if err := r.readImages(ctx, b, st); err != nil {
		return storageUnavailable(err, m.stream)
	}
	if _, err := r.plan(ctx, b, st); err != nil {
		return storageUnavailable(err, m.stream)
	}
	return nil
}

// batch is the mappings to one stream committed together, and their outcome.
type batch struct {
	namespace, stream string
	members           []*request
}

// planState is what a batch believes about storage between attempts: the stream as stored
// and the revision to guard, and the revisions of images known to exist. Failed guards
// update it from the fresh state etcd returns with the failure.
type planState struct {
	stream      *imagev1.ImageStream // nil with streamKnown: the stream does not exist
	streamRev   int64
	streamKnown bool
	// imageRevs holds the revision of images known to exist (0: known not to exist). An image
	// not listed is assumed new and created with a "must not exist" guard.
	imageRevs map[string]int64
}

// commitBatch records every member of b in one transaction, recomputing from the fresh state
// after every lost guard until it commits or the batch deadline leaves no time
// (decisions.md D6, D7).
func (r *REST) commitBatch(ctx context.Context, b *batch) {
	logger := klog.FromContext(ctx)
	deadline, _ := ctx.Deadline()
	key := b.namespace + "/" + b.stream
	st := &planState{imageRevs: map[string]int64{}}
	if cached, rev, ok := r.streams.get(key); ok {
		st.stream, st.streamRev, st.streamKnown = cached, rev, true
	}
	for attempt := 1; ; attempt++ {
		ops, err := r.plan(ctx, b, st)
		if err == nil && ops != nil {
			var rev int64
			rev, err = r.group.commit(ops)
			if err == nil {
				if committed, ok := ops[0].Obj.(*imagev1.ImageStream); ok {
					r.streams.put(key, committed, rev)
				}
			}
		}
		if apierrors.IsRequestEntityTooLargeError(err) && len(b.members) > 1 {
			// Together the batch is too large; some members may still fit one by one.
			for _, m := range b.members {
				r.commitBatch(ctx, &batch{namespace: b.namespace, stream: b.stream, members: []*request{m}})
			}
			return
		}
		var conflict *txn.ConflictError
		if err == nil || !errors.As(err, &conflict) {
			if apierrors.IsNotFound(err) {
				r.streams.delete(key)
			}
			if err != nil {
				err = storageUnavailable(err, b.stream)
			}
			b.observe(attempt)
			b.finish(err)
			return
		}
		r.learn(st, conflict)
		logger.V(4).Info("Retrying mapping after a conflict", "imageStream", klog.KRef(b.namespace, b.stream), "attempt", attempt, "batch", len(b.members))
		if time.Until(deadline) < deadlineMargin {
			b.observe(attempt)
			b.finish(tooManyRetries(b.namespace, b.stream, attempt))
			return
		}
		if attempt > 2 {
			// Some other writer keeps winning (another replica, status updates): back off a
			// little, with jitter, so that replicas do not retry in lock step.
			backoff := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
		}
	}
}

// learn updates st from the fresh state of the keys whose guard failed.
func (r *REST) learn(st *planState, conflict *txn.ConflictError) {
	for _, c := range conflict.Conflicts {
		switch c.Op.Resource {
		case r.cfg.Streams:
			st.streamKnown, st.streamRev, st.stream = true, c.Revision, nil
			if c.Object != nil {
				st.stream = c.Object.(*imagev1.ImageStream)
			}
		case r.cfg.Images:
			st.imageRevs[c.Op.Name] = c.Revision
		}
	}
}

// readImages reads the revision of every image of b, for a dry run that cannot learn from
// failed guards.
func (r *REST) readImages(ctx context.Context, b *batch, st *planState) error {
	for _, req := range b.members {
		rev, err := r.get(ctx, r.cfg.Images, "", req.m.image.Name, &imagev1.Image{})
		switch {
		case apierrors.IsNotFound(err):
			st.imageRevs[req.m.image.Name] = 0
		case err != nil:
			return err
		default:
			st.imageRevs[req.m.image.Name] = rev
		}
	}
	return nil
}

// plan applies every member's tag event to the stream st describes and returns the
// transaction that commits them, guarded by the revisions in st. nil ops with a nil error
// mean there is nothing to write (every member is already recorded). An error applies to the
// whole batch.
func (r *REST) plan(ctx context.Context, b *batch, st *planState) ([]txn.Op, error) {
	ns, name := b.namespace, b.stream
	if !st.streamKnown {
		stored := &imagev1.ImageStream{}
		rev, err := r.get(ctx, r.cfg.Streams, ns, name, stored)
		switch {
		case apierrors.IsNotFound(err):
			st.stream, st.streamRev = nil, 0
		case err != nil:
			return nil, err
		default:
			st.stream, st.streamRev = stored, rev
		}
		st.streamKnown = true
	}
	if st.stream == nil {
		return nil, streamNotFound(name)
	}
	stored := st.stream
	stream := stored.DeepCopy()
	// The reference rule of spec §6 step 6 reads the repository as clients see it.
	imagestream.SetRepositories(stream, r.cfg.Hostnames)

	ops := []txn.Op{{Resource: r.cfg.Streams, Namespace: ns, Name: name, Revision: st.streamRev}}
	seen := map[string]bool{}
	changed, writesImage := false, false
	for _, req := range b.members {
		m := req.m
		exists := true // created or asserted by an earlier member of this batch
		if !seen[m.image.Name] {
			seen[m.image.Name] = true
			if rev := st.imageRevs[m.image.Name]; rev != 0 {
				// An existing image is never modified by a mapping (spec §6 step 5); the guard
				// makes sure it is not deleted under the new tag.
				ops = append(ops, txn.Op{Resource: r.cfg.Images, Name: m.image.Name, Revision: rev})
			} else {
				// Assume a new image: create it in the same transaction. Revision 0 guards that
				// it does not exist; if it does, the failed guard says so and the next attempt
				// tags the existing image instead.
				ops = append(ops, txn.Op{Resource: r.cfg.Images, Name: m.image.Name, Obj: m.image.DeepCopy()})
				writesImage = true
				exists = false
			}
		}
		if r.apply(stream, m, exists) {
			changed = true
		}
	}
	if !changed && !writesImage {
		return nil, nil
	}
	if changed {
		if err := rest.BeforeUpdate(r.cfg.StatusStrategy, genericapirequest.WithNamespace(ctx, ns), stream, stored); err != nil {
			return nil, err
		}
		if size := stream.Size(); size > r.cfg.MaxImageStreamBytes {
			return nil, streamTooLarge(ns, name, size, r.cfg.MaxImageStreamBytes)
		}
		ops[0].Obj = stream
	}
	return ops, nil
}

// get reads one object, bounded by readTimeout.
func (r *REST) get(ctx context.Context, res *txn.Resource, namespace, name string, into runtime.Object) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	return r.cfg.Txn.Get(ctx, res, namespace, name, into)
}

// apply adds m's tag event to stream (spec §6 steps 6–8, §5.1, §5.2) and reports a change.
func (r *REST) apply(stream *imagev1.ImageStream, m *mapping, imageExisted bool) bool {
	ref := m.image.DockerImageReference
	if imageExisted && m.managed {
		repo := stream.Status.DockerImageRepository
		if repo == "" {
			repo = stream.Spec.DockerImageRepository
		}
		if parsed, err := reference.Parse(repo); repo != "" && err == nil {
			ref = parsed.RepositoryName() + "@" + m.image.Name
		}
	}
	next := imagev1.TagEvent{Created: metav1.Now(), DockerImageReference: ref, Image: m.image.Name, Generation: stream.Generation}
	if !imageutil.AddTagEventToImageStream(stream, m.tag, next) {
		return false
	}
	imageutil.UpdateTrackingTags(stream, m.tag, next)
	return true
}
