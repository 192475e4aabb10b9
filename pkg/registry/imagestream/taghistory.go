package imagestream

import (
	"strconv"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxTagHistoryAnnotation overrides --max-tag-history for one stream (D16): the number of
// events each of its tags keeps, "0" for no limit on this stream.
const MaxTagHistoryAnnotation = "image.openshift.io/max-tag-history"

// parseMaxTagHistory reads the annotation's value: a decimal integer from 0 to 2^31-1, with no
// sign, space or base prefix, so that what a user reads is what the server applies.
func parseMaxTagHistory(value string) (int, bool) {
	n, err := strconv.ParseUint(value, 10, 31)
	return int(n), err == nil
}

// TagHistoryLimit is the number of events each tag of stream may keep; 0 means no limit. The
// annotation wins over the server's limit def; an unreadable annotation (stored before it was
// validated, or by a direct etcd write) is ignored rather than failing every push to the
// stream.
func TagHistoryLimit(stream *imagev1.ImageStream, def int) int {
	if value, ok := stream.Annotations[MaxTagHistoryAnnotation]; ok {
		if n, ok := parseMaxTagHistory(value); ok {
			return n
		}
	}
	return def
}

// TrimTagHistory drops the oldest events of every tag of updated whose history this write made
// longer than stored's and longer than limit, keeping the newest limit events, and returns how
// many it dropped. Histories the write did not lengthen stay as they are, even when a limit
// set later makes them too long: they are trimmed on their tag's next push. The head is never
// dropped (limit is at least 1), and neither is an image: images are pruned on their own.
func TrimTagHistory(updated, stored *imagev1.ImageStream, limit int) int {
	if limit <= 0 {
		return 0
	}
	var storedLengths map[string]int
	dropped := 0
	for i := range updated.Status.Tags {
		list := &updated.Status.Tags[i]
		if len(list.Items) <= limit {
			continue
		}
		if storedLengths == nil {
			storedLengths = make(map[string]int, len(stored.Status.Tags))
			for _, l := range stored.Status.Tags {
				storedLengths[l.Tag] = len(l.Items)
			}
		}
		if len(list.Items) <= storedLengths[list.Tag] {
			continue
		}
		dropped += len(list.Items) - limit
		// A fresh slice, so that the dropped events are not kept alive behind the kept ones in
		// the writer's copy of the stream.
		list.Items = append([]imagev1.TagEvent(nil), list.Items[:limit]...)
	}
	return dropped
}

// validateMaxTagHistoryAnnotation checks the annotation where clients write streams (the
// imagestreams endpoint). On update only a new or changed value is checked, so that a stream
// stored with an unreadable value can still be updated (the value is then ignored).
func validateMaxTagHistoryAnnotation(stream, old *imagev1.ImageStream) field.ErrorList {
	value, ok := stream.Annotations[MaxTagHistoryAnnotation]
	if !ok {
		return nil
	}
	if old != nil {
		if oldValue, had := old.Annotations[MaxTagHistoryAnnotation]; had && oldValue == value {
			return nil
		}
	}
	if _, ok := parseMaxTagHistory(value); ok {
		return nil
	}
	path := field.NewPath("metadata", "annotations").Key(MaxTagHistoryAnnotation)
	return field.ErrorList{field.Invalid(path, value,
		"must be a non-negative decimal integer: the number of events each tag keeps, 0 for no limit on this stream")}
}
