package imagestream

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
)

// TooLarge is D8's answer for a stream over the limit: a 413 naming the stream, its size, the
// limit, the tags whose history takes the most room, and the remedies, before etcd refuses it
// with an opaque error.
func TooLarge(resource string, stream *imagev1.ImageStream, size, limit int) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure,
		Code:   http.StatusRequestEntityTooLarge,
		Reason: metav1.StatusReasonRequestEntityTooLarge,
		Message: fmt.Sprintf("image stream %s/%s would be %d bytes, over the %d-byte limit (--max-imagestream-bytes)%s; "+
			"bound the history of its tags with the %s annotation (or the server's --max-tag-history), "+
			"prune its tag history (for example `oc adm prune images --keep-tag-revisions=5`) or delete unused tags",
			stream.Namespace, stream.Name, size, limit, largestTagsClause(stream), MaxTagHistoryAnnotation),
		Details: &metav1.StatusDetails{Group: imagev1.GroupName, Kind: resource, Name: stream.Name},
	}}
}

// largestTagsShown is how many tags a 413 names: enough to show where the room goes when a
// few busy tags dominate, short enough to read.
const largestTagsShown = 3

// largestTagsClause names the tags whose history takes the most bytes, with their event
// counts, e.g. "; the largest tag histories: latest (4100 events, 700000 bytes), …".
func largestTagsClause(stream *imagev1.ImageStream) string {
	tags := slices.Clone(stream.Status.Tags)
	if len(tags) == 0 {
		return ""
	}
	sizes := make(map[string]int, len(tags))
	for _, t := range tags {
		sizes[t.Tag] = t.Size()
	}
	slices.SortStableFunc(tags, func(a, b imagev1.NamedTagEventList) int { return cmp.Compare(sizes[b.Tag], sizes[a.Tag]) })
	var b strings.Builder
	b.WriteString("; the largest tag histories: ")
	for i, t := range tags[:min(largestTagsShown, len(tags))] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%d events, %d bytes)", t.Tag, len(t.Items), sizes[t.Tag])
	}
	if more := len(tags) - largestTagsShown; more > 0 {
		fmt.Fprintf(&b, " and %d more tags", more)
	}
	return b.String()
}

// sizeLimit checks streams against D8's limit where the store asks admission to validate:
// after the strategy has prepared and validated the object, so that the check sees exactly
// what would be stored (the main endpoint keeps the stored status, the status endpoint the
// stored spec) and a malformed object gets its 422 first.
type sizeLimit struct {
	limit    int
	resource string
}

func (s sizeLimit) check(obj runtime.Object) error {
	stream, ok := obj.(*imagev1.ImageStream)
	if !ok || s.limit <= 0 {
		return nil
	}
	if size := stream.Size(); size > s.limit {
		return TooLarge(s.resource, stream, size, s.limit)
	}
	return nil
}

// create wraps a create's validation with the check.
func (s sizeLimit) create(validate rest.ValidateObjectFunc) rest.ValidateObjectFunc {
	return func(ctx context.Context, obj runtime.Object) error {
		if err := s.check(obj); err != nil {
			return err
		}
		if validate == nil {
			return nil
		}
		return validate(ctx, obj)
	}
}

// update wraps an update's validation with the check.
func (s sizeLimit) update(validate rest.ValidateObjectUpdateFunc) rest.ValidateObjectUpdateFunc {
	return func(ctx context.Context, obj, old runtime.Object) error {
		if err := s.check(obj); err != nil {
			return err
		}
		if validate == nil {
			return nil
		}
		return validate(ctx, obj, old)
	}
}
