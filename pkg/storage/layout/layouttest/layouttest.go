// Package layouttest builds etcd values exactly as openshift-apiserver stores Images and
// ImageStreams, from the openshift/api types and the protobuf envelope alone, without this
// server's codec, so that tests can check the server against values it did not write.
//
// openshift-apiserver's stored value is the protobuf magic "k8s\x00" followed by a
// runtime.Unknown whose apiVersion is image.openshift.io/v1 and kind Image or ImageStream,
// whose raw bytes are the openshift/api image/v1 message, and whose contentEncoding and
// contentType are empty. Its objects carry no resourceVersion, and the images its registry
// records carry no managedFields and a dockerImageMetadata JSON that ends with a newline
// (OpenShift writes it with a JSON encoder, which ends every document with one).
package layouttest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// ProtobufMagic starts every protobuf value in etcd.
var ProtobufMagic = []byte("k8s\x00")

// Registry is the internal registry the images and streams name, OpenShift's default.
const Registry = "image-registry.openshift-image-registry.svc:5000"

// created is a fixed creation time, at the second precision metadata keeps.
var created = metav1.NewTime(time.Date(2024, 5, 17, 9, 30, 0, 0, time.UTC))

// Digest returns a distinct, valid sha256 digest for n.
func Digest(n int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("openshift-image-%d", n)))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Image returns the n-th of a series of distinct Images shaped like those OpenShift's
// integrated registry records on a push to namespace/repository: a schema 2 manifest with
// two layers, the docker metadata as JSON ending in a newline, no managedFields.
func Image(n int, namespace, repository string) *imagev1.Image {
	digest := Digest(n)
	config := Digest(n + 1_000_000_000)
	metadata := fmt.Sprintf(`{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":%q,"Created":"2024-05-17T09:29:12Z","ContainerConfig":{},"Config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"],"Labels":{"build":"%d"}},"Architecture":"amd64","Size":%d}`+"\n", config, n, 2_811_478+n)
	return &imagev1.Image{
		ObjectMeta: metav1.ObjectMeta{
			Name:              digest,
			UID:               types.UID(fmt.Sprintf("6f7ac1d0-0000-4000-8000-%012d", n)),
			CreationTimestamp: created,
			Annotations:       map[string]string{"image.openshift.io/dockerLayersOrder": "ascending"},
		},
		DockerImageReference:         fmt.Sprintf("%s/%s/%s@%s", Registry, namespace, repository, digest),
		DockerImageMetadata:          runtime.RawExtension{Raw: []byte(metadata)},
		DockerImageMetadataVersion:   "1.0",
		DockerImageManifestMediaType: "application/vnd.docker.distribution.manifest.v2+json",
		DockerImageLayers: []imagev1.ImageLayer{
			{Name: Digest(n + 2_000_000_000), LayerSize: 2_811_321, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"},
			{Name: Digest(n + 3_000_000_000), LayerSize: 157 + int64(n), MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"},
		},
	}
}

// ImageStream returns a stream shaped like one OpenShift keeps after pushes of images to its
// tag "latest" (newest first), with a spec tag "stable" that references an external image
// (reference: true, so nothing is imported for it) and its status entry, and the generation
// and repository OpenShift's strategy stores.
func ImageStream(namespace, name string, n int, images ...*imagev1.Image) *imagev1.ImageStream {
	generation := int64(1)
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{
			Name:              name,
			Namespace:         namespace,
			UID:               types.UID(fmt.Sprintf("0d5e1c2a-0000-4000-8000-%012d", n)),
			Generation:        generation,
			CreationTimestamp: created,
			Annotations:       map[string]string{"openshift.io/image.dockerRepositoryCheck": "2024-05-17T09:30:00Z"},
		},
		Spec: imagev1.ImageStreamSpec{
			LookupPolicy: imagev1.ImageLookupPolicy{Local: false},
			Tags: []imagev1.TagReference{{
				Name:            "stable",
				From:            &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/example/" + name + ":stable"},
				Reference:       true,
				Generation:      &generation,
				ImportPolicy:    imagev1.TagImportPolicy{ImportMode: imagev1.ImportModeLegacy},
				ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
			}},
		},
		Status: imagev1.ImageStreamStatus{
			DockerImageRepository: fmt.Sprintf("%s/%s/%s", Registry, namespace, name),
		},
	}
	// OpenShift lists status tags sorted by name.
	if len(images) != 0 {
		latest := imagev1.NamedTagEventList{Tag: "latest"}
		for i := len(images) - 1; i >= 0; i-- {
			latest.Items = append(latest.Items, imagev1.TagEvent{
				Created:              created,
				DockerImageReference: images[i].DockerImageReference,
				Image:                images[i].Name,
				Generation:           generation,
			})
		}
		stream.Status.Tags = append(stream.Status.Tags, latest)
	}
	stream.Status.Tags = append(stream.Status.Tags, imagev1.NamedTagEventList{Tag: "stable", Items: []imagev1.TagEvent{{
		Created:              created,
		DockerImageReference: "quay.io/example/" + name + ":stable",
		Generation:           generation,
	}}})
	return stream
}

// message is an openshift/api type with its generated protobuf marshalling.
type message interface {
	runtime.Object
	Marshal() ([]byte, error)
}

// kindOf names the kinds openshift-apiserver stores.
func kindOf(obj runtime.Object) (string, error) {
	switch obj.(type) {
	case *imagev1.Image:
		return "Image", nil
	case *imagev1.ImageStream:
		return "ImageStream", nil
	}
	return "", fmt.Errorf("openshift-apiserver stores no %T", obj)
}

// Encode returns the value openshift-apiserver stores for an Image or ImageStream.
func Encode(obj message) ([]byte, error) {
	kind, err := kindOf(obj)
	if err != nil {
		return nil, err
	}
	raw, err := obj.Marshal()
	if err != nil {
		return nil, err
	}
	unknown := runtime.Unknown{
		TypeMeta: runtime.TypeMeta{APIVersion: imagev1.GroupVersion.String(), Kind: kind},
		Raw:      raw,
	}
	envelope, err := unknown.Marshal()
	if err != nil {
		return nil, err
	}
	return append(bytes.Clone(ProtobufMagic), envelope...), nil
}

// Decode reads a value as openshift-apiserver would: it fails unless the value is in exactly
// the envelope Encode writes (magic, image.openshift.io/v1, the kind of into, no content
// encoding or type), then unmarshals the message into into.
func Decode(value []byte, into interface {
	runtime.Object
	Unmarshal([]byte) error
}) error {
	kind, err := kindOf(into)
	if err != nil {
		return err
	}
	body, ok := bytes.CutPrefix(value, ProtobufMagic)
	if !ok {
		return fmt.Errorf("value does not start with the protobuf magic: %q", value[:min(len(value), 16)])
	}
	var unknown runtime.Unknown
	if err := unknown.Unmarshal(body); err != nil {
		return fmt.Errorf("envelope: %w", err)
	}
	if unknown.APIVersion != imagev1.GroupVersion.String() || unknown.Kind != kind {
		return fmt.Errorf("envelope type %s %s, want %s %s", unknown.APIVersion, unknown.Kind, imagev1.GroupVersion, kind)
	}
	if unknown.ContentEncoding != "" || unknown.ContentType != "" {
		return fmt.Errorf("envelope content encoding %q and type %q, want both empty", unknown.ContentEncoding, unknown.ContentType)
	}
	return into.Unmarshal(unknown.Raw)
}
