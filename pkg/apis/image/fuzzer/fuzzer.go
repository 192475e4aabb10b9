// Package fuzzer holds the randfill functions that make random image.openshift.io objects look
// like objects the server could store, so that JSON and protobuf round-trip tests exercise the
// serializations rather than trip over values no request can produce.
package fuzzer

import (
	"fmt"
	"strconv"

	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
)

// Funcs returns the fuzzer functions of the image.openshift.io group, in the shape
// k8s.io/apimachinery/pkg/api/apitesting/fuzzer.FuzzerFuncs expects. Merge them after the meta
// fuzzer functions: the RawExtension function here replaces the meta one.
func Funcs(_ runtimeserializer.CodecFactory) []interface{} {
	return []interface{}{
		fuzzRawExtension,
		fuzzImage,
		fuzzImageStream,
		fuzzTagReferencePolicy,
		fuzzTagImportPolicy,
	}
}

// fuzzRawExtension fills the only RawExtension of the group, Image.dockerImageMetadata, the way
// the server stores it: nil, or canonical docker10 JSON in Raw with Object nil. Protobuf
// marshals a RawExtension from Raw alone and silently drops Object, and the
// JSON serializer writes Raw verbatim, so only canonical bytes survive both unchanged.
func fuzzRawExtension(r *runtime.RawExtension, c randfill.Continue) {
	r.Object = nil
	r.Raw = nil
	if c.Bool() {
		return
	}
	meta := &docker10.DockerImage{}
	c.Fill(meta)
	var img imagev1.Image
	if err := imageutil.SetDockerImageMetadata(&img, meta); err != nil {
		panic(fmt.Sprintf("encoding fuzzed docker metadata: %v", err))
	}
	r.Raw = img.DockerImageMetadata.Raw
}

// fuzzImage keeps dockerImageMetadataVersion consistent with the metadata: "1.0" when there is
// metadata, as NormalizeDockerImageMetadata stores it, and empty otherwise.
func fuzzImage(img *imagev1.Image, c randfill.Continue) {
	c.FillNoCustom(img)
	img.DockerImageMetadataVersion = ""
	if len(img.DockerImageMetadata.Raw) > 0 {
		img.DockerImageMetadataVersion = imageutil.MetadataVersion10
	}
}

// fuzzImageStream gives spec and status tags unique, non-empty names in sorted order, as
// validation and Canonicalize guarantee for stored streams.
func fuzzImageStream(stream *imagev1.ImageStream, c randfill.Continue) {
	c.FillNoCustom(stream)
	for i := range stream.Spec.Tags {
		stream.Spec.Tags[i].Name = "t" + strconv.Itoa(i) + "-" + randTagSuffix(c)
	}
	for i := range stream.Status.Tags {
		stream.Status.Tags[i].Tag = "t" + strconv.Itoa(i) + "-" + randTagSuffix(c)
	}
	imageutil.SortTags(stream)
}

// fuzzTagReferencePolicy picks a valid, already defaulted type: decoding defaults an empty one
// to Source, which a round trip would report as a change.
func fuzzTagReferencePolicy(p *imagev1.TagReferencePolicy, c randfill.Continue) {
	p.Type = []imagev1.TagReferencePolicyType{imagev1.SourceTagReferencePolicy, imagev1.LocalTagReferencePolicy}[c.Intn(2)]
}

// fuzzTagImportPolicy picks a valid, already defaulted import mode (decoding defaults an empty
// one to Legacy) and random flags.
func fuzzTagImportPolicy(p *imagev1.TagImportPolicy, c randfill.Continue) {
	p.Insecure = c.Bool()
	p.Scheduled = c.Bool()
	p.ImportMode = []imagev1.ImportModeType{imagev1.ImportModeLegacy, imagev1.ImportModePreserveOriginal}[c.Intn(2)]
}

// randTagSuffix returns a short tag-name-safe suffix ([a-z0-9]).
func randTagSuffix(c randfill.Continue) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 1+c.Intn(8))
	for i := range b {
		b[i] = chars[c.Intn(len(chars))]
	}
	return string(b)
}
