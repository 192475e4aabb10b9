package fuzzing

import (
	"context"
	"fmt"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	imageregistry "github.com/image-apiserver/image-apiserver/pkg/registry/image"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreammapping"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn/txntest"
)

// Hostnames are the registry hostnames the targets run with: both set, so that the repository
// fields and the mapping's default reference are exercised.
var Hostnames = imagestream.RegistryHostnames{
	Internal: "image-registry.openshift-image-registry.svc:5000",
	Public:   "registry.example.com",
}

// Strategies are the server's strategies, built as pkg/apiserver builds them. Streams of other
// namespaces or names cannot be looked up: spec tags following them stay unresolved, as when
// the other stream does not exist.
var (
	ImageStrategy        = imageregistry.NewStrategy(apiserver.Scheme)
	StreamStrategy       = imagestream.NewStrategy(apiserver.Scheme, Hostnames)
	StreamStatusStrategy = imagestream.NewStatusStrategy(StreamStrategy)
)

// StoredResourceVersion is the resourceVersion objects returned by the Create helpers carry, as
// if storage had written them; updates send it back.
const StoredResourceVersion = "1"

// RequestNamespace is the namespace of the request URL for a namespaced object: the object's
// own, or "test" when it names none (the handler fills it in from the URL).
func RequestNamespace(meta *metav1.ObjectMeta) string {
	if meta.Namespace != "" {
		return meta.Namespace
	}
	return "test"
}

// ClearManagedFields drops client-sent managedFields: the handler's field manager owns them,
// and it is apimachinery's code, not ours.
func ClearManagedFields(meta *metav1.ObjectMeta) { meta.ManagedFields = nil }

// CreateImage runs what POST images runs between decoding and storage: the handler wipes the
// system fields the client sent, then the generic store fills them and generates the name,
// runs BeginCreate's metadata normalisation, then rest.BeforeCreate with the image strategy
// (PrepareForCreate, Validate, Canonicalize).
func CreateImage(img *imagev1.Image) error {
	ClearManagedFields(&img.ObjectMeta)
	rest.WipeObjectMetaSystemFields(img)
	fillSystemFields(&img.ObjectMeta, ImageStrategy.GenerateName)
	if err := imageregistry.NormalizeMetadata(img); err != nil {
		return err
	}
	if err := rest.BeforeCreate(ImageStrategy, genericapirequest.WithNamespace(context.Background(), metav1.NamespaceNone), img); err != nil {
		return err
	}
	img.ResourceVersion = StoredResourceVersion
	return nil
}

// UpdateImage runs what PUT images/<name> runs between decoding and storage: BeginUpdate's
// metadata normalisation, then rest.BeforeUpdate with the image strategy. The caller has
// already matched name and resourceVersion, as the handler and the store's precondition do.
func UpdateImage(img, old *imagev1.Image) error {
	ClearManagedFields(&img.ObjectMeta)
	if err := imageregistry.NormalizeMetadata(img); err != nil {
		return err
	}
	return rest.BeforeUpdate(ImageStrategy, genericapirequest.WithNamespace(context.Background(), metav1.NamespaceNone), img, old)
}

// CreateImageStream runs what POST namespaces/<ns>/imagestreams runs between decoding and
// storage: system fields wiped and refilled, name generation, then rest.BeforeCreate with the
// stream strategy. The size guard (413) is not run: it needs a configured limit.
func CreateImageStream(stream *imagev1.ImageStream) error {
	ClearManagedFields(&stream.ObjectMeta)
	rest.WipeObjectMetaSystemFields(stream)
	fillSystemFields(&stream.ObjectMeta, StreamStrategy.GenerateName)
	ctx := genericapirequest.WithNamespace(context.Background(), RequestNamespace(&stream.ObjectMeta))
	if err := rest.BeforeCreate(StreamStrategy, ctx, stream); err != nil {
		return err
	}
	stream.ResourceVersion = StoredResourceVersion
	return nil
}

// UpdateImageStream runs what PUT imagestreams/<name> (status false) or
// imagestreams/<name>/status (status true) runs between decoding and storage.
func UpdateImageStream(stream, old *imagev1.ImageStream, status bool) error {
	ClearManagedFields(&stream.ObjectMeta)
	ctx := genericapirequest.WithNamespace(context.Background(), old.Namespace)
	var strategy rest.RESTUpdateStrategy = StreamStrategy
	if status {
		strategy = StreamStatusStrategy
	}
	return rest.BeforeUpdate(strategy, ctx, stream, old)
}

// NewMappingStorage returns the imagestreammappings storage as pkg/apiserver wires it, on an
// in-memory transaction fake that keeps keys and values exactly as etcd would, together with
// the fake and the images and imagestreams resources it reads and writes.
func NewMappingStorage(tb testing.TB) (*imagestreammapping.REST, *txntest.Fake, *txn.Resource, *txn.Resource) {
	tb.Helper()
	fx := txntest.FakeFixtures(tb)
	images, streams := fx.Images, fx.ImageStreams
	fake := txntest.NewFake()
	writer := streamwriter.New(streamwriter.Config{
		Txn:                 fake,
		Streams:             streams,
		Images:              images,
		StatusStrategy:      StreamStatusStrategy,
		Hostnames:           Hostnames,
		MaxImageStreamBytes: imagestreammapping.DefaultMaxImageStreamBytes,
	})
	storage := imagestreammapping.NewREST(imagestreammapping.Config{
		Typer:         apiserver.Scheme,
		Writer:        writer,
		ImageStrategy: ImageStrategy,
		Hostnames:     Hostnames,
	})
	return storage, fake, images, streams
}

// Deterministic gives the i-th stored seed of an update target a fixed uid and creation time
// instead of random ones, so that inputs found in one run replay the same in another.
func Deterministic[T interface {
	runtime.Object
	metav1.Object
}](obj T, i int) T {
	obj.SetUID(types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", i)))
	obj.SetCreationTimestamp(metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)))
	return obj
}

// fillSystemFields is the generic store's first step of a create.
func fillSystemFields(meta *metav1.ObjectMeta, generate func(string) string) {
	rest.FillObjectMetaSystemFields(meta)
	if meta.GenerateName != "" && meta.Name == "" {
		meta.Name = generate(meta.GenerateName)
	}
}
