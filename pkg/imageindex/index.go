// Package imageindex keeps, for every Image in the cluster, only what an imagestreams/layers
// answer needs: layer digests, sizes and media types, the config digest, the manifest media type
// and a manifest list's children. A cluster easily holds 100 000 images whose full objects weigh
// kilobytes each; an entry here costs a few hundred bytes, because the strings that repeat across
// images (base layers shared by many images, media types) are stored once.
package imageindex

import (
	"encoding/json"
	"strconv"
	"sync"
	"unsafe"

	imagev1 "github.com/openshift/api/image/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
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
	mu     sync.RWMutex
	images map[string]*entry
	atoms  map[string]*atom
	// bytes is the running estimate of the memory the index holds (see entry.bytes, atom.bytes).
	bytes  int64
	synced bool
	// lastRV is the highest resourceVersion the feed has applied, so that an image read from
	// etcd outside the feed is only added when the feed has not yet gone past it (see Learn).
	lastRV uint64
	// publish, when set, receives the size after each change (the server's metrics).
	publish func(images int, bytes int64)
	// pageSize is the feed's list page.
	pageSize int64
}

// atom is an interned string with a reference count, so that a digest shared by many images is
// stored once and freed when the last image using it goes.
type atom struct {
	s    string
	refs int32
}

// layer is a compact Layer: two pointers and the size.
type layer struct {
	digest    *atom
	size      int64
	mediaType *atom
}

// entry is one image in the index; nil atoms stand for empty strings.
type entry struct {
	name      *atom
	mediaType *atom
	config    *atom
	layers    []layer
	manifests []*atom
}

// mapSlotBytes approximates what one key of a map[string]*T costs: the 24-byte slot, its
// control byte and the slack of a map that doubles as it grows.
const mapSlotBytes = 40

func (a *atom) bytes() int64 {
	return int64(unsafe.Sizeof(atom{})) + int64(len(a.s)) + mapSlotBytes
}

func (e *entry) bytes() int64 {
	return int64(unsafe.Sizeof(entry{})) + mapSlotBytes +
		int64(cap(e.layers))*int64(unsafe.Sizeof(layer{})) +
		int64(cap(e.manifests))*int64(unsafe.Sizeof((*atom)(nil)))
}

// New returns an empty, unsynced index.
func New() *Index {
	return &Index{images: map[string]*entry{}, atoms: map[string]*atom{}, pageSize: defaultPageSize}
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
	return len(x.images)
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
	e, ok := x.images[name]
	if !ok {
		return Image{}, false
	}
	img := Image{Name: e.name.s, ManifestMediaType: str(e.mediaType), Config: str(e.config)}
	if e.config != nil {
		img.ConfigMediaType = configMediaType(img.ManifestMediaType)
	}
	if len(e.layers) > 0 {
		img.Layers = make([]Layer, len(e.layers))
		for i, l := range e.layers {
			img.Layers[i] = Layer{Digest: l.digest.s, Size: l.size, MediaType: str(l.mediaType)}
		}
	}
	if len(e.manifests) > 0 {
		img.Manifests = make([]string, len(e.manifests))
		for i, m := range e.manifests {
			img.Manifests[i] = m.s
		}
	}
	return img, true
}

// Learn adds an image read straight from etcd (an image the feed has not delivered yet). It is
// ignored when the feed has already applied a later revision: the image may have been deleted
// since, and re-adding it would leave a ghost no event removes. Otherwise the feed's own event
// for it, or for its deletion, is still to come and will set the entry right.
func (x *Index) Learn(img *imagev1.Image) {
	c := compact(img)
	x.mu.Lock()
	defer x.mu.Unlock()
	if c.rv == 0 || c.rv <= x.lastRV {
		return
	}
	x.put(c)
	x.changed()
}

// View returns what the index would hold for img, without adding it.
func View(img *imagev1.Image) Image {
	c := compact(img)
	v := Image{Name: c.name, ManifestMediaType: c.mediaType, Config: c.config, Layers: c.layers, Manifests: c.manifests}
	if v.Config != "" {
		v.ConfigMediaType = configMediaType(v.ManifestMediaType)
	}
	return v
}

// str returns an atom's string, "" for nil.
func str(a *atom) string {
	if a == nil {
		return ""
	}
	return a.s
}

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

// intern returns the shared atom for s, counting one more reference; nil for "".
func (x *Index) intern(s string) *atom {
	if s == "" {
		return nil
	}
	if a, ok := x.atoms[s]; ok {
		a.refs++
		return a
	}
	a := &atom{s: s, refs: 1}
	x.atoms[s] = a
	x.bytes += a.bytes()
	return a
}

// release drops one reference, freeing the atom with its last one.
func (x *Index) release(a *atom) {
	if a == nil {
		return
	}
	if a.refs--; a.refs == 0 {
		delete(x.atoms, a.s)
		x.bytes -= a.bytes()
	}
}

// put replaces (or adds) the image's entry. The new entry is interned before the old one is
// released so that strings they share are not freed and allocated again.
func (x *Index) put(c compacted) {
	e := x.newEntry(c)
	x.remove(c.name)
	// The key is the interned name, so the map holds no second copy of it.
	x.images[e.name.s] = e
}

// newEntry interns c into a new entry, counted in the index's bytes.
func (x *Index) newEntry(c compacted) *entry {
	e := &entry{
		name:      x.intern(c.name),
		mediaType: x.intern(c.mediaType),
		config:    x.intern(c.config),
	}
	if len(c.layers) > 0 {
		e.layers = make([]layer, len(c.layers))
		for i, l := range c.layers {
			e.layers[i] = layer{digest: x.intern(l.Digest), size: l.Size, mediaType: x.intern(l.MediaType)}
		}
	}
	if len(c.manifests) > 0 {
		e.manifests = make([]*atom, len(c.manifests))
		for i, m := range c.manifests {
			e.manifests[i] = x.intern(m)
		}
	}
	x.bytes += e.bytes()
	return e
}

// remove deletes the image's entry, if any.
func (x *Index) remove(name string) {
	e, ok := x.images[name]
	if !ok {
		return
	}
	delete(x.images, name)
	x.drop(e)
}

// drop releases what an entry holds.
func (x *Index) drop(e *entry) {
	x.bytes -= e.bytes()
	x.release(e.name)
	x.release(e.mediaType)
	x.release(e.config)
	for _, l := range e.layers {
		x.release(l.digest)
		x.release(l.mediaType)
	}
	for _, m := range e.manifests {
		x.release(m)
	}
}

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
	x      *Index
	images map[string]*entry
}

func (x *Index) beginReplace() *replacement {
	return &replacement{x: x, images: map[string]*entry{}}
}

// add interns a page of images into the new content. Images are compacted before the lock is
// taken, so that readers wait only for the interning.
func (r *replacement) add(images []imagev1.Image) {
	compacted := make([]compacted, len(images))
	for i := range images {
		compacted[i] = compact(&images[i])
	}
	x := r.x
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, c := range compacted {
		if old, ok := r.images[c.name]; ok {
			x.drop(old)
		}
		e := x.newEntry(c)
		r.images[e.name.s] = e
	}
}

// finish makes the new content the index's, as of revision rv; the index counts as synced
// from the first. The old content is released only now, so strings both share stay allocated.
func (r *replacement) finish(resourceVersion string) {
	rv, _ := strconv.ParseUint(resourceVersion, 10, 64)
	x := r.x
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.images
	x.images = r.images
	for _, e := range old {
		x.drop(e)
	}
	// A relist may come from a cache behind an image Learn added: keep the higher mark.
	x.seen(rv)
	x.synced = true
	x.changed()
}

// abort releases a content whose list failed.
func (r *replacement) abort() {
	x := r.x
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, e := range r.images {
		x.drop(e)
	}
	x.changed()
}
