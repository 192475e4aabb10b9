package imageutil

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tagsColumnWidth is the width `oc get is` budgets for the Tags cell.
const tagsColumnWidth = 40

// ImageStreamTagsColumn renders the Tags cell of `oc get is`, as OpenShift does: status tag names
// ordered by head `created` rounded to seconds, newest first, ties by name (tags without
// history last), fitted into 40 characters counting each tag as len+1. At least one tag is
// always shown; a tag that overflows by at most 25% of the width is still taken when more than
// 25% of the width was unused before it, so edges look less ragged. Hidden tags are summarized
// as "a,b + N more...".
func ImageStreamTagsColumn(stream *imagev1.ImageStream) string {
	tags := tagsByCreated(stream.Status.Tags)
	shown := tags
	remaining := tagsColumnWidth
	margin := tagsColumnWidth / 4
	for i, tag := range tags {
		remaining -= len(tag) + 1
		if remaining >= 0 {
			continue
		}
		if i == 0 {
			shown = tags[:1]
			break
		}
		// remaining+len(tag) is the space left before this tag minus its separator;
		// -remaining is how far the tag overflows.
		if margin < remaining+len(tag) && margin >= -remaining {
			continue
		}
		shown = tags[:i]
		break
	}
	if hidden := len(tags) - len(shown); hidden > 0 {
		return fmt.Sprintf("%s + %d more...", strings.Join(shown, ","), hidden)
	}
	return strings.Join(shown, ",")
}

// tagsByCreated returns the tag names ordered as ImageStreamTagsColumn shows them. Heads are
// compared at second precision because that is all the API stores; the name breaks ties.
func tagsByCreated(lists []imagev1.NamedTagEventList) []string {
	type entry struct {
		name    string
		created time.Time
	}
	entries := make([]entry, 0, len(lists))
	for _, l := range lists {
		e := entry{name: l.Tag}
		if len(l.Items) > 0 {
			e.created = l.Items[0].Created.Round(time.Second)
		}
		entries = append(entries, e)
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.name
	}
	return names
}

// ImageStreamUpdated returns the newest head `created` across the stream's status tags, the
// Updated cell of `oc get is`; it is zero when no tag has history, and callers then
// leave the cell empty.
func ImageStreamUpdated(stream *imagev1.ImageStream) metav1.Time {
	var latest metav1.Time
	for _, l := range stream.Status.Tags {
		if len(l.Items) > 0 && l.Items[0].Created.After(latest.Time) {
			latest = l.Items[0].Created
		}
	}
	return latest
}

// HumanDuration renders d the way docker's go-units HumanDuration does, which is what `oc`
// tables show for image resources instead of kubectl's "5m" style: "Less than a
// second", "1 second", "47 seconds", "About a minute", "3 minutes", "About an hour", "3 hours"
// (up to 47), "13 days", "2 weeks", "3 months", "2 years". Callers append " ago".
func HumanDuration(d time.Duration) string {
	seconds := int64(d.Seconds())
	switch {
	case seconds < 1:
		return "Less than a second"
	case seconds == 1:
		return "1 second"
	case seconds < 60:
		return fmt.Sprintf("%d seconds", seconds)
	}
	minutes := int64(d.Minutes())
	switch {
	case minutes == 1:
		return "About a minute"
	case minutes < 60:
		return fmt.Sprintf("%d minutes", minutes)
	}
	// Hours are rounded, unlike the smaller units, so 1h31m is "2 hours".
	hours := int64(d.Hours() + 0.5)
	switch {
	case hours == 1:
		return "About an hour"
	case hours < 48:
		return fmt.Sprintf("%d hours", hours)
	case hours < 24*7*2:
		return fmt.Sprintf("%d days", hours/24)
	case hours < 24*30*2:
		return fmt.Sprintf("%d weeks", hours/24/7)
	case hours < 24*365*2:
		return fmt.Sprintf("%d months", hours/24/30)
	}
	return fmt.Sprintf("%d years", int64(d.Hours())/24/365)
}

// Ago renders t relative to now as oc's tables do ("3 hours ago"), or "" for a zero time.
func Ago(now time.Time, t metav1.Time) string {
	if t.IsZero() {
		return ""
	}
	return HumanDuration(now.Sub(t.Time)) + " ago"
}
