package imagestream

import (
	"context"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// REST is the imagestreams storage.
type REST struct {
	*genericregistry.Store
	maxBytes int
}

// Strategy is the main endpoint's strategy; the server's own stream writes (tags) share it,
// with its lookup of other streams.
func (r *REST) Strategy() Strategy { return r.Store.CreateStrategy.(Strategy) }

// SetMaxBytes makes creates and updates of streams larger than n bytes fail with 413
// (D8); 0 disables the check.
func (r *REST) SetMaxBytes(n int) { r.maxBytes = n }

// Create refuses streams over the size limit, then creates.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	limit := sizeLimit{limit: r.maxBytes, resource: "imagestreams"}
	return r.Store.Create(ctx, obj, limit.create(createValidation), options)
}

// Update refuses updates that would make the stream larger than the limit.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	limit := sizeLimit{limit: r.maxBytes, resource: "imagestreams"}
	return r.Store.Update(ctx, name, objInfo, limit.create(createValidation), limit.update(updateValidation), forceAllowCreate, options)
}

var _ rest.ShortNamesProvider = &REST{}
var _ rest.CategoriesProvider = &REST{}

// ShortNames lets `kubectl get is` work, as with oc.
func (r *REST) ShortNames() []string { return []string{"is"} }

// Categories puts image streams into `kubectl get all`.
func (r *REST) Categories() []string { return []string{"all"} }

// StatusREST is the imagestreams/status storage: the same store with the status strategy.
type StatusREST struct {
	store    *genericregistry.Store
	maxBytes int
}

// SetMaxBytes makes status updates that grow a stream past n bytes fail with 413 (D8).
func (r *StatusREST) SetMaxBytes(n int) { r.maxBytes = n }

// NewREST returns the main and status storage of imagestreams.
func NewREST(typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter, hostnames RegistryHostnames) (*REST, *StatusREST, error) {
	strategy := NewStrategy(typer, hostnames)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &imagev1.ImageStream{} },
		NewListFunc:               func() runtime.Object { return &imagev1.ImageStreamList{} },
		PredicateFunc:             MatchImageStream,
		DefaultQualifiedResource:  imagev1.Resource("imagestreams"),
		SingularQualifiedResource: imagev1.Resource("imagestream"),

		CreateStrategy:      strategy,
		UpdateStrategy:      strategy,
		DeleteStrategy:      strategy,
		ResetFieldsStrategy: strategy,
		Decorator:           decorator(hostnames),

		TableConvertor: TableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, nil, err
	}
	strategy.SetLookup(func(ctx context.Context, namespace, name string) (*imagev1.ImageStream, error) {
		obj, err := store.Get(genericapirequest.WithNamespace(ctx, namespace), name, &metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return obj.(*imagev1.ImageStream), nil
	})
	statusStore := *store
	statusStrategy := NewStatusStrategy(strategy)
	statusStore.UpdateStrategy = statusStrategy
	statusStore.ResetFieldsStrategy = statusStrategy
	return &REST{Store: store}, &StatusREST{store: &statusStore}, nil
}

// decorator recomputes the repository fields on every object returned, so they follow the
// configured hostnames rather than what was stored, so a changed hostname shows at once.
func decorator(hostnames RegistryHostnames) func(runtime.Object) {
	return func(obj runtime.Object) {
		switch t := obj.(type) {
		case *imagev1.ImageStream:
			SetRepositories(t, hostnames)
		case *imagev1.ImageStreamList:
			for i := range t.Items {
				SetRepositories(&t.Items[i], hostnames)
			}
		}
	}
}

var _ rest.Patcher = &StatusREST{}
var _ rest.Storage = &StatusREST{}

// New returns an empty ImageStream.
func (r *StatusREST) New() runtime.Object { return &imagev1.ImageStream{} }

// Destroy does nothing: the main store owns the storage.
func (r *StatusREST) Destroy() {}

// Get returns the stream, for GET and PATCH of imagestreams/status.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes only the status of a stream.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Status never creates a stream.
	limit := sizeLimit{limit: r.maxBytes, resource: "imagestreams"}
	return r.store.Update(ctx, name, objInfo, createValidation, limit.update(updateValidation), false, options)
}

// GetResetFields returns the fields the status endpoint resets.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable prints status objects like streams.
func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}
