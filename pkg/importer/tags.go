package importer

import (
	"regexp"
	"sort"
	"strings"

	"github.com/blang/semver/v4"
	imagev1 "github.com/openshift/api/image/v1"
)

// Tag classes of a repository import, most wanted first.
const (
	tagLatest = iota // "latest"
	tagMinor         // a minor version: "5.1", "v5.1", "5.1-rc1"
	tagFull          // a full semantic version: "5.1.3", "v5.1.3-other"
	tagOther         // anything else
)

var (
	minorVersion          = regexp.MustCompile(`^\d+\.\d+$`)
	minorVersionWithLabel = regexp.MustCompile(`^(\d+\.\d+)-\w+$`)
)

// rankedTag is a tag with what orders it.
type rankedTag struct {
	tag     string
	class   int
	version semver.Version
	prefix  string // "v" or ""
}

func rankTag(tag string) rankedTag {
	if tag == imagev1.DefaultImageTag {
		return rankedTag{tag: tag, class: tagLatest}
	}
	short, prefix := tag, ""
	if strings.HasPrefix(tag, "v") {
		short, prefix = tag[1:], "v"
	}
	if v, err := semver.Parse(short); err == nil {
		return rankedTag{tag: tag, class: tagFull, version: v, prefix: prefix}
	}
	if minorVersion.MatchString(short) {
		if v, err := semver.Parse(short + ".0"); err == nil {
			return rankedTag{tag: tag, class: tagMinor, version: v, prefix: prefix}
		}
	}
	if m := minorVersionWithLabel.FindStringSubmatch(short); m != nil {
		if v, err := semver.Parse(strings.Replace(short, m[1], m[1]+".0", 1)); err == nil {
			return rankedTag{tag: tag, class: tagMinor, version: v, prefix: prefix}
		}
	}
	return rankedTag{tag: tag, class: tagOther, prefix: prefix}
}

// prioritizeTags orders a repository's tags the way OpenShift picks the ones a repository
// import fetches: "latest", then minor versions newest first, then full semantic versions
// newest first, then the rest in lexical order. An empty tag (some registries list one) counts
// as "latest"; duplicates are dropped.
func prioritizeTags(tags []string) []string {
	seen := map[string]bool{}
	ranked := make([]rankedTag, 0, len(tags))
	for _, t := range tags {
		if t == "" {
			t = imagev1.DefaultImageTag
		}
		if seen[t] {
			continue
		}
		seen[t] = true
		ranked = append(ranked, rankTag(t))
	}
	// Start from lexical order so that equal ranks come out the same every time.
	sort.Slice(ranked, func(i, j int) bool { return ranked[i].tag < ranked[j].tag })
	sort.SliceStable(ranked, func(i, j int) bool {
		a, b := ranked[i], ranked[j]
		if a.class != b.class {
			return a.class < b.class
		}
		if a.class == tagOther {
			return a.tag < b.tag
		}
		if c := a.version.Compare(b.version); c != 0 {
			return c > 0
		}
		return a.prefix < b.prefix
	})
	out := make([]string, len(ranked))
	for i, r := range ranked {
		out[i] = r.tag
	}
	return out
}
