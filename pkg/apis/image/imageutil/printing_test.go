package imageutil

import (
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tagList builds status tags whose heads are created at base minus the given offsets.
func tagList(base time.Time, tags ...struct {
	name string
	ago  time.Duration
}) []imagev1.NamedTagEventList {
	var out []imagev1.NamedTagEventList
	for _, tg := range tags {
		l := imagev1.NamedTagEventList{Tag: tg.name}
		if tg.ago >= 0 {
			l.Items = []imagev1.TagEvent{{Created: metav1.NewTime(base.Add(-tg.ago))}}
		}
		out = append(out, l)
	}
	return out
}

type tagAgo = struct {
	name string
	ago  time.Duration
}

func TestImageStreamTagsColumn(t *testing.T) {
	base := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	tests := []struct {
		name string
		tags []imagev1.NamedTagEventList
		want string
	}{
		{name: "no tags", want: ""},
		{
			name: "newest first, tags without history last",
			tags: tagList(base, tagAgo{"old", time.Hour}, tagAgo{"none", -1}, tagAgo{"new", 0}),
			want: "new,old,none",
		},
		{
			// 400ms and 200ms both round to the same second, so the name decides.
			name: "ties at second precision sort by name",
			tags: tagList(base, tagAgo{"zeta", 400 * time.Millisecond}, tagAgo{"alpha", 200 * time.Millisecond}, tagAgo{"mid", 2 * time.Second}),
			want: "alpha,zeta,mid",
		},
		{
			name: "a single over-long tag is still shown",
			tags: tagList(base, tagAgo{long("x", 50), 0}, tagAgo{"b", time.Hour}),
			want: long("x", 50) + " + 1 more...",
		},
		{
			name: "tags beyond 40 characters are summarized",
			tags: tagList(base,
				tagAgo{"v1.0.0-alpha", 1 * time.Minute}, tagAgo{"v1.0.0-beta", 2 * time.Minute},
				tagAgo{"v1.0.0-rc1", 3 * time.Minute}, tagAgo{"v1.0.0", 4 * time.Minute}, tagAgo{"latest", 5 * time.Minute}),
			// 13+12+11 = 36 fit; "v1.0.0" overflows by 3 with only 4 unused: cut.
			want: "v1.0.0-alpha,v1.0.0-beta,v1.0.0-rc1 + 2 more...",
		},
		{
			// 27 used, 13 unused (> 25%), next tag overflows by 3 (<= 25%): taken.
			name: "slight overflow allowed when much width was unused",
			tags: tagList(base, tagAgo{long("a", 26), 0}, tagAgo{long("b", 15), time.Minute}, tagAgo{"c", 2 * time.Minute}),
			want: long("a", 26) + "," + long("b", 15) + " + 1 more...",
		},
		{
			// 31 used, 9 unused (< 25%): the overflowing tag is not taken.
			name: "no overflow when little width was unused",
			tags: tagList(base, tagAgo{long("a", 30), 0}, tagAgo{long("b", 15), time.Minute}, tagAgo{"c", 2 * time.Minute}),
			want: long("a", 30) + " + 2 more...",
		},
		{
			name: "exactly 40 characters fit",
			tags: tagList(base, tagAgo{long("a", 19), 0}, tagAgo{long("b", 19), time.Minute}),
			want: long("a", 19) + "," + long("b", 19),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream := &imagev1.ImageStream{Status: imagev1.ImageStreamStatus{Tags: tc.tags}}
			if got := ImageStreamTagsColumn(stream); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestImageStreamUpdated(t *testing.T) {
	base := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		tags []imagev1.NamedTagEventList
		want time.Time
	}{
		{name: "no tags"},
		{name: "no history", tags: tagList(base, tagAgo{"a", -1})},
		{name: "newest head wins", tags: tagList(base, tagAgo{"a", time.Hour}, tagAgo{"b", 0}, tagAgo{"c", -1}), want: base},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream := &imagev1.ImageStream{Status: imagev1.ImageStreamStatus{Tags: tc.tags}}
			if got := ImageStreamUpdated(stream); !got.Time.Equal(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestHumanDuration pins the go-units renderings `oc` users see.
func TestHumanDuration(t *testing.T) {
	day := 24 * time.Hour
	week := 7 * day
	month := 30 * day
	year := 365 * day
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Minute, "Less than a second"},
		{450 * time.Millisecond, "Less than a second"},
		{time.Second, "1 second"},
		{47 * time.Second, "47 seconds"},
		{59 * time.Second, "59 seconds"},
		{60 * time.Second, "About a minute"},
		{time.Minute + 59*time.Second, "About a minute"},
		{3 * time.Minute, "3 minutes"},
		{35*time.Minute + 40*time.Second, "35 minutes"},
		{59 * time.Minute, "59 minutes"},
		{time.Hour, "About an hour"},
		{time.Hour + 29*time.Minute, "About an hour"},
		{time.Hour + 31*time.Minute, "2 hours"},
		{3 * time.Hour, "3 hours"},
		{3*time.Hour + 31*time.Minute, "4 hours"},
		{day, "24 hours"},
		{day + 12*time.Hour, "36 hours"},
		{2 * day, "2 days"},
		{13*day + 5*time.Hour, "13 days"},
		{2 * week, "2 weeks"},
		{2*week + 4*day, "2 weeks"},
		{month, "4 weeks"},
		{month + 2*week, "6 weeks"},
		{2 * month, "2 months"},
		{5*month + 2*week, "5 months"},
		{24 * month, "24 months"},
		{24*month + 2*week, "2 years"},
		{3*year + 2*month, "3 years"},
	}
	for _, tc := range tests {
		if got := HumanDuration(tc.d); got != tc.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
