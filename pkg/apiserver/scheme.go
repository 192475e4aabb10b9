package apiserver

import (
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	serverstorage "k8s.io/apiserver/pkg/server/storage"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/install"
)

var (
	// Scheme knows image.openshift.io v1 and __internal, plus the meta types every API server
	// serves.
	Scheme = runtime.NewScheme()
	// Codecs serializes Scheme's types in JSON, YAML and protobuf.
	Codecs = serializer.NewCodecFactory(Scheme)
	// externalScheme knows only the served v1 kinds. OpenAPI definitions are named through it so
	// that __internal never appears in x-kubernetes-group-version-kind.
	externalScheme = runtime.NewScheme()
)

func init() {
	install.Install(Scheme)
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	Scheme.AddUnversionedTypes(unversioned,
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
	utilruntime.Must(imagev1.Install(externalScheme))
}

// StorageCodec encodes v1 as protobuf in etcd and decodes to __internal in memory. The versioner it returns is the storage config's EncodeVersioner.
func StorageCodec() (runtime.Codec, runtime.GroupVersioner, error) {
	return serverstorage.NewStorageCodec(serverstorage.StorageCodecConfig{
		StorageMediaType:  runtime.ContentTypeProtobuf,
		StorageSerializer: Codecs,
		StorageVersion:    imagev1.GroupVersion,
		MemoryVersion:     install.InternalGroupVersion,
	})
}
