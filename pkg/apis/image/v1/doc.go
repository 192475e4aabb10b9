// Package v1 holds what image-apiserver adds to github.com/openshift/api/image/v1, which it
// serves directly as its in-memory (hub) type, also registered as __internal: defaulting
// functions and field-selector conversions. The types themselves stay in openshift/api.
//
// +k8s:defaulter-gen=TypeMeta
// +k8s:defaulter-gen-input=github.com/openshift/api/image/v1
package v1
