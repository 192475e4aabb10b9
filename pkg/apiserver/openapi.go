package apiserver

import (
	"strings"

	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"

	generatedopenapi "github.com/image-apiserver/image-apiserver/pkg/generated/openapi"
)

// serverRequiredFields lists, for the image types whose generated schema differs from what the
// server enforces, the fields the server really requires (D13). openapi-gen marks
// every field without omitempty as required; the real OpenShift server publishes that as is, so
// kubectl's client-side validation rejects the documentation's own ImageStreamMapping (its
// layers have no mediaType) before it is sent. Our schema requires only what validation does.
var serverRequiredFields = map[string][]string{
	"github.com/openshift/api/image/v1.ImageLayer":         nil, // the server does not validate layers
	"github.com/openshift/api/image/v1.ImageLookupPolicy":  nil, // local defaults to false
	"github.com/openshift/api/image/v1.ImageManifest":      {"digest", "mediaType", "architecture", "os"},
	"github.com/openshift/api/image/v1.TagEvent":           {"dockerImageReference"},
	"github.com/openshift/api/image/v1.TagEventCondition":  nil,
	"github.com/openshift/api/image/v1.TagReferencePolicy": nil, // defaulted to Source
	"github.com/openshift/api/image/v1.NamedTagEventList":  {"tag"},
	// An ImageStreamTag's or ImageTag's tag name is defaulted from the object's name, and
	// everything but the tag itself is composed by the server.
	"github.com/openshift/api/image/v1.TagReference":   nil,
	"github.com/openshift/api/image/v1.ImageStreamTag": nil,
	"github.com/openshift/api/image/v1.ImageTag":       nil, // spec is required on create only
	// An import's status is the server's answer, and spec.import defaults to false (a preview).
	"github.com/openshift/api/image/v1.ImageStreamImport":     {"spec"},
	"github.com/openshift/api/image/v1.ImageStreamImportSpec": nil,
}

// getOpenAPIDefinitions is the generated definitions with serverRequiredFields applied.
func getOpenAPIDefinitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	defs := generatedopenapi.GetOpenAPIDefinitions(ref)
	for name, required := range serverRequiredFields {
		def, ok := defs[name]
		if !ok {
			continue
		}
		def.Schema.Required = required
		defs[name] = def
	}
	return defs
}

// definitionNamer names definitions by their REST-friendly model name. openapi-gen keys the
// openshift types by Go import path (they have no OpenAPIModelName), which the v0.37 namer
// does not know; without this, server-side apply finds no type for ImageStream.
func definitionNamer() func(string) (string, spec.Extensions) {
	namer := openapinamer.NewDefinitionNamer(externalScheme)
	return func(name string) (string, spec.Extensions) {
		if strings.Contains(name, "/") {
			name = util.ToRESTFriendlyName(name)
		}
		return namer.GetDefinitionName(name)
	}
}

// ConfigureOpenAPI sets OpenAPI v2 and v3 on the generic config.
func ConfigureOpenAPI(cfg *genericapiserver.RecommendedConfig, version string) {
	namer := openapinamer.NewDefinitionNamer(externalScheme)
	name := definitionNamer()

	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(getOpenAPIDefinitions, namer)
	cfg.OpenAPIConfig.GetDefinitionName = name
	cfg.OpenAPIConfig.Info.Title = "image-apiserver"
	cfg.OpenAPIConfig.Info.Version = version

	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(getOpenAPIDefinitions, namer)
	cfg.OpenAPIV3Config.GetDefinitionName = name
	// DefaultOpenAPIV3Config computed Definitions with the unwrapped namer; recompute them, or
	// nested references dangle and server-side apply fails.
	cfg.OpenAPIV3Config.Definitions = getOpenAPIDefinitions(func(n string) spec.Ref {
		defName, _ := name(n)
		return spec.MustCreateRef("#/components/schemas/" + common.EscapeJsonPointer(defName))
	})
	cfg.OpenAPIV3Config.Info.Title = "image-apiserver"
	cfg.OpenAPIV3Config.Info.Version = version
}
