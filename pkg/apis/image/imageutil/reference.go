package imageutil

import (
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
)

// pullSpecByDigest points repository at image: "<repository>@<image>", any tag or ID in the
// repository dropped. It reports false when the repository does not parse, so that callers
// fall back to the reference they already have, as OpenShift does when it resolves a tag's
// pull spec or picks the reference of a mapping's tag event.
func pullSpecByDigest(repository, image string) (string, bool) {
	ref, err := reference.Parse(repository)
	if err != nil {
		return "", false
	}
	ref.Tag = ""
	ref.ID = image
	return ref.Exact(), true
}
