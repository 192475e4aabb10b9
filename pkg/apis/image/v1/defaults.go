package v1

import (
	imagev1 "github.com/openshift/api/image/v1"
)

// SetDefaults_TagReferencePolicy defaults an empty reference policy to Source, as OpenShift
// does.
func SetDefaults_TagReferencePolicy(obj *imagev1.TagReferencePolicy) {
	if obj.Type == "" {
		obj.Type = imagev1.SourceTagReferencePolicy
	}
}

// SetDefaults_TagImportPolicy defaults an empty import mode to Legacy, as OpenShift does.
func SetDefaults_TagImportPolicy(obj *imagev1.TagImportPolicy) {
	if obj.ImportMode == "" {
		obj.ImportMode = imagev1.ImportModeLegacy
	}
}
