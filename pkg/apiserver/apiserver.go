// Package apiserver assembles the image.openshift.io API server from the generic apiserver and
// the image registries.
package apiserver

import (
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"

	imageregistry "github.com/image-apiserver/image-apiserver/pkg/registry/image"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
)

// ExtraConfig is what the image API adds to the generic server configuration.
type ExtraConfig struct {
	// RegistryHostnames feed the streams' repository fields (decisions.md D11).
	RegistryHostnames imagestream.RegistryHostnames
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
	generic, err := c.GenericConfig.New("image-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	storage, err := c.v1Storage()
	if err != nil {
		return nil, err
	}
	groupInfo := genericapiserver.NewDefaultAPIGroupInfo(imagev1.GroupName, Scheme, metav1.ParameterCodec, Codecs)
	// The scheme also knows the docker metadata versions 1.0 and pre012 of this group; they are
	// not API versions.
	groupInfo.PrioritizedVersions = []schema.GroupVersion{imagev1.GroupVersion}
	groupInfo.VersionedResourcesStorageMap[imagev1.GroupVersion.Version] = storage
	if err := generic.InstallAPIGroup(&groupInfo); err != nil {
		return nil, err
	}
	return &ImageAPIServer{GenericAPIServer: generic}, nil
}

// v1Storage returns the storage of every v1 resource.
func (c CompletedConfig) v1Storage() (map[string]rest.Storage, error) {
	optsGetter := c.GenericConfig.RESTOptionsGetter
	images, err := imageregistry.NewREST(Scheme, optsGetter)
	if err != nil {
		return nil, err
	}
	streams, streamStatus, err := imagestream.NewREST(Scheme, optsGetter, c.ExtraConfig.RegistryHostnames)
	if err != nil {
		return nil, err
	}
	return map[string]rest.Storage{
		"images":              images,
		"imagestreams":        streams,
		"imagestreams/status": streamStatus,
	}, nil
}
