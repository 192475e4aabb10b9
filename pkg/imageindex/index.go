// Package imageindex keeps, for every Image in the cluster, only what an imagestreams/layers
// answer needs: layer digests, sizes and media types, the config digest, the manifest media type
// and a manifest list's children. A cluster easily holds 100 000 images whose full objects weigh
// kilobytes each; an entry here costs well under a kilobyte, because digests are kept as their
// 32 bytes rather than as text and media types as an index into a small table.
package imageindex

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync"
	"unsafe"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/storage/listwatch"
)

// Config media types, chosen by the manifest's type as the integrated registry expects.
const (
	MediaTypeDockerConfig = "application/vnd.docker.container.image.v1+json"
	MediaTypeOCIConfig    = "application/vnd.oci.image.config.v1+json"
)

// Layer is one layer blob of an image.
type Layer struct {
	Digest    string
	Size      int64
	MediaType string
}

// Image is the index's view of one image. Its strings are shared with the index: read only.
type Image struct {
	Name string
	// ManifestMediaType is as stored, possibly empty (an old image): callers choose the default.
	ManifestMediaType string
	// Config is the config blob's digest, empty for images without one (schema1, manifest lists,
	// or metadata without an Id).
	Config          string
	ConfigMediaType string
	Layers          []Layer
	// Manifests are the digests of a manifest list's children.
	Manifests []string
}

// Index is the in-memory index of images. The zero value is not usable: use New.
type Index struct {
	mu sync.RWMutex
	// images holds the images whose digests are all sha256 (nearly all), keyed by the name's
	// 32 bytes.
	images map[sum]entry
	// odd holds, as plain strings, the images that do not fit that form: a digest of another
	// algorithm (sha384, sha512) or a media type beyond the table's 255.
	odd map[string]compacted
	// mediaTypes interns media types, which are few: an entry keeps a one-byte index into
	// mediaTypes. Index 0 is "". It only grows, and is bounded by its 256 entries.
	mediaTypes     []string
	mediaTypeIndex map[string]uint8
	// bytes is the running estimate of the memory the index holds (see entryBytes): its own
	// content's, ownBytes, plus a relist's being loaded beside it.
	bytes    int64
	ownBytes int64
	// maxBytes bounds a content's bytes; 0 is no bound. Images that do not fit are left out:
	// an answer that needs one reads it from etcd, as for any miss.
	maxBytes int64
	// full is set once an image was left out, for the log.
	full bool
	// disabled: the index holds nothing (see Disable).
	disabled bool
	synced   bool
	// lastRV is the highest resourceVersion the feed has applied, so that an image read from
	// etcd outside the feed is only added when the feed has not yet gone past it (see Learn).
	lastRV uint64
	// publish, when set, receives the size after each change (the server's metrics).
	publish func(images int, bytes int64)
	// pageSize is the feed's list page.
	pageSize int64
}

// sum is a sha256 digest as its 32 bytes: less than half the size of its text, and nothing for
// the garbage collector to follow.
type sum [32]byte

// layer is one layer blob: 48 bytes.
type layer struct {
	digest    sum
	size      int64
	mediaType uint8
}

// entry is one image: its layers, config and manifest-list children, and the index of its
// manifest media type. Stored by value in the map: no allocation of its own.
type entry struct {
	layers    []layer
	manifests []sum
	config    sum
	hasConfig bool
	mediaType uint8
	// rv is the image's resourceVersion, so that the feed never replaces it with an older one.
	rv uint64
}

// mapSlotOverhead approximates what a map slot costs beyond its key and value: the control
// byte and the slack of a map that doubles as it grows.
const mapSlotOverhead = 1.5

func entryBytes(e *entry) int64 {
	slot := float64(unsafe.Sizeof(sum{}) + unsafe.Sizeof(entry{}))
	return int64(slot*mapSlotOverhead) + int64(cap(e.layers))*int64(unsafe.Sizeof(layer{})) + int64(cap(e.manifests))*int64(unsafe.Sizeof(sum{}))
}

// compactedBytes approximates an odd image's cost: its strings and slices.
func compactedBytes(c *compacted) int64 {
	n := int64(unsafe.Sizeof(compacted{})) + int64(len(c.name)+len(c.mediaType)+len(c.config))
	for _, l := range c.layers {
		n += int64(unsafe.Sizeof(Layer{})) + int64(len(l.Digest)+len(l.MediaType))
	}
	for _, m := range c.manifests {
		n += int64(unsafe.Sizeof("")) + int64(len(m))
	}
	return int64(float64(n+int64(len(c.name))) * mapSlotOverhead)
}

// New returns an empty, unsynced index.
func New() *Index {
	return &Index{
		images: map[sum]entry{}, odd: map[string]compacted{},
		mediaTypes: []string{""}, mediaTypeIndex: map[string]uint8{"": 0},
		pageSize: listwatch.DefaultPageSize,
	}
}

// SetMaxBytes bounds the index's estimated size: images beyond it are left out, and answers
// that need them read them from etcd. 0 means no bound.
func (x *Index) SetMaxBytes(n int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.maxBytes = n
}

// Disable turns the index off: it holds nothing and counts as synced, so every answer reads
// its images from etcd.
func (x *Index) Disable() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.disabled, x.synced = true, true
}

// Synced tells whether the index has loaded the full list of images once. Before that, an
// absent image says nothing.
func (x *Index) Synced() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.synced
}

// Len is the number of images indexed.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.images) + len(x.odd)
}

// Bytes is the estimated memory held by the index: entries, layer slices and interned strings
// with their map slots (not Go's allocator rounding).
func (x *Index) Bytes() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.bytes
}

// Get returns the indexed image of that name.
func (x *Index) Get(name string) (Image, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if key, ok := parseSum(name); ok {
		if e, ok := x.images[key]; ok {
			return x.expand(name, &e), true
		}
	}
	c, ok := x.odd[name]
	if !ok {
		return Image{}, false
	}
	return c.view(), true
}

// expand turns an entry back into an Image.
func (x *Index) expand(name string, e *entry) Image {
	img := Image{Name: name, ManifestMediaType: x.mediaTypes[e.mediaType]}
	if e.hasConfig {
		img.Config = e.config.String()
		img.ConfigMediaType = configMediaType(img.ManifestMediaType)
	}
	if len(e.layers) > 0 {
		img.Layers = make([]Layer, len(e.layers))
		for i, l := range e.layers {
			img.Layers[i] = Layer{Digest: l.digest.String(), Size: l.size, MediaType: x.mediaTypes[l.mediaType]}
		}
	}
	if len(e.manifests) > 0 {
		img.Manifests = make([]string, len(e.manifests))
		for i, m := range e.manifests {
			img.Manifests[i] = m.String()
		}
	}
	return img
}

// Learn adds an image read straight from etcd (an image the feed has not delivered yet). It is
// ignored when the feed has already applied a later revision: the image may have been deleted
// since, and re-adding it would leave a ghost no event removes. Otherwise the feed's own event
// for it, or for its deletion, is still to come and will set the entry right.
//
// The stream writer gives it every image it creates, once the push is answered; the watch then
// skips that change (Known) instead of decoding the image again.
func (x *Index) Learn(img *imagev1.Image) {
	c := compact(img)
	x.mu.Lock()
	defer x.mu.Unlock()
	if c.rv == 0 || c.rv <= x.lastRV || x.disabled || x.holdsLocked(c.name, c.rv) {
		return
	}
	x.put(c)
	x.changed()
}

// Known tells whether the index holds the image named name at resourceVersion rev or later:
// the feed's watch then skips that change. It is a rawwatch.Source's Known.
func (x *Index) Known(name string, rev int64) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return rev > 0 && x.holdsLocked(name, uint64(rev))
}

// holdsLocked tells whether the index holds name at rv or later.
func (x *Index) holdsLocked(name string, rv uint64) bool {
	if key, ok := parseSum(name); ok {
		if e, ok := x.images[key]; ok {
			return e.rv >= rv
		}
	}
	c, ok := x.odd[name]
	return ok && c.rv >= rv
}

// View returns what the index would hold for img, without adding it.
func View(img *imagev1.Image) Image {
	c := compact(img)
	return c.view()
}

func (c *compacted) view() Image {
	v := Image{Name: c.name, ManifestMediaType: c.mediaType, Config: c.config, Layers: c.layers, Manifests: c.manifests}
	if v.Config != "" {
		v.ConfigMediaType = configMediaType(v.ManifestMediaType)
	}
	return v
}

const sha256Prefix = "sha256:"

// parseSum reads a sha256 digest in its canonical form (lowercase hex, as registries and
// validation produce), which String gives back unchanged.
func parseSum(digest string) (sum, bool) {
	var s sum
	if len(digest) != len(sha256Prefix)+64 || digest[:len(sha256Prefix)] != sha256Prefix {
		return s, false
	}
	h := digest[len(sha256Prefix):]
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return s, false
		}
	}
	if _, err := hex.Decode(s[:], []byte(h)); err != nil {
		return s, false
	}
	return s, true
}

func (s sum) String() string { return sha256Prefix + hex.EncodeToString(s[:]) }

// configMediaType is the config blob's media type for a manifest type: the OCI config for OCI
// manifests, the Docker one otherwise.
func configMediaType(manifestMediaType string) string {
	if manifestMediaType == imageutil.MediaTypeOCIManifest {
		return MediaTypeOCIConfig
	}
	return MediaTypeDockerConfig
}

// compacted is an image reduced to the index's fields, still as plain strings: computed outside
// the lock, interned under it.
type compacted struct {
	name, mediaType, config string
	layers                  []Layer
	manifests               []string
	rv                      uint64
}

func compact(img *imagev1.Image) compacted {
	c := compacted{name: img.Name, mediaType: img.DockerImageManifestMediaType, manifests: nil}
	c.rv, _ = strconv.ParseUint(img.ResourceVersion, 10, 64)
	for _, l := range img.DockerImageLayers {
		// A blob has a digest: an empty name (validation does not check layers) is left out
		// rather than answered, since an answer with it is invalid for the whole stream.
		if l.Name != "" {
			c.layers = append(c.layers, Layer{Digest: l.Name, Size: l.LayerSize, MediaType: l.MediaType})
		}
	}
	for _, m := range img.DockerImageManifests {
		if m.Digest != "" {
			c.manifests = append(c.manifests, m.Digest)
		}
	}
	// Only schema2 and OCI image manifests have a config blob; its digest is the metadata's Id,
	// which derivation sets from the manifest's config descriptor.
	if c.mediaType == imageutil.MediaTypeSchema2Manifest || c.mediaType == imageutil.MediaTypeOCIManifest {
		c.config = metadataID(img)
	}
	return c
}

// metadataID reads only the Id of the stored metadata: a full decode of every image's config
// (environment, labels, history) would cost far more on a relist of the whole cluster. JSON
// field matching ignores case, so this reads both the 1.0 (`Id`) and pre012 (`id`) shapes.
func metadataID(img *imagev1.Image) string {
	if len(img.DockerImageMetadata.Raw) == 0 {
		if meta, err := imageutil.DockerImageMetadata(img); err == nil && meta != nil {
			return meta.ID
		}
		return ""
	}
	var meta struct {
		ID string `json:"Id"`
	}
	if err := json.Unmarshal(img.DockerImageMetadata.Raw, &meta); err != nil {
		return ""
	}
	return meta.ID
}

// mediaType returns the table index of a media type, adding it if new; false when the table
// is full.
func (x *Index) mediaType(t string) (uint8, bool) {
	if i, ok := x.mediaTypeIndex[t]; ok {
		return i, true
	}
	if len(x.mediaTypes) > 255 {
		return 0, false
	}
	i := uint8(len(x.mediaTypes))
	x.mediaTypes = append(x.mediaTypes, t)
	x.mediaTypeIndex[t] = i
	return i, true
}

// toEntry packs c, or reports that it does not fit the compact form.
func (x *Index) toEntry(c *compacted) (sum, entry, bool) {
	e := entry{rv: c.rv}
	key, ok := parseSum(c.name)
	if !ok {
		return key, e, false
	}
	if e.mediaType, ok = x.mediaType(c.mediaType); !ok {
		return key, e, false
	}
	if c.config != "" {
		if e.config, ok = parseSum(c.config); !ok {
			return key, e, false
		}
		e.hasConfig = true
	}
	if len(c.layers) > 0 {
		e.layers = make([]layer, len(c.layers))
		for i, l := range c.layers {
			d, ok := parseSum(l.Digest)
			if !ok {
				return key, e, false
			}
			mt, ok := x.mediaType(l.MediaType)
			if !ok {
				return key, e, false
			}
			e.layers[i] = layer{digest: d, size: l.Size, mediaType: mt}
		}
	}
	if len(c.manifests) > 0 {
		e.manifests = make([]sum, len(c.manifests))
		for i, m := range c.manifests {
			if e.manifests[i], ok = parseSum(m); !ok {
				return key, e, false
			}
		}
	}
	return key, e, true
}

// content is one full set of images: the index's own, or a relist's being loaded beside it.
type content struct {
	images map[sum]entry
	odd    map[string]compacted
	// bytes is this content's share of the index's bytes.
	bytes *int64
}

// putInto adds (or replaces) an image in a content, counting its bytes; an image that would
// take the content past the bound is left out.
func (x *Index) putInto(to content, c compacted) {
	x.removeFrom(to, c.name)
	key, e, packed := x.toEntry(&c)
	cost := compactedBytes(&c)
	if packed {
		cost = entryBytes(&e)
	}
	if x.maxBytes > 0 && *to.bytes+cost > x.maxBytes {
		if !x.full {
			x.full = true
			klog.Background().Info("The image index is at its byte bound: further images are read from etcd when needed", "maxBytes", x.maxBytes, "images", len(to.images)+len(to.odd))
		}
		return
	}
	if packed {
		to.images[key] = e
	} else {
		to.odd[c.name] = c
	}
	x.count(to, cost)
}

// count adds n (negative to subtract) to a content's bytes and the index's.
func (x *Index) count(c content, n int64) {
	*c.bytes += n
	x.bytes += n
}

// removeFrom deletes an image from a content, if there.
func (x *Index) removeFrom(from content, name string) {
	if key, ok := parseSum(name); ok {
		if e, ok := from.images[key]; ok {
			delete(from.images, key)
			x.count(from, -entryBytes(&e))
			return
		}
	}
	if c, ok := from.odd[name]; ok {
		delete(from.odd, name)
		x.count(from, -compactedBytes(&c))
	}
}

// dropAll uncounts every image of a content that is being let go.
func (x *Index) dropAll(c content) {
	x.count(c, -*c.bytes)
}

func (x *Index) own() content { return content{images: x.images, odd: x.odd, bytes: &x.ownBytes} }

// put replaces (or adds) the image's entry.
func (x *Index) put(c compacted) { x.putInto(x.own(), c) }

// remove deletes the image's entry, if any.
func (x *Index) remove(name string) { x.removeFrom(x.own(), name) }

// seen records a revision the feed applied.
func (x *Index) seen(rv uint64) {
	if rv > x.lastRV {
		x.lastRV = rv
	}
}

// changed publishes the new size.
func (x *Index) changed() {
	if x.publish != nil {
		x.publish(len(x.images), x.bytes)
	}
}

// replacement is a content being loaded by a relist, beside the one readers see.
type replacement struct {
	x *Index
	content
}

func (x *Index) beginReplace() *replacement {
	return &replacement{x: x, content: content{images: map[sum]entry{}, odd: map[string]compacted{}, bytes: new(int64)}}
}

// Add packs a page of images into the new content. Images are compacted before the lock is
// taken, so that readers wait only for the packing.
func (r *replacement) Add(objs []runtime.Object) error {
	compacted := make([]compacted, len(objs))
	for i, obj := range objs {
		img, err := asImage(obj)
		if err != nil {
			return err
		}
		compacted[i] = compact(img)
	}
	x := r.x
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, c := range compacted {
		x.putInto(r.content, c)
	}
	return nil
}

// Finish makes the new content the index's, as of revision rv; the index counts as synced
// from the first.
func (r *replacement) Finish(resourceVersion string) {
	rv, _ := strconv.ParseUint(resourceVersion, 10, 64)
	x := r.x
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dropAll(x.own())
	x.images, x.odd, x.ownBytes = r.images, r.odd, *r.bytes
	// A relist may come from a cache behind an image Learn added: keep the higher mark.
	x.seen(rv)
	x.synced = true
	x.changed()
}

// Abort lets go of a content whose list failed.
func (r *replacement) Abort() {
	x := r.x
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dropAll(r.content)
	x.changed()
}
