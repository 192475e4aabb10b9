package imageutil

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Media types the derivation distinguishes.
const (
	MediaTypeSchema1Manifest       = "application/vnd.docker.distribution.manifest.v1+json"
	MediaTypeSchema1SignedManifest = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	MediaTypeSchema1Layer          = "application/vnd.docker.container.image.rootfs.diff+x-gtar"
	MediaTypeSchema2Manifest       = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeManifestList          = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeOCIManifest           = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex              = "application/vnd.oci.image.index.v1+json"
)

const (
	// managedSignatureAnnotation was once set on signatures by the signature import
	// controller; the real server strips it on every write.
	managedSignatureAnnotation = "image.openshift.io/managed-signature"
)

// now is the clock for the metadata `Created` of manifest lists; tests replace it.
var now = time.Now

// manifest is the union of the manifest shapes we read: schema1 (signed or not), schema2, OCI
// image manifest, Docker manifest list and OCI index. Only the fields the derivation uses are here.
type manifest struct {
	SchemaVersion int    `json:"schemaVersion"`
	MediaType     string `json:"mediaType,omitempty"`

	// schema1
	FSLayers []struct {
		BlobSum string `json:"blobSum"`
	} `json:"fsLayers,omitempty"`
	History []struct {
		V1Compatibility string `json:"v1Compatibility"`
	} `json:"history,omitempty"`

	// schema2 / OCI image manifest
	Config descriptor   `json:"config"`
	Layers []descriptor `json:"layers,omitempty"`

	// manifest list / OCI index
	Manifests []struct {
		descriptor
		Platform *struct {
			Architecture string `json:"architecture"`
			OS           string `json:"os"`
			Variant      string `json:"variant,omitempty"`
		} `json:"platform,omitempty"`
	} `json:"manifests,omitempty"`
}

// descriptor points at a blob or manifest by digest.
type descriptor struct {
	MediaType string `json:"mediaType,omitempty"`
	Size      int64  `json:"size"`
	Digest    string `json:"digest"`
}

// imageConfig is the Docker image config JSON (schema2/OCI config blob) and equally a schema1
// history entry's v1Compatibility: snake_case top-level keys, CamelCase inside the configs.
type imageConfig struct {
	ID              string                 `json:"id"`
	Parent          string                 `json:"parent,omitempty"`
	Comment         string                 `json:"comment,omitempty"`
	Created         time.Time              `json:"created"`
	Container       string                 `json:"container,omitempty"`
	ContainerConfig docker10.DockerConfig  `json:"container_config,omitempty"`
	DockerVersion   string                 `json:"docker_version,omitempty"`
	Author          string                 `json:"author,omitempty"`
	Config          *docker10.DockerConfig `json:"config,omitempty"`
	Architecture    string                 `json:"architecture,omitempty"`
	Size            int64                  `json:"size,omitempty"`
}

// toDockerImage replaces the whole metadata with the config, as the real conversion does.
func (c *imageConfig) toDockerImage() *docker10.DockerImage {
	return &docker10.DockerImage{
		ID:              c.ID,
		Parent:          c.Parent,
		Comment:         c.Comment,
		Created:         metav1.NewTime(c.Created),
		Container:       c.Container,
		ContainerConfig: c.ContainerConfig,
		DockerVersion:   c.DockerVersion,
		Author:          c.Author,
		Config:          c.Config,
		Architecture:    c.Architecture,
		Size:            c.Size,
	}
}

// isListType reports whether mediaType names a Docker manifest list or an OCI image index.
func isListType(mediaType string) bool {
	return mediaType == MediaTypeManifestList || mediaType == MediaTypeOCIIndex
}

// ImageWithMetadata fills img's dockerImageMetadata, dockerImageLayers, layer-order annotation
// and dockerImageManifestMediaType from dockerImageManifest and dockerImageConfig, as OpenShift
// does. It is a no-op when the manifest is empty (the documentation's example mapping,
// examples/mapping.yaml, keeps its metadata as sent). It returns errors instead of logging them;
// *MetadataError means the stored metadata itself is unreadable, anything else is a derivation
// problem the real server only logs. Metadata keeps the image's version (a pre012 image stays
// pre012).
func ImageWithMetadata(img *imagev1.Image) error {
	if len(img.DockerImageManifest) == 0 {
		return nil
	}
	meta, version, err := decodeMetadata(img)
	if err != nil {
		return err
	}
	derived, err := deriveMetadata(img, meta)
	if err != nil || derived == nil {
		return err
	}
	return setMetadata(img, derived, version)
}

// deriveMetadata is ImageWithMetadata on metadata already decoded (meta, nil when empty): it
// fills the layers and media type of img and returns the derived metadata, or nil when meta
// stays as it is. Callers that decode and encode the metadata anyway save a round of each.
func deriveMetadata(img *imagev1.Image, meta *docker10.DockerImage) (*docker10.DockerImage, error) {
	if len(img.DockerImageManifest) == 0 {
		return nil, nil
	}
	reorderImageLayers(img)

	// Already derived (e.g. re-read by ISTag/ISI): the registry sends all three.
	if len(img.DockerImageLayers) > 0 && meta != nil && meta.Size > 0 && img.DockerImageManifestMediaType != "" {
		return nil, nil
	}

	var m manifest
	if err := json.Unmarshal([]byte(img.DockerImageManifest), &m); err != nil {
		return nil, fmt.Errorf("cannot parse dockerImageManifest of image %q: %w", img.Name, err)
	}

	// Manifest lists have no config or layers: only the basics are set. We also honour a
	// declared list type when the JSON omits mediaType (optional in OCI indexes), which the
	// real server would instead mistake for a config-less schema2 manifest.
	if isListType(m.MediaType) || (m.MediaType == "" && m.SchemaVersion == 2 && isListType(img.DockerImageManifestMediaType)) {
		listMeta := &docker10.DockerImage{}
		if meta != nil {
			listMeta = meta.DeepCopy()
		}
		listMeta.ID = img.Name
		listMeta.Created = metav1.NewTime(now())
		return listMeta, nil
	}

	if err := fillImageLayers(img, &m); err != nil {
		return nil, err
	}

	var derived *docker10.DockerImage
	switch m.SchemaVersion {
	case 1:
		img.DockerImageManifestMediaType = MediaTypeSchema1Manifest
		if len(m.History) == 0 {
			return nil, fmt.Errorf("image %q (%s) has a schema 1 manifest without history", img.Name, img.DockerImageReference)
		}
		var c imageConfig
		if err := json.Unmarshal([]byte(m.History[0].V1Compatibility), &c); err != nil {
			return nil, fmt.Errorf("cannot parse v1Compatibility of image %q: %w", img.Name, err)
		}
		derived = c.toDockerImage()
	case 2:
		switch {
		case m.MediaType != "":
			img.DockerImageManifestMediaType = m.MediaType
		case img.DockerImageManifestMediaType == "":
			img.DockerImageManifestMediaType = MediaTypeSchema2Manifest
		}
		if len(img.DockerImageConfig) == 0 {
			return nil, fmt.Errorf("dockerImageConfig must not be empty for manifest type %q", img.DockerImageManifestMediaType)
		}
		var c imageConfig
		if err := json.Unmarshal([]byte(img.DockerImageConfig), &c); err != nil {
			return nil, fmt.Errorf("failed to parse dockerImageConfig: %w", err)
		}
		derived = c.toDockerImage()
		derived.ID = m.Config.Digest
	default:
		return nil, fmt.Errorf("unrecognized container image manifest schema %d for %q (%s)", m.SchemaVersion, img.Name, img.DockerImageReference)
	}

	// Size counts every distinct blob once; for schema2 the config blob counts too and a
	// layer that happens to be the config is not counted twice.
	seen := map[string]bool{}
	derived.Size = 0
	if m.SchemaVersion == 2 {
		seen[m.Config.Digest] = true
		derived.Size = int64(len(img.DockerImageConfig))
	}
	for _, l := range img.DockerImageLayers {
		if seen[l.Name] {
			continue
		}
		seen[l.Name] = true
		derived.Size += l.LayerSize
	}
	return derived, nil
}

// fillImageLayers derives dockerImageLayers from the manifest unless the client (the registry)
// already supplied them; the stored order is always oldest layer first.
func fillImageLayers(img *imagev1.Image, m *manifest) error {
	if len(img.DockerImageLayers) != 0 {
		return nil
	}
	switch m.SchemaVersion {
	case 1:
		if len(m.History) != len(m.FSLayers) {
			return fmt.Errorf("image %q (%s) has mismatched history and fsLayers cardinality (%d != %d)",
				img.Name, img.DockerImageReference, len(m.History), len(m.FSLayers))
		}
		layers := make([]imagev1.ImageLayer, len(m.FSLayers))
		for i, h := range m.History {
			// A history entry without a readable size still names a layer; the real server
			// counts it as size 0.
			var size struct {
				Size int64 `json:"size"`
			}
			_ = json.Unmarshal([]byte(h.V1Compatibility), &size)
			// schema1 lists the newest layer first.
			layers[len(layers)-1-i] = imagev1.ImageLayer{
				Name:      m.FSLayers[i].BlobSum,
				LayerSize: size.Size,
				MediaType: MediaTypeSchema1Layer,
			}
		}
		img.DockerImageLayers = layers
	case 2:
		layers := make([]imagev1.ImageLayer, len(m.Layers))
		for i, l := range m.Layers {
			layers[i] = imagev1.ImageLayer{Name: l.Digest, LayerSize: l.Size, MediaType: l.MediaType}
		}
		img.DockerImageLayers = layers
	default:
		return fmt.Errorf("unrecognized container image manifest schema %d for %q (%s)", m.SchemaVersion, img.Name, img.DockerImageReference)
	}
	setAnnotation(img, imagev1.DockerImageLayersOrderAnnotation, imagev1.DockerImageLayersOrderAscending)
	return nil
}

// reorderImageLayers brings client-supplied layers into ascending order. Without the order
// annotation the manifest media type implies it: schema1 clients send ascending, schema2/OCI
// clients descending; for any other type the layers are left alone.
func reorderImageLayers(img *imagev1.Image) {
	if len(img.DockerImageLayers) == 0 {
		return
	}
	order, ok := img.Annotations[imagev1.DockerImageLayersOrderAnnotation]
	if !ok {
		switch img.DockerImageManifestMediaType {
		case MediaTypeSchema1Manifest, MediaTypeSchema1SignedManifest:
			order = imagev1.DockerImageLayersOrderAscending
		case MediaTypeSchema2Manifest, MediaTypeOCIManifest:
			order = imagev1.DockerImageLayersOrderDescending
		default:
			return
		}
	}
	if order == imagev1.DockerImageLayersOrderDescending {
		l := img.DockerImageLayers
		for i, j := 0, len(l)-1; i < j; i, j = i+1, j-1 {
			l[i], l[j] = l[j], l[i]
		}
	}
	setAnnotation(img, imagev1.DockerImageLayersOrderAnnotation, imagev1.DockerImageLayersOrderAscending)
}

// setAnnotation sets one annotation, allocating the map if needed.
func setAnnotation(img *imagev1.Image, key, value string) {
	if img.Annotations == nil {
		img.Annotations = map[string]string{}
	}
	img.Annotations[key] = value
}

// fillManifestList populates dockerImageManifests when dockerImageManifest is a Docker
// manifest list or an OCI index. The type is the declared
// dockerImageManifestMediaType, or the JSON's own mediaType when none is declared; a
// contradicting JSON mediaType means the manifest is not a list.
func fillManifestList(img *imagev1.Image) error {
	if len(img.DockerImageManifest) == 0 {
		return nil
	}
	declared := img.DockerImageManifestMediaType
	if declared != "" && !isListType(declared) {
		return nil
	}
	var m manifest
	if err := json.Unmarshal([]byte(img.DockerImageManifest), &m); err != nil {
		return fmt.Errorf("cannot parse manifest of image %q: %w", img.Name, err)
	}
	mediaType := declared
	if mediaType == "" {
		mediaType = m.MediaType
	}
	if !isListType(mediaType) || (m.MediaType != "" && m.MediaType != mediaType) {
		return nil
	}
	manifests := make([]imagev1.ImageManifest, 0, len(m.Manifests))
	for _, d := range m.Manifests {
		im := imagev1.ImageManifest{Digest: d.Digest, MediaType: d.MediaType, ManifestSize: d.Size}
		if d.Platform != nil {
			im.Architecture = d.Platform.Architecture
			im.OS = d.Platform.OS
			im.Variant = d.Platform.Variant
		}
		manifests = append(manifests, im)
	}
	img.DockerImageManifests = manifests
	return nil
}

// removeManagedSignatureAnnotation strips an annotation that an old update bug let clients set
// on signatures, bypassing validation (rhbz#1557607).
func removeManagedSignatureAnnotation(img *imagev1.Image) {
	for i := range img.Signatures {
		delete(img.Signatures[i].Annotations, managedSignatureAnnotation)
	}
}

// clearStoredBlobs drops manifest and config when the registry says it keeps them in blob
// storage, so pushed images store neither.
func clearStoredBlobs(img *imagev1.Image) {
	if img.Annotations[imagev1.ImageManifestBlobStoredAnnotation] == "true" {
		img.DockerImageManifest = ""
		img.DockerImageConfig = ""
	}
}

// PrepareImageForCreate prepares a new image as OpenShift does, in order: metadata derivation
// (ImageWithMetadata), manifest list → dockerImageManifests, manifestBlobStored clearing,
// managed-signature removal, and finally NormalizeDockerImageMetadata so that the stored
// metadata is canonical.
//
// Unreadable metadata is a *MetadataError returned before anything changes (the real server
// fails it in conversion, 400). Derivation and manifest-list errors do not stop the other steps;
// they are returned joined so that the caller decides: the real server only logs them.
func PrepareImageForCreate(img *imagev1.Image) error {
	// Decoded once and encoded once: the derivation works on the decoded metadata, and the
	// final encoding is the canonical one NormalizeDockerImageMetadata would give.
	meta, version, err := decodeMetadata(img)
	if err != nil {
		return err
	}
	var errs []error
	if derived, err := deriveMetadata(img, meta); err != nil {
		errs = append(errs, err)
	} else if derived != nil {
		meta = derived
	}
	if err := fillManifestList(img); err != nil {
		errs = append(errs, err)
	}
	clearStoredBlobs(img)
	removeManagedSignatureAnnotation(img)
	if err := setMetadata(img, meta, version); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// PrepareImageForUpdate applies OpenShift's silent resets of an image update (no errors) to
// newImg against the stored oldImg: dockerImageMetadata, its version and dockerImageLayers
// always revert;
// dockerImageSignatures revert when stored ones exist; a changed dockerImageManifest is kept
// only when empty or when its canonical digest equals the image name (by the stored media
// type); a changed dockerImageConfig is kept only when empty or when it hashes to the
// manifest's config digest (schema2/OCI). Then metadata is re-derived and the create
// clean-ups run (manifestBlobStored clearing, managed-signature removal, normalization);
// manifest lists are not re-expanded, as in the real server.
//
// oldImg is never modified and newImg shares no slices with it. Errors follow
// PrepareImageForCreate: *MetadataError for unreadable metadata in newImg (checked first, as
// conversion would), everything else joined for the caller to log.
func PrepareImageForUpdate(newImg, oldImg *imagev1.Image) error {
	if _, _, err := decodeMetadata(newImg); err != nil {
		return err
	}
	old := oldImg.DeepCopy()

	newImg.DockerImageMetadata = old.DockerImageMetadata
	newImg.DockerImageMetadataVersion = old.DockerImageMetadataVersion
	newImg.DockerImageLayers = old.DockerImageLayers
	if old.DockerImageSignatures != nil {
		newImg.DockerImageSignatures = old.DockerImageSignatures
	}

	var errs []error
	if newImg.DockerImageManifest != old.DockerImageManifest && newImg.DockerImageManifest != "" {
		ok, err := manifestMatchesImage(old, []byte(newImg.DockerImageManifest))
		if err != nil {
			errs = append(errs, fmt.Errorf("cannot verify that the new manifest of image %q matches its name: %w", old.Name, err))
		}
		if !ok {
			newImg.DockerImageManifest = old.DockerImageManifest
		}
	}
	if newImg.DockerImageConfig != old.DockerImageConfig && newImg.DockerImageConfig != "" {
		ok, err := imageConfigMatchesImage(newImg, []byte(newImg.DockerImageConfig))
		if err != nil {
			errs = append(errs, fmt.Errorf("cannot verify that the new config of image %q is the one its manifest names: %w", old.Name, err))
		}
		if !ok {
			newImg.DockerImageConfig = old.DockerImageConfig
		}
	}

	if err := ImageWithMetadata(newImg); err != nil {
		var me *MetadataError
		if errors.As(err, &me) {
			return err
		}
		errs = append(errs, err)
	}
	clearStoredBlobs(newImg)
	removeManagedSignatureAnnotation(newImg)
	if err := NormalizeDockerImageMetadata(newImg); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// manifestMatchesImage reports whether the canonical form of a manifest hashes to the image
// name, interpreting the manifest by the stored media type (schema1 when unset).
func manifestMatchesImage(img *imagev1.Image, data []byte) (bool, error) {
	var canonical []byte
	switch img.DockerImageManifestMediaType {
	case MediaTypeSchema2Manifest, MediaTypeOCIManifest:
		// These manifests are their own canonical form; only check that it is JSON.
		if !json.Valid(data) {
			return false, errors.New("manifest is not valid JSON")
		}
		canonical = data
	case MediaTypeSchema1Manifest, MediaTypeSchema1SignedManifest, "":
		c, err := schema1Canonical(data)
		if err != nil {
			return false, err
		}
		canonical = c
	default:
		return false, fmt.Errorf("unsupported manifest media type %q", img.DockerImageManifestMediaType)
	}
	return digestMatches(img.Name, canonical)
}

// imageConfigMatchesImage reports whether config hashes to the config digest named by the
// image's manifest; only schema2 and OCI manifests name a config.
func imageConfigMatchesImage(img *imagev1.Image, config []byte) (bool, error) {
	if img.DockerImageManifestMediaType != MediaTypeSchema2Manifest && img.DockerImageManifestMediaType != MediaTypeOCIManifest {
		return false, nil
	}
	var m manifest
	if err := json.Unmarshal([]byte(img.DockerImageManifest), &m); err != nil {
		return false, fmt.Errorf("cannot parse manifest: %w", err)
	}
	return digestMatches(m.Config.Digest, config)
}

// schema1Canonical returns the payload a schema1 manifest's digest is computed over: for a
// signed (JWS "pretty") manifest, the bytes before the signatures plus the tail recorded in
// the first signature's protected header; an unsigned manifest is its own payload.
func schema1Canonical(data []byte) ([]byte, error) {
	var env struct {
		Signatures []struct {
			Protected string `json:"protected"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("cannot parse schema1 manifest: %w", err)
	}
	if len(env.Signatures) == 0 {
		return data, nil
	}
	protected, err := decodeJOSEBase64(env.Signatures[0].Protected)
	if err != nil {
		return nil, fmt.Errorf("cannot decode protected header: %w", err)
	}
	var hdr struct {
		FormatLength int    `json:"formatLength"`
		FormatTail   string `json:"formatTail"`
	}
	if err := json.Unmarshal(protected, &hdr); err != nil {
		return nil, fmt.Errorf("cannot parse protected header: %w", err)
	}
	tail, err := decodeJOSEBase64(hdr.FormatTail)
	if err != nil {
		return nil, fmt.Errorf("cannot decode formatTail: %w", err)
	}
	if hdr.FormatLength < 0 || hdr.FormatLength > len(data) {
		return nil, fmt.Errorf("formatLength %d out of range", hdr.FormatLength)
	}
	out := make([]byte, 0, hdr.FormatLength+len(tail))
	out = append(out, data[:hdr.FormatLength]...)
	return append(out, tail...), nil
}

// decodeJOSEBase64 decodes base64url with or without padding, as JWS producers differ.
func decodeJOSEBase64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// digestMatches reports whether content hashes to dgst ("algo:hex"); the algorithms are those
// the OCI digest package verifies (and D5 allows as image names).
func digestMatches(dgst string, content []byte) (bool, error) {
	algo, want, ok := strings.Cut(dgst, ":")
	if !ok {
		return false, fmt.Errorf("invalid digest %q", dgst)
	}
	var h hash.Hash
	switch algo {
	case "sha256":
		h = sha256.New()
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	default:
		return false, fmt.Errorf("unsupported digest algorithm %q in %q", algo, dgst)
	}
	if len(want) != 2*h.Size() || strings.ToLower(want) != want {
		return false, fmt.Errorf("invalid digest %q", dgst)
	}
	if _, err := hex.DecodeString(want); err != nil {
		return false, fmt.Errorf("invalid digest %q", dgst)
	}
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil)) == want, nil
}

// Digest returns the sha256 digest ("sha256:<hex>") of content, the form image names and
// manifest descriptors use.
func Digest(content []byte) string {
	sum := sha256.Sum256(content)
	return "sha256:" + hex.EncodeToString(sum[:])
}
