package apiserver

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

const imagePkg = "github.com/openshift/api/image/v1."

func noRef(string) spec.Ref { return spec.Ref{} }

// TestGetOpenAPIDefinitionsRequired checks that the published schema requires only what the
// server requires (D13): kubectl's client-side validation must accept the
// documentation's ImageStreamMapping, whose layers have no mediaType.
func TestGetOpenAPIDefinitionsRequired(t *testing.T) {
	defs := getOpenAPIDefinitions(noRef)
	tests := []struct {
		name string
		def  string
		want []string
	}{
		{"ImageLayer requires nothing (D13)", imagePkg + "ImageLayer", nil},
		{"ImageLookupPolicy requires nothing", imagePkg + "ImageLookupPolicy", nil},
		{"TagReferencePolicy requires nothing", imagePkg + "TagReferencePolicy", nil},
		{"TagEvent requires its reference", imagePkg + "TagEvent", []string{"dockerImageReference"}},
		{"NamedTagEventList requires its tag", imagePkg + "NamedTagEventList", []string{"tag"}},
		{"ImageManifest", imagePkg + "ImageManifest", []string{"digest", "mediaType", "architecture", "os"}},
		{"ImageStreamMapping still requires image and tag", imagePkg + "ImageStreamMapping", []string{"image", "tag"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def, ok := defs[tc.def]
			if !ok {
				t.Fatalf("no definition %q", tc.def)
			}
			if diff := cmp.Diff(tc.want, def.Schema.Required); diff != "" {
				t.Errorf("required fields of %s mismatch (-want +got):\n%s", tc.def, diff)
			}
		})
	}
}

// TestServerRequiredFieldsMatchGeneratedDefinitions guards serverRequiredFields against drift:
// getOpenAPIDefinitions silently skips a name it does not find, so a renamed type or property in
// a newer openshift/api would quietly bring back the over-strict generated schema (D13).
func TestServerRequiredFieldsMatchGeneratedDefinitions(t *testing.T) {
	defs := getOpenAPIDefinitions(noRef)
	for name, required := range serverRequiredFields {
		t.Run(name, func(t *testing.T) {
			def, ok := defs[name]
			if !ok {
				t.Fatalf("serverRequiredFields names %q, which the generated definitions lack", name)
			}
			for _, field := range required {
				if _, ok := def.Schema.Properties[field]; !ok {
					t.Errorf("required field %q is not a property of %s", field, name)
				}
			}
		})
	}
}

// TestDefinitionNamer checks the namer wrapper: Go import paths become
// REST-friendly model names, and kinds carry their v1 group-version-kind, never __internal
// (which the server Scheme also knows). Without the GVK, server-side apply fails.
func TestDefinitionNamer(t *testing.T) {
	gvk := func(kind string) spec.Extensions {
		return spec.Extensions{"x-kubernetes-group-version-kind": []interface{}{
			map[string]interface{}{"group": "image.openshift.io", "version": "v1", "kind": kind},
		}}
	}
	tests := []struct {
		name     string
		in       string
		wantName string
		wantExt  spec.Extensions
	}{
		{"ImageStream", imagePkg + "ImageStream", "com.github.openshift.api.image.v1.ImageStream", gvk("ImageStream")},
		{"ImageStreamList", imagePkg + "ImageStreamList", "com.github.openshift.api.image.v1.ImageStreamList", gvk("ImageStreamList")},
		{"Image", imagePkg + "Image", "com.github.openshift.api.image.v1.Image", gvk("Image")},
		{"ImageStreamMapping", imagePkg + "ImageStreamMapping", "com.github.openshift.api.image.v1.ImageStreamMapping", gvk("ImageStreamMapping")},
		{"non-kind type has no GVK", imagePkg + "TagReference", "com.github.openshift.api.image.v1.TagReference", nil},
		{"model names pass through", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", nil},
	}
	namer := definitionNamer()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gotName, gotExt := namer(tc.in)
			if gotName != tc.wantName {
				t.Errorf("name = %q, want %q", gotName, tc.wantName)
			}
			if diff := cmp.Diff(tc.wantExt, gotExt); diff != "" {
				t.Errorf("extensions mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigureOpenAPIV3References checks that the v3 definitions were recomputed with the
// wrapped namer: nested references must name REST-friendly definitions,
// or they dangle and server-side apply fails with "no type found matching …ImageStreamSpec".
func TestConfigureOpenAPIV3References(t *testing.T) {
	cfg := genericapiserver.NewRecommendedConfig(Codecs)
	ConfigureOpenAPI(cfg, "v0.0.0-test")

	def, ok := cfg.OpenAPIV3Config.Definitions[imagePkg+"ImageStream"]
	if !ok {
		t.Fatalf("no ImageStream definition in the v3 config")
	}
	specProp := def.Schema.Properties["spec"]
	var refs []string
	for i := range specProp.AllOf {
		refs = append(refs, specProp.AllOf[i].Ref.String())
	}
	refs = append(refs, specProp.Ref.String())
	if want := "#/components/schemas/com.github.openshift.api.image.v1.ImageStreamSpec"; !slices.Contains(refs, want) {
		t.Errorf("v3 ImageStream.spec references %q, want %q", refs, want)
	}

	for _, tc := range []struct {
		name  string
		namer func(string) (string, spec.Extensions)
	}{
		{"v2", cfg.OpenAPIConfig.GetDefinitionName},
		{"v3", cfg.OpenAPIV3Config.GetDefinitionName},
	} {
		t.Run(tc.name+" namer", func(t *testing.T) {
			name, ext := tc.namer(imagePkg + "ImageStream")
			if name != "com.github.openshift.api.image.v1.ImageStream" {
				t.Errorf("name = %q", name)
			}
			want := []interface{}{map[string]interface{}{"group": "image.openshift.io", "version": "v1", "kind": "ImageStream"}}
			if diff := cmp.Diff(want, ext["x-kubernetes-group-version-kind"]); diff != "" {
				t.Errorf("GVK extension mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if cfg.OpenAPIConfig.Info.Version != "v0.0.0-test" || cfg.OpenAPIV3Config.Info.Version != "v0.0.0-test" {
		t.Errorf("info versions = %q, %q; want the given version", cfg.OpenAPIConfig.Info.Version, cfg.OpenAPIV3Config.Info.Version)
	}
}
