package imageutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/openshift/api/image/docker10"
	"github.com/openshift/api/image/dockerpre012"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const (
	// MetadataVersion10 is the default dockerImageMetadataVersion: openshift/api image/docker10,
	// CamelCase JSON keys.
	MetadataVersion10 = "1.0"
	// MetadataVersionPre012 selects openshift/api image/dockerpre012: snake_case top-level JSON
	// keys, CamelCase inside the configs.
	MetadataVersionPre012 = "pre012"

	// metadataGroup is the group the real server encodes dockerImageMetadata with; a bare
	// version is prefixed with it on output, so "1.0" comes back as "image.openshift.io/1.0".
	metadataGroup = "image.openshift.io"
	// metadataKind is the only kind a dockerImageMetadata object may carry.
	metadataKind = "DockerImage"
)

// MetadataError reports dockerImageMetadata or dockerImageMetadataVersion that cannot be
// decoded. The real server fails the same input in conversion, before any strategy runs, so
// API handlers answer it with 400 BadRequest. Use errors.As to tell it apart from derivation
// errors, which the real server only logs.
type MetadataError struct {
	// Message is the client-facing text; it names the offending field.
	Message string
	// Err is the underlying decoding error, if any.
	Err error
}

// Error returns the client-facing message.
func (e *MetadataError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap exposes the underlying decoding error.
func (e *MetadataError) Unwrap() error { return e.Err }

// unsupportedVersion is the error for a dockerImageMetadataVersion we cannot decode or encode.
func unsupportedVersion(version string) *MetadataError {
	return &MetadataError{Message: fmt.Sprintf("dockerImageMetadataVersion %q is not supported: use %q or %q",
		version, MetadataVersion10, MetadataVersionPre012)}
}

// knownVersion reports whether v is a bare metadata version we have a struct for.
func knownVersion(v string) bool {
	return v == MetadataVersion10 || v == MetadataVersionPre012
}

// NormalizeDockerImageMetadata decodes img.DockerImageMetadata.Raw (or .Object when Raw is
// empty) according to img.DockerImageMetadataVersion and re-encodes it the way the real server
// returns it:
//
//   - the version defaults to "1.0"; "1.0" is decoded into docker10.DockerImage (CamelCase
//     keys), "pre012" into dockerpre012.DockerImage (snake_case top-level keys);
//   - a raw apiVersion of "1.0"/"pre012" (legacy core group) or "image.openshift.io/<v>" is
//     accepted, and selects the decoding struct as the real universal decoder does; a missing
//     kind/apiVersion is tolerated; unknown fields are ignored (not strict);
//   - the output is the version's struct serialized by encoding/json with apiVersion
//     "image.openshift.io/<v>" and kind "DockerImage" (so 1.0 output always has "Id",
//     "Created" (null when zero) and "ContainerConfig": {}), stored in Raw with Object nil, and
//     DockerImageMetadataVersion is set to the bare version.
//
// Choice for an image without metadata (empty Raw, nil Object): the real server always encodes
// its internal struct on output, so an image created without metadata reads back with
// `{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"","Created":null,"ContainerConfig":{}}`
// and version "1.0". We store exactly that, so stored bytes equal what openshift returns.
//
// Errors are *MetadataError (callers answer 400). An unknown version is rejected even when the
// metadata is empty: the real server accepts it there but then fails to encode the image on
// every read (500), except for "image.openshift.io/1.0" and "image.openshift.io/pre012",
// which its encoder understands and which we therefore accept and shorten to the bare version.
func NormalizeDockerImageMetadata(img *imagev1.Image) error {
	meta, version, err := decodeMetadata(img)
	if err != nil {
		return err
	}
	return setMetadata(img, meta, version)
}

// DockerImageMetadata returns the metadata as a docker10.DockerImage, converting pre012 field by
// field, for readers such as derivation, the LimitRange check and tests. Empty metadata (no Raw,
// no Object) returns (nil, nil). Errors are *MetadataError.
func DockerImageMetadata(img *imagev1.Image) (*docker10.DockerImage, error) {
	meta, _, err := decodeMetadata(img)
	return meta, err
}

// SetDockerImageMetadata encodes meta canonically as version "1.0" into img: Raw set, Object
// nil, DockerImageMetadataVersion "1.0". A nil meta encodes the empty struct, as the
// real server does for an image without metadata.
func SetDockerImageMetadata(img *imagev1.Image, meta *docker10.DockerImage) error {
	return setMetadata(img, meta, MetadataVersion10)
}

// decodeMetadata returns the image's metadata in docker10 form (nil when empty) together with
// the bare version the image must be stored with.
func decodeMetadata(img *imagev1.Image) (*docker10.DockerImage, string, error) {
	version := img.DockerImageMetadataVersion
	if version == "" {
		version = MetadataVersion10
	}

	raw := img.DockerImageMetadata.Raw
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		raw = nil
	}
	if raw == nil && img.DockerImageMetadata.Object != nil {
		// Typed objects are taken as they are: their Go type, not the version string, says
		// how they are shaped.
		switch obj := img.DockerImageMetadata.Object.(type) {
		case *docker10.DockerImage:
			if !knownVersion(version) {
				return nil, "", unsupportedVersion(version)
			}
			return obj.DeepCopy(), version, nil
		case *dockerpre012.DockerImage:
			if !knownVersion(version) {
				return nil, "", unsupportedVersion(version)
			}
			return fromPre012(obj), version, nil
		}
		data, err := json.Marshal(img.DockerImageMetadata.Object)
		if err != nil {
			return nil, "", &MetadataError{Message: "dockerImageMetadata: cannot serialize object", Err: err}
		}
		raw = data
	}

	if raw == nil {
		// Nothing to decode, so only the encoder has to understand the version (see
		// NormalizeDockerImageMetadata).
		if v, ok := strings.CutPrefix(version, metadataGroup+"/"); ok && knownVersion(v) {
			version = v
		}
		if !knownVersion(version) {
			return nil, "", unsupportedVersion(version)
		}
		return nil, version, nil
	}

	if !knownVersion(version) {
		return nil, "", unsupportedVersion(version)
	}
	// A registry's push carries no metadata: normalization stores the empty encoding, and
	// the server's own derivation decodes it again straight after. Recognising those bytes
	// spares the JSON decoder; the result is what it would give (TestEmptyEncodingDecodes).
	if shape, ok := emptyEncodingVersion(raw); ok {
		if shape == MetadataVersionPre012 {
			return fromPre012(&dockerpre012.DockerImage{}), version, nil
		}
		return &docker10.DockerImage{}, version, nil
	}

	var tm metav1.TypeMeta
	if err := json.Unmarshal(raw, &tm); err != nil {
		return nil, "", &MetadataError{Message: "dockerImageMetadata: invalid JSON", Err: err}
	}
	if tm.Kind != "" && tm.Kind != metadataKind {
		return nil, "", &MetadataError{Message: fmt.Sprintf("dockerImageMetadata: kind %q is not supported: use %q", tm.Kind, metadataKind)}
	}
	// The raw apiVersion, when present, decides the shape (the real universal decoder decodes
	// by the object's own apiVersion and converts); the version field decides the output.
	shape := version
	if tm.APIVersion != "" {
		v := strings.TrimPrefix(tm.APIVersion, metadataGroup+"/")
		if !knownVersion(v) {
			return nil, "", &MetadataError{Message: fmt.Sprintf("dockerImageMetadata: apiVersion %q is not supported: use %q or %q",
				tm.APIVersion, metadataGroup+"/"+MetadataVersion10, metadataGroup+"/"+MetadataVersionPre012)}
		}
		shape = v
	}

	switch shape {
	case MetadataVersionPre012:
		var pre dockerpre012.DockerImage
		if err := json.Unmarshal(raw, &pre); err != nil {
			return nil, "", &MetadataError{Message: fmt.Sprintf("dockerImageMetadata: cannot decode as version %q", shape), Err: err}
		}
		return fromPre012(&pre), version, nil
	default:
		var meta docker10.DockerImage
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, "", &MetadataError{Message: fmt.Sprintf("dockerImageMetadata: cannot decode as version %q", shape), Err: err}
		}
		meta.TypeMeta = metav1.TypeMeta{}
		return &meta, version, nil
	}
}

// setMetadata encodes meta in the given known bare version and stores it canonically.
func setMetadata(img *imagev1.Image, meta *docker10.DockerImage, version string) error {
	raw, err := encodeMetadata(meta, version)
	if err != nil {
		return err
	}
	img.DockerImageMetadata = runtime.RawExtension{Raw: raw}
	img.DockerImageMetadataVersion = version
	return nil
}

// encodeMetadata serializes meta as the version's struct with apiVersion
// "image.openshift.io/<version>" and kind DockerImage, as the real server encodes it.
func encodeMetadata(meta *docker10.DockerImage, version string) ([]byte, error) {
	if meta == nil {
		if empty, ok := emptyEncodings[version]; ok {
			return bytes.Clone(empty), nil
		}
		meta = &docker10.DockerImage{}
	}
	tm := metav1.TypeMeta{APIVersion: metadataGroup + "/" + version, Kind: metadataKind}
	switch version {
	case MetadataVersion10:
		out := *meta
		out.TypeMeta = tm
		return json.Marshal(&out)
	case MetadataVersionPre012:
		out := toPre012(meta)
		out.TypeMeta = tm
		return json.Marshal(out)
	default:
		return nil, unsupportedVersion(version)
	}
}

// emptyEncodings holds, by known version, the encoding of empty metadata: every image pushed
// without metadata gets one, so it is encoded once, here.
var emptyEncodings = func() map[string][]byte {
	out := map[string][]byte{}
	for _, v := range []string{MetadataVersion10, MetadataVersionPre012} {
		tm := metav1.TypeMeta{APIVersion: metadataGroup + "/" + v, Kind: metadataKind}
		var data []byte
		var err error
		if v == MetadataVersion10 {
			data, err = json.Marshal(&docker10.DockerImage{TypeMeta: tm})
		} else {
			pre := toPre012(&docker10.DockerImage{})
			pre.TypeMeta = tm
			data, err = json.Marshal(pre)
		}
		if err != nil {
			panic(fmt.Sprintf("encoding empty image metadata %q: %v", v, err))
		}
		out[v] = data
	}
	return out
}()

// emptyEncodingVersion reports whether raw is exactly the empty encoding of a known version,
// and which.
func emptyEncodingVersion(raw []byte) (string, bool) {
	for v, empty := range emptyEncodings {
		if bytes.Equal(raw, empty) {
			return v, true
		}
	}
	return "", false
}

// fromPre012 converts a pre012 image to docker10. The two DockerConfig structs have identical
// fields, so a struct conversion copies them all and stops compiling if openshift/api ever
// lets them drift apart.
func fromPre012(in *dockerpre012.DockerImage) *docker10.DockerImage {
	in = in.DeepCopy()
	out := &docker10.DockerImage{
		ID:              in.ID,
		Parent:          in.Parent,
		Comment:         in.Comment,
		Created:         in.Created,
		Container:       in.Container,
		ContainerConfig: docker10.DockerConfig(in.ContainerConfig),
		DockerVersion:   in.DockerVersion,
		Author:          in.Author,
		Architecture:    in.Architecture,
		Size:            in.Size,
	}
	if in.Config != nil {
		c := docker10.DockerConfig(*in.Config)
		out.Config = &c
	}
	return out
}

// toPre012 is the inverse of fromPre012, used to store derived metadata in an image that keeps
// version pre012.
func toPre012(in *docker10.DockerImage) *dockerpre012.DockerImage {
	in = in.DeepCopy()
	out := &dockerpre012.DockerImage{
		ID:              in.ID,
		Parent:          in.Parent,
		Comment:         in.Comment,
		Created:         in.Created,
		Container:       in.Container,
		ContainerConfig: dockerpre012.DockerConfig(in.ContainerConfig),
		DockerVersion:   in.DockerVersion,
		Author:          in.Author,
		Architecture:    in.Architecture,
		Size:            in.Size,
	}
	if in.Config != nil {
		c := dockerpre012.DockerConfig(*in.Config)
		out.Config = &c
	}
	return out
}
