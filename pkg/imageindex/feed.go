package imageindex

import (
	"context"
	"fmt"
	"strconv"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/image-apiserver/image-apiserver/pkg/storage/listwatch"
)

// ImageSource lists and watches Images: the images storage of the server.
type ImageSource = listwatch.Source

// Run feeds the index from source until ctx ends: a list, page by page (a relist of the whole
// cluster holds one page of full Images at a time), then a watch from the list's revision;
// see listwatch.
func (x *Index) Run(ctx context.Context, source ImageSource) {
	x.mu.RLock()
	disabled, pageSize := x.disabled, x.pageSize
	x.mu.RUnlock()
	if disabled {
		return
	}
	listwatch.Run(ctx, "image-index", source, feed{x}, pageSize)
}

// feed applies lists and watch events to the index.
type feed struct {
	x *Index
}

var _ listwatch.Sink = feed{}

func asImage(obj interface{}) (*imagev1.Image, error) {
	img, ok := obj.(*imagev1.Image)
	if !ok {
		return nil, fmt.Errorf("image index: unexpected object %T", obj)
	}
	return img, nil
}

// BeginReplace implements listwatch.Sink.
func (f feed) BeginReplace() listwatch.Replacement { return f.x.beginReplace() }

// Apply implements listwatch.Sink.
func (f feed) Apply(eventType watch.EventType, obj runtime.Object) error {
	img, err := asImage(obj)
	if err != nil {
		return err
	}
	switch eventType {
	case watch.Added, watch.Modified:
		return f.Update(img)
	case watch.Deleted:
		return f.Delete(img)
	case watch.Bookmark:
		f.Bookmark(img)
	}
	return nil
}

func (f feed) Update(obj interface{}) error {
	img, err := asImage(obj)
	if err != nil {
		return err
	}
	c := compact(img)
	f.x.mu.Lock()
	defer f.x.mu.Unlock()
	f.x.seen(c.rv)
	if f.x.holdsLocked(c.name, c.rv) {
		// Learned already, at this revision or a later one.
		return nil
	}
	f.x.put(c)
	f.x.changed()
	return nil
}

func (f feed) Delete(obj interface{}) error {
	img, err := asImage(obj)
	if err != nil {
		return err
	}
	rv, _ := strconv.ParseUint(img.ResourceVersion, 10, 64)
	f.x.mu.Lock()
	defer f.x.mu.Unlock()
	f.x.seen(rv)
	if f.x.holdsLocked(img.Name, rv+1) {
		// Learned as created again after this deletion.
		return nil
	}
	f.x.remove(img.Name)
	f.x.changed()
	return nil
}

// Bookmark records the revision a bookmark carries.
func (f feed) Bookmark(img *imagev1.Image) {
	rv, _ := strconv.ParseUint(img.ResourceVersion, 10, 64)
	f.x.mu.Lock()
	defer f.x.mu.Unlock()
	f.x.seen(rv)
}
