package txn

import (
	"context"
	"errors"
	"fmt"
	"path"
	"reflect"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/etcd3"
	"k8s.io/apiserver/pkg/storage/value"
	"k8s.io/apiserver/pkg/storage/value/encrypt/identity"
)

// Resource is everything needed to read and write one resource exactly as its
// genericregistry.Store and the etcd3 storage under it do: the same key, codec, value
// transformer and resourceVersion semantics. Values written
// through a Resource are indistinguishable from the Store's own, so watches, the watch cache
// and encryption at rest keep working.
type Resource struct {
	groupResource   schema.GroupResource
	namespaceScoped bool
	keyFunc         func(ctx context.Context, name string) (string, error)
	// resourcePrefix is the Store's "/<group>/<resource>"; keys must start with it, as
	// storage.PrepareKey enforces in the etcd3 store.
	resourcePrefix string
	// pathPrefix is the storage prefix ("/registry/"), always ending in a slash.
	pathPrefix string
	codec      runtime.Codec
	// allocatingEncoder is codec's encoder, when it can fill a buffer of ours (see encode).
	allocatingEncoder runtime.EncoderWithAllocator
	transformer       value.Transformer
	versioner         storage.Versioner
	decoder           etcd3.Decoder
	newFunc           func() runtime.Object
}

// ResourceConfig describes a resource for NewResource. ResourceFor fills it from a Store.
type ResourceConfig struct {
	// GroupResource names the resource in errors, metrics and logs (Store.DefaultQualifiedResource).
	GroupResource schema.GroupResource
	// NamespaceScoped tells whether keys carry a namespace.
	NamespaceScoped bool
	// RESTOptions is what the RESTOptionsGetter returned for the resource. StorageConfig
	// provides prefix, codec and transformer; ResourcePrefix the key layout.
	RESTOptions generic.RESTOptions
	// KeyFunc is the Store's KeyFunc. Nil means the generic registry's default layout,
	// "/<ResourcePrefix>[/<namespace>]/<name>".
	KeyFunc func(ctx context.Context, name string) (string, error)
	// NewFunc returns an empty object of the resource's type.
	NewFunc func() runtime.Object
}

// ResourceFor derives a Resource from a completed Store (CompleteWithOptions has run) and the
// RESTOptionsGetter it was completed with. It repeats the Store's own GetRESTOptions call, so
// codec, transformer (per-resource encryption) and prefix cannot drift from the Store's.
func ResourceFor(s *genericregistry.Store, g generic.RESTOptionsGetter) (*Resource, error) {
	if s.KeyFunc == nil || s.NewFunc == nil {
		return nil, fmt.Errorf("store for %s is not completed", s.DefaultQualifiedResource)
	}
	opts, err := g.GetRESTOptions(s.DefaultQualifiedResource, s.NewFunc())
	if err != nil {
		return nil, fmt.Errorf("REST options of %s: %w", s.DefaultQualifiedResource, err)
	}
	return NewResource(ResourceConfig{
		GroupResource:   s.DefaultQualifiedResource,
		NamespaceScoped: s.NamespaceScoped(),
		RESTOptions:     opts,
		KeyFunc:         s.KeyFunc,
		NewFunc:         s.NewFunc,
	})
}

// NewResource builds a Resource without a Store, e.g. for tests against the fake. Prefer
// ResourceFor in server code.
func NewResource(c ResourceConfig) (*Resource, error) {
	sc := c.RESTOptions.StorageConfig
	switch {
	case c.GroupResource.Empty():
		return nil, errors.New("resource config needs a GroupResource")
	case sc == nil || sc.Codec == nil:
		return nil, fmt.Errorf("resource config of %s needs a storage config with a codec", c.GroupResource)
	case c.NewFunc == nil:
		return nil, fmt.Errorf("resource config of %s needs NewFunc", c.GroupResource)
	}
	// Same normalisation as Store.CompleteWithOptions.
	resourcePrefix := c.RESTOptions.ResourcePrefix
	if !strings.HasPrefix(resourcePrefix, "/") {
		resourcePrefix = "/" + resourcePrefix
	}
	if resourcePrefix == "/" {
		return nil, fmt.Errorf("resource config of %s has an invalid resource prefix %q", c.GroupResource, c.RESTOptions.ResourcePrefix)
	}
	keyFunc := c.KeyFunc
	if keyFunc == nil {
		keyFunc = func(ctx context.Context, name string) (string, error) {
			if c.NamespaceScoped {
				return genericregistry.NamespaceKeyFunc(ctx, resourcePrefix, name)
			}
			return genericregistry.NoNamespaceKeyFunc(ctx, resourcePrefix, name)
		}
	}
	// Same normalisation as etcd3.New; "/registry" stays "/registry/".
	pathPrefix := path.Join("/", sc.Prefix)
	if !strings.HasSuffix(pathPrefix, "/") {
		pathPrefix += "/"
	}
	// The storage factory's default: plain values, but reads of encrypted ones fail loudly.
	transformer := sc.Transformer
	if transformer == nil {
		transformer = identity.NewEncryptCheckTransformer()
	}
	versioner := storage.APIObjectVersioner{}
	return &Resource{
		groupResource:     c.GroupResource,
		namespaceScoped:   c.NamespaceScoped,
		keyFunc:           keyFunc,
		resourcePrefix:    resourcePrefix,
		pathPrefix:        pathPrefix,
		codec:             sc.Codec,
		allocatingEncoder: allocatingEncoder(sc.Codec),
		transformer:       transformer,
		versioner:         versioner,
		decoder:           etcd3.NewDefaultDecoder(sc.Codec, versioner),
		newFunc:           c.NewFunc,
	}, nil
}

// GroupResource is the resource's qualified name, as used in its errors.
func (r *Resource) GroupResource() schema.GroupResource { return r.groupResource }

// NamespaceScoped tells whether objects of the resource live in a namespace.
func (r *Resource) NamespaceScoped() bool { return r.namespaceScoped }

// New returns an empty object of the resource's type.
func (r *Resource) New() runtime.Object { return r.newFunc() }

// Key returns the full etcd key of an object, the one the etcd3 store would use: storage
// prefix plus Store.KeyFunc with the namespace in the context. Invalid names and a missing
// (or, for cluster-scoped resources, a present) namespace are BadRequest errors.
func (r *Resource) Key(ctx context.Context, namespace, name string) (string, error) {
	if r.namespaceScoped {
		ctx = genericapirequest.WithNamespace(ctx, namespace)
	} else if namespace != "" {
		return "", apierrors.NewBadRequest(fmt.Sprintf("%s is cluster-scoped: namespace must be empty, not %q", r.groupResource, namespace))
	}
	key, err := r.keyFunc(ctx, name)
	if err != nil {
		return "", err
	}
	key, err = storage.PrepareKey(r.resourcePrefix, key, false)
	if err != nil {
		return "", apierrors.NewBadRequest(err.Error())
	}
	return r.pathPrefix + strings.TrimPrefix(key, "/"), nil
}

// Prefix is the etcd key prefix under which every object of the resource is stored, ending
// in a slash: what a watch or a list of the whole resource reads.
func (r *Resource) Prefix() string {
	return r.pathPrefix + strings.TrimPrefix(r.resourcePrefix, "/") + "/"
}

// ObjectForKey returns an empty object of the resource named after key: namespace and name
// taken from a key under Prefix, as Key builds them. It is what a deletion seen without the
// deleted value is reported with.
func (r *Resource) ObjectForKey(key string) (runtime.Object, error) {
	rest, ok := strings.CutPrefix(key, r.Prefix())
	if !ok || rest == "" {
		return nil, fmt.Errorf("key %q is not under %s's prefix %q", key, r.groupResource, r.Prefix())
	}
	namespace, name := "", rest
	if r.namespaceScoped {
		var found bool
		if namespace, name, found = strings.Cut(rest, "/"); !found || namespace == "" || name == "" {
			return nil, fmt.Errorf("key %q of namespaced %s has no namespace and name", key, r.groupResource)
		}
	}
	obj := r.newFunc()
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	accessor.SetNamespace(namespace)
	accessor.SetName(name)
	return obj, nil
}

// Encode returns the bytes the etcd3 store would write for obj under key: resourceVersion
// cleared (PrepareObjectForStorage), encoded with the storage codec, then transformed with
// the full key as authenticated data, so encrypted values are bound to their key. obj keeps
// its resourceVersion; its selfLink is cleared. The length of the result is what counts
// against etcd's request size limit.
func (r *Resource) Encode(ctx context.Context, key string, obj runtime.Object) ([]byte, error) {
	plain, err := r.EncodePlain(obj)
	if err != nil {
		return nil, err
	}
	return r.transform(ctx, key, plain)
}

// EncodePlain is Encode before the value transformer: obj with its resourceVersion cleared,
// encoded with the storage codec, in a buffer of its own. obj keeps its resourceVersion.
func (r *Resource) EncodePlain(obj runtime.Object) ([]byte, error) {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return nil, internalError(fmt.Errorf("encoding %s: %w", r.groupResource, err))
	}
	rv := accessor.GetResourceVersion()
	if err := r.versioner.PrepareObjectForStorage(obj); err != nil {
		return nil, internalError(fmt.Errorf("preparing %s %q for storage: %w", r.groupResource, accessor.GetName(), err))
	}
	data, err := r.encode(obj)
	// The caller may retry with the same object; leave it as it was given.
	accessor.SetResourceVersion(rv)
	if err != nil {
		return nil, internalError(fmt.Errorf("encoding %s %q: %w", r.groupResource, accessor.GetName(), err))
	}
	return data, nil
}

// transform applies the value transformer to a plain encoding, with the full key as
// authenticated data.
func (r *Resource) transform(ctx context.Context, key string, plain []byte) ([]byte, error) {
	out, err := r.transformer.TransformToStorage(ctx, plain, value.DefaultContext(key))
	if err != nil {
		return nil, internalError(fmt.Errorf("transforming %s value at %q for storage: %w", r.groupResource, key, err))
	}
	return out, nil
}

// Decode reverses Encode for a value read from key at modRevision: it transforms with the key
// as authenticated data, decodes into into and sets its resourceVersion to modRevision, as
// the etcd3 store's Get does.
func (r *Resource) Decode(ctx context.Context, key string, data []byte, modRevision int64, into runtime.Object) error {
	plain, _, err := r.transformer.TransformFromStorage(ctx, data, value.DefaultContext(key))
	if err != nil {
		return internalError(fmt.Errorf("transforming %s value at %q from storage: %w", r.groupResource, key, err))
	}
	if err := r.decoder.Decode(plain, into, modRevision); err != nil {
		return internalError(fmt.Errorf("decoding %s value at %q: %w", r.groupResource, key, err))
	}
	return nil
}

// encode encodes obj with the storage codec into a buffer of its own. The protobuf codec
// sizes the object, fills one buffer from the allocator and writes it in one piece; that
// piece is kept as the result instead of being copied into a growing buffer.
func (r *Resource) encode(obj runtime.Object) ([]byte, error) {
	if r.allocatingEncoder == nil {
		return runtime.Encode(r.codec, obj)
	}
	var out ownedBuffer
	if err := r.allocatingEncoder.EncodeWithAllocator(obj, &out, &out); err != nil {
		return nil, err
	}
	return out.data, nil
}

// allocatingEncoder is codec's encoder when it takes an allocator, else nil. The storage
// factory's codec is runtime.NewCodec's pair of an Encoder and a Decoder, which hides the
// versioning encoder's EncodeWithAllocator behind its embedded Encoder field: that field is
// looked at too. Either way the encoder is the one codec.Encode calls.
func allocatingEncoder(codec runtime.Codec) runtime.EncoderWithAllocator {
	if e, ok := codec.(runtime.EncoderWithAllocator); ok {
		return e
	}
	v := reflect.ValueOf(codec)
	if v.Kind() != reflect.Struct {
		return nil
	}
	if f := v.FieldByName("Encoder"); f.IsValid() && f.CanInterface() {
		if e, ok := f.Interface().(runtime.EncoderWithAllocator); ok {
			return e
		}
	}
	return nil
}

// ownedBuffer is both the allocator an encoder fills and the writer it writes to. A write of
// the buffer it allocated (which nobody else holds) is kept as is; any other write is copied,
// since encoders may reuse their own buffers.
type ownedBuffer struct {
	allocated []byte
	data      []byte
}

func (b *ownedBuffer) Allocate(n uint64) []byte {
	b.allocated = make([]byte, n)
	return b.allocated
}

func (b *ownedBuffer) Write(p []byte) (int, error) {
	if b.data == nil && len(p) > 0 && len(b.allocated) > 0 && &p[0] == &b.allocated[0] {
		b.data = p
		return len(p), nil
	}
	// Appending to a kept piece may write into the rest of its allocation, which is ours.
	b.data = append(b.data, p...)
	return len(p), nil
}
