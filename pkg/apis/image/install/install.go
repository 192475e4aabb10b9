// Package install registers the image.openshift.io API with a scheme. It is the only place that
// registers types.
package install

import (
	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	v1 "github.com/image-apiserver/image-apiserver/pkg/apis/image/v1"
)

// InternalGroupVersion is the in-memory version. Its Go types are the v1 types themselves
// (no separate internal types to keep in step): converting between v1 and __internal only
// changes the kind's version.
var InternalGroupVersion = schema.GroupVersion{Group: imagev1.GroupName, Version: runtime.APIVersionInternal}

// Install registers v1 with its defaults and field labels, and the same types as __internal.
func Install(scheme *runtime.Scheme) {
	utilruntime.Must(imagev1.Install(scheme))
	utilruntime.Must(InstallExternal(scheme))
	utilruntime.Must(addInternalTypes(scheme))
	utilruntime.Must(scheme.SetVersionPriority(imagev1.GroupVersion))
}

// InstallExternal adds our defaulters and field-label conversions for v1 to a scheme that
// already knows the openshift v1 types.
func InstallExternal(scheme *runtime.Scheme) error {
	if err := v1.RegisterDefaults(scheme); err != nil {
		return err
	}
	return v1.AddFieldLabelConversions(scheme)
}

// addInternalTypes registers every kind that storage or REST returns under __internal.
func addInternalTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(InternalGroupVersion,
		&imagev1.Image{},
		&imagev1.ImageList{},
		&imagev1.ImageStream{},
		&imagev1.ImageStreamList{},
		&imagev1.ImageStreamMapping{},
		&imagev1.ImageStreamTag{},
		&imagev1.ImageStreamTagList{},
		&imagev1.ImageTag{},
		&imagev1.ImageTagList{},
		&imagev1.ImageStreamImage{},
		&imagev1.ImageSignature{},
		&imagev1.ImageStreamLayers{},
		&imagev1.SecretList{},
		&imagev1.ImageStreamImport{},
	)
	return nil
}
