// Package apiserver assembles the image.openshift.io API server from the generic apiserver and
// the image registries.
package apiserver

import (
	"context"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	imagev1 "github.com/openshift/api/image/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/klog/v2"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/install"
	"github.com/image-apiserver/image-apiserver/pkg/controller/imageimport"
	"github.com/image-apiserver/image-apiserver/pkg/controller/leader"
	"github.com/image-apiserver/image-apiserver/pkg/imageindex"
	"github.com/image-apiserver/image-apiserver/pkg/importer"
	imageregistry "github.com/image-apiserver/image-apiserver/pkg/registry/image"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagesecret"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagesignature"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/tagwrite"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreamimage"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreamimport"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreamlayers"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreammapping"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreamtag"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagetag"
	"github.com/image-apiserver/image-apiserver/pkg/server/mappingfastpath"
	"github.com/image-apiserver/image-apiserver/pkg/storage/listwatch"
	"github.com/image-apiserver/image-apiserver/pkg/storage/rawwatch"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
	"github.com/image-apiserver/image-apiserver/pkg/streamcache"
)

// ExtraConfig is what the image API adds to the generic server configuration.
type ExtraConfig struct {
	// RegistryHostnames feed the streams' repository fields (D11).
	RegistryHostnames imagestream.RegistryHostnames
	// MaxImageStreamBytes is the largest stream a mapping may produce (D8).
	MaxImageStreamBytes int
	// MaxTagHistory is the number of events each tag keeps, 0 for all (D16).
	MaxTagHistory int
	// Secrets feeds imagestreams/secrets; nil means there is no Secrets API (standalone).
	Secrets imagesecret.SecretSource
	// ImageIndexMaxBytes bounds the image index; 0 turns it off.
	ImageIndexMaxBytes int64
	// StreamCacheMaxBytes bounds the stream cache; 0 turns it off.
	StreamCacheMaxBytes int64
	// Importer fetches images for imagestreamimports.
	Importer *importer.Importer
	// Election, when set, makes one replica at a time run the automatic imports; nil runs
	// them here (standalone is one process).
	Election *leader.Election
	// ScheduledImportInterval and ScheduledImportsPerMinute pace the scheduled imports.
	ScheduledImportInterval   time.Duration
	ScheduledImportsPerMinute int
	// ImportKeychain holds the credentials of imports when there are no pull secrets to read
	// (standalone); nil is anonymous.
	ImportKeychain authn.Keychain
	// Notifications, when set, serves a standard registry's push notifications.
	Notifications *NotificationsConfig
	// MappingFastPath serves plain mapping creates without the generic create handler's
	// managed-fields work (package mappingfastpath).
	MappingFastPath bool
}

// Config is the whole server configuration.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

// CompletedConfig is a Config whose generic part has been completed.
type CompletedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
}

// ImageAPIServer is the running server.
type ImageAPIServer struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
}

// Complete fills in the generic defaults.
func (c *Config) Complete() CompletedConfig {
	return CompletedConfig{GenericConfig: c.GenericConfig.Complete(), ExtraConfig: &c.ExtraConfig}
}

// New builds the server and installs the image.openshift.io group.
func (c CompletedConfig) New() (*ImageAPIServer, error) {
	fastPath := c.mappingFastPath()
	generic, err := c.GenericConfig.New("image-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	storage, err := c.v1Storage(generic)
	if err != nil {
		return nil, err
	}
	// The group's parameter codec decodes only the query of getters with options
	// (imagestreams/secrets takes list options); metav1.ParameterCodec cannot convert a query
	// into list options, Scheme can.
	groupInfo := genericapiserver.NewDefaultAPIGroupInfo(imagev1.GroupName, Scheme, runtime.NewParameterCodec(Scheme), Codecs)
	// The scheme also knows the docker metadata versions 1.0 and pre012 of this group; they are
	// not API versions.
	groupInfo.PrioritizedVersions = []schema.GroupVersion{imagev1.GroupVersion}
	groupInfo.VersionedResourcesStorageMap[imagev1.GroupVersion.Version] = storage
	if err := generic.InstallAPIGroup(&groupInfo); err != nil {
		return nil, err
	}
	if fastPath != nil {
		fastPath.Serve(storage["imagestreammappings"].(rest.Creater))
	}
	if err := c.installNotifications(generic, storage); err != nil {
		return nil, err
	}
	return &ImageAPIServer{GenericAPIServer: generic}, nil
}

// mappingFastPath puts the mapping route in front of the API handler, inside the filter chain
// (authentication, authorization, audit and the rest run before it). It serves nothing until
// the storage is installed; nil when the fast path is off.
func (c CompletedConfig) mappingFastPath() *mappingfastpath.Route {
	if !c.ExtraConfig.MappingFastPath {
		return nil
	}
	gc := c.GenericConfig.Config
	route := mappingfastpath.New(mappingfastpath.Config{
		Serializer:          Codecs,
		HubGroupVersion:     install.InternalGroupVersion,
		Admission:           gc.AdmissionControl,
		ObjectInterfaces:    objectInterfaces{equivalents: gc.EquivalentResourceRegistry},
		MaxRequestBodyBytes: gc.MaxRequestBodyBytes,
		Defaulter:           Scheme,
	})
	build := gc.BuildHandlerChainFunc
	gc.BuildHandlerChainFunc = func(apiHandler http.Handler, c *genericapiserver.Config) http.Handler {
		return build(route.Wrap(apiHandler), c)
	}
	return route
}

// objectInterfaces is what admission plugins get to create, type, default and convert
// objects: the scheme, and the server's registry of equivalent resources, as the generic
// handler gives them.
type objectInterfaces struct {
	equivalents runtime.EquivalentResourceMapper
}

func (objectInterfaces) GetObjectCreater() runtime.ObjectCreater     { return Scheme }
func (objectInterfaces) GetObjectTyper() runtime.ObjectTyper         { return Scheme }
func (objectInterfaces) GetObjectDefaulter() runtime.ObjectDefaulter { return Scheme }
func (objectInterfaces) GetObjectConvertor() runtime.ObjectConvertor { return Scheme }
func (o objectInterfaces) GetEquivalentResourceMapper() runtime.EquivalentResourceMapper {
	if o.equivalents == nil {
		return runtime.NewEquivalentResourceRegistry()
	}
	return o.equivalents
}

// v1Storage returns the storage of every v1 resource.
func (c CompletedConfig) v1Storage(server *genericapiserver.GenericAPIServer) (map[string]rest.Storage, error) {
	optsGetter := c.GenericConfig.RESTOptionsGetter
	images, err := imageregistry.NewREST(Scheme, optsGetter)
	if err != nil {
		return nil, err
	}
	hostnames := c.ExtraConfig.RegistryHostnames
	streams, streamStatus, err := imagestream.NewREST(Scheme, optsGetter, hostnames)
	if err != nil {
		return nil, err
	}
	streams.SetMaxBytes(c.ExtraConfig.MaxImageStreamBytes)
	streamStatus.SetMaxBytes(c.ExtraConfig.MaxImageStreamBytes)
	streams.Strategy().SetMaxTagHistory(c.ExtraConfig.MaxTagHistory)
	client, err := c.etcdClient(server)
	if err != nil {
		return nil, err
	}
	streamSource, err := c.watchSource(streams.Store, client)
	if err != nil {
		return nil, err
	}
	imageSource, err := c.watchSource(images.Store, client)
	if err != nil {
		return nil, err
	}
	cache := c.streamCache(server, streamSource)
	index := c.imageIndex(server, imageSource)
	writer, err := c.streamWriter(images, streams, cache, index, client)
	if err != nil {
		return nil, err
	}
	imagestreammapping.RegisterMetrics()
	mappings := imagestreammapping.NewREST(imagestreammapping.Config{
		Typer:         Scheme,
		Writer:        writer,
		ImageStrategy: imageregistry.NewStrategy(Scheme),
		Hostnames:     hostnames,
	})
	tags := &tagwrite.Access{
		Streams:        streams,
		StreamStrategy: streams.Strategy(),
		Images:         images,
		Writer:         writer,
		Hostnames:      hostnames,
	}
	imports := imagestreamimport.NewREST(imagestreamimport.Config{
		Typer:         Scheme,
		Access:        tags,
		Importer:      c.ExtraConfig.Importer,
		Keychains:     c.importKeychains,
		ImageStrategy: imageregistry.NewStrategy(Scheme),
	})
	c.automaticImports(server, streams, streamSource, cache, imports)
	layers := imagestreamlayers.NewREST(index, streams.Store, images.Store)
	if cache != nil {
		layers.SetStreamCache(cache)
	}
	return map[string]rest.Storage{
		"images":               images,
		"imagestreams":         streams,
		"imagestreams/status":  streamStatus,
		"imagestreammappings":  mappings,
		"imagestreamtags":      imagestreamtag.NewREST(Scheme, tags),
		"imagetags":            imagetag.NewREST(Scheme, tags),
		"imagestreams/layers":  layers,
		"imagestreamimages":    imagestreamimage.NewREST(layers, images),
		"imagesignatures":      imagesignature.NewREST(Scheme, images.Store),
		"imagestreams/secrets": imagesecret.NewREST(c.ExtraConfig.Secrets),
		"imagestreamimports":   imports,
	}, nil
}

// streamCache is the cache of current streams the writer and the layers read (nil when
// --imagestream-cache-max-bytes is 0), fed from the imagestreams storage once the server runs.
func (c CompletedConfig) streamCache(server *genericapiserver.GenericAPIServer, streams rawwatch.Source) *streamcache.Cache {
	if c.ExtraConfig.StreamCacheMaxBytes == 0 {
		return nil
	}
	cache := streamcache.New(c.ExtraConfig.StreamCacheMaxBytes)
	streamcache.RegisterMetrics(cache)
	// The stream writer puts what it commits into the cache itself (Committed); the watch
	// skips those changes.
	streams.Known = cache.Known
	server.AddPostStartHookOrDie("imagestream-cache", func(hookCtx genericapiserver.PostStartHookContext) error {
		go cache.Run(hookCtx, streams)
		return nil
	})
	return cache
}

// imageIndex is the index of every image that imagestreams/layers and imagestreamimages
// read, fed from the images storage once the server runs and stopped with it, and by the
// stream writer as it creates images (the watch skips those). Readiness does not wait for it
// to load: until it has, layers and imagestreamimages answer 504, which clients retry.
func (c CompletedConfig) imageIndex(server *genericapiserver.GenericAPIServer, images rawwatch.Source) *imageindex.Index {
	index := imageindex.New()
	imageindex.RegisterMetrics(index)
	if c.ExtraConfig.ImageIndexMaxBytes == 0 {
		index.Disable()
		return index
	}
	index.SetMaxBytes(c.ExtraConfig.ImageIndexMaxBytes)
	images.Known = index.Known
	server.AddPostStartHookOrDie("image-index", func(hookCtx genericapiserver.PostStartHookContext) error {
		go index.Run(hookCtx, images)
		return nil
	})
	return index
}

// etcdClient is the server's own etcd client, beside the generic stores': the stream writer's
// transactions and the watches that feed the stream cache and the image index use it.
func (c CompletedConfig) etcdClient(server *genericapiserver.GenericAPIServer) (*clientv3.Client, error) {
	opts, err := c.GenericConfig.RESTOptionsGetter.GetRESTOptions(imagev1.Resource("imagestreams"), nil)
	if err != nil {
		return nil, err
	}
	client, err := txn.NewClient(context.Background(), opts.StorageConfig.Transport)
	if err != nil {
		return nil, err
	}
	server.RegisterDestroyFunc(func() { _ = client.Close() })
	return client, nil
}

// watchSource lists a resource through its Store and watches it straight from etcd, without
// the previous value of each change (package rawwatch).
func (c CompletedConfig) watchSource(store *genericregistry.Store, client *clientv3.Client) (rawwatch.Source, error) {
	resource, err := txn.ResourceFor(store, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return rawwatch.Source{}, err
	}
	return rawwatch.Source{Lister: store, Client: client, Resource: resource}, nil
}

// streamWriter is the one writer of every change to a stream: mappings and tag writes (D6,
// D14, D15). Its transactions go through an etcd client of its own, reading and writing keys
// exactly as the images and imagestreams stores do, and through one txn.Group.
func (c CompletedConfig) streamWriter(images *imageregistry.REST, streams *imagestream.REST, cache *streamcache.Cache, index *imageindex.Index, client *clientv3.Client) (*streamwriter.Writer, error) {
	optsGetter := c.GenericConfig.RESTOptionsGetter
	imageResource, err := txn.ResourceFor(images.Store, optsGetter)
	if err != nil {
		return nil, err
	}
	streamResource, err := txn.ResourceFor(streams.Store, optsGetter)
	if err != nil {
		return nil, err
	}
	txn.RegisterMetrics()
	streamwriter.RegisterMetrics()
	strategy := streams.Strategy()
	read := streamwriter.StoreReader(streams.Store)
	var committed func(*imagev1.ImageStream, []byte)
	if cache != nil {
		read = streamwriter.CacheReader(cache, read)
		committed = cache.Committed
	}
	return streamwriter.New(streamwriter.Config{
		Txn:                 txn.NewGroup(txn.New(client), txn.GroupOptions{}),
		Streams:             streamResource,
		Images:              imageResource,
		ReadStream:          read,
		Committed:           committed,
		CommittedImage:      index.Learn,
		StatusStrategy:      imagestream.NewStatusStrategy(strategy),
		SpecStrategy:        imagestream.NewServerWriteStrategy(strategy),
		CreateStrategy:      imagestream.NewServerCreateStrategy(strategy),
		Hostnames:           c.ExtraConfig.RegistryHostnames,
		MaxImageStreamBytes: c.ExtraConfig.MaxImageStreamBytes,
		MaxTagHistory:       c.ExtraConfig.MaxTagHistory,
	}), nil
}

// importKeychains gives an import the credentials of its namespace: the pull secrets that
// imagestreams/secrets lists (aggregated), else the --import-docker-config file's.
func (c CompletedConfig) importKeychains(ctx context.Context, namespace string) (authn.Keychain, error) {
	if c.ExtraConfig.Secrets == nil {
		if c.ExtraConfig.ImportKeychain != nil {
			return c.ExtraConfig.ImportKeychain, nil
		}
		return authn.NewMultiKeychain(), nil
	}
	list, err := c.ExtraConfig.Secrets.ListSecrets(ctx, namespace, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return importer.KeychainFromSecrets(ctx, imagesecret.PullSecrets(list.Items))
}

// automaticImports runs the imports that happen by themselves (D17): spec tags from
// DockerImage that are new or changed, and scheduled tags every interval. It sees streams
// change through the stream cache's feed, or through a list and watch of its own without one.
func (c CompletedConfig) automaticImports(server *genericapiserver.GenericAPIServer, streams *imagestream.REST, streamSource listwatch.Source, cache *streamcache.Cache, imports *imagestreamimport.REST) {
	read := func(ctx context.Context, namespace, name string) (*imagev1.ImageStream, error) {
		obj, err := streams.Get(genericapirequest.WithNamespace(ctx, namespace), name, &metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return obj.(*imagev1.ImageStream), nil
	}
	ctrl := imageimport.New(imports, read, imageimport.Options{
		Interval:  c.ExtraConfig.ScheduledImportInterval,
		PerMinute: c.ExtraConfig.ScheduledImportsPerMinute,
	})
	if cache != nil {
		cache.SetTee(ctrl.Sink())
	}
	server.AddPostStartHookOrDie("automatic-image-imports", func(hookCtx genericapiserver.PostStartHookContext) error {
		if cache == nil {
			go listwatch.Run(hookCtx, "automatic-image-imports", streamSource, ctrl.Sink(), listwatch.DefaultPageSize)
		}
		go ctrl.Run(hookCtx)
		if c.ExtraConfig.Election == nil {
			ctrl.SetLeading(true)
			return nil
		}
		go leader.Run(hookCtx, *c.ExtraConfig.Election, func(ctx context.Context) {
			ctrl.SetLeading(true)
			// What changed while another replica led (or none did) is found by looking again.
			if err := ctrl.Resync(ctx, streams.Store); err != nil {
				klog.FromContext(ctx).Error(err, "Listing image streams for automatic imports")
			}
			<-ctx.Done()
		}, func() { ctrl.SetLeading(false) })
		return nil
	})
}
