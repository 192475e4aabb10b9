// Package imagestreamlayers serves imagestreams/<name>/layers: every blob and image an image
// stream's history references. The integrated registry asks it on each blob HEAD and manifest
// lookup, to tell whether a blob belongs to the repository it serves.
package imagestreamlayers

import (
	imagev1 "github.com/openshift/api/image/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/imageindex"
)

// Lookup finds an image by name; found is false for an image that does not exist.
type Lookup func(name string) (img imageindex.Image, found bool, err error)

// Build walks every item of every status tag history of the stream (not only the heads: the
// registry serves older digests too), and the children of manifest lists recursively, and
// returns what they reference:
//   - blobs: each layer {size, mediaType}; each config {size null, config media type}; each
//     image's own manifest {size null, manifest media type, schema2 when unknown}. The first
//     mention of a digest wins.
//   - images: each image's layers, config and children, or imageMissing for one that is gone.
//
// blobs and images are never nil, so that they serialize as {} rather than null.
func Build(stream *imagev1.ImageStream, lookup Lookup) (*imagev1.ImageStreamLayers, error) {
	isl := &imagev1.ImageStreamLayers{
		ObjectMeta: *stream.ObjectMeta.DeepCopy(),
		Blobs:      map[string]imagev1.ImageLayerData{},
		Images:     map[string]imagev1.ImageBlobReferences{},
	}
	for _, tag := range stream.Status.Tags {
		for _, item := range tag.Items {
			if item.Image == "" {
				continue
			}
			if err := addImage(isl, item.Image, lookup); err != nil {
				return nil, err
			}
		}
	}
	return isl, nil
}

// addImage adds one image and, for a manifest list, its children. An image already in the
// answer is not walked again, which also ends a list that (absurdly) contains itself.
func addImage(isl *imagev1.ImageStreamLayers, name string, lookup Lookup) error {
	if _, done := isl.Images[name]; done {
		return nil
	}
	img, found, err := lookup(name)
	if err != nil {
		return err
	}
	if !found {
		isl.Images[name] = imagev1.ImageBlobReferences{ImageMissing: true}
		return nil
	}

	var refs imagev1.ImageBlobReferences
	for _, l := range img.Layers {
		refs.Layers = append(refs.Layers, l.Digest)
		if _, ok := isl.Blobs[l.Digest]; !ok {
			size := l.Size
			isl.Blobs[l.Digest] = imagev1.ImageLayerData{LayerSize: &size, MediaType: l.MediaType}
		}
	}
	if img.Config != "" {
		config := img.Config
		refs.Config = &config
		if _, ok := isl.Blobs[config]; !ok {
			// The config's size is not stored with the image.
			isl.Blobs[config] = imagev1.ImageLayerData{MediaType: img.ConfigMediaType}
		}
	}
	refs.Manifests = img.Manifests
	if _, ok := isl.Blobs[name]; !ok {
		mediaType := img.ManifestMediaType
		if mediaType == "" {
			mediaType = imageutil.MediaTypeSchema2Manifest
		}
		isl.Blobs[name] = imagev1.ImageLayerData{MediaType: mediaType}
	}
	isl.Images[name] = refs

	for _, child := range img.Manifests {
		if err := addImage(isl, child, lookup); err != nil {
			return err
		}
	}
	return nil
}
