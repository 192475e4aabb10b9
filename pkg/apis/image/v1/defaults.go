package v1

import (
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
)

// SetDefaults_TagReferencePolicy defaults an empty reference policy to Source, as OpenShift
// does.
func SetDefaults_TagReferencePolicy(obj *imagev1.TagReferencePolicy) {
	if obj.Type == "" {
		obj.Type = imagev1.SourceTagReferencePolicy
	}
}

// DefaultImportMode is the import mode of tags and imports that name none: Legacy, as
// OpenShift's default, unless the server's --image-import-mode says otherwise. Set once at
// startup, before any request is decoded.
var DefaultImportMode = imagev1.ImportModeLegacy

// SetDefaults_TagImportPolicy defaults an empty import mode to DefaultImportMode.
func SetDefaults_TagImportPolicy(obj *imagev1.TagImportPolicy) {
	if obj.ImportMode == "" {
		obj.ImportMode = DefaultImportMode
	}
}

// SetDefaults_ImageImportSpec makes an image imported by tag land on the same tag of the
// target stream, as OpenShift does; an image imported by digest alone has no target tag.
func SetDefaults_ImageImportSpec(obj *imagev1.ImageImportSpec) {
	if obj.To != nil || obj.From.Kind != "DockerImage" {
		return
	}
	if ref, err := reference.Parse(obj.From.Name); err == nil && ref.Tag != "" {
		obj.To = &corev1.LocalObjectReference{Name: ref.Tag}
	}
}
