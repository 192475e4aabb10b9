package importer

import (
	"context"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// wrongCredentials reports the 401 of credentials a registry refused, as opposed to missing
// ones: a stale namespace secret for a registry that also serves the image anonymously.
func wrongCredentials(status metav1.Status) bool {
	return status.Reason == metav1.StatusReasonUnauthorized &&
		strings.Contains(strings.ToLower(status.Message), "username or password")
}

// retryAnonymously imports once more, without credentials, the entries the first attempt lost
// to refused credentials. An entry takes the new answer only when it is a success: otherwise
// the first answer, which says the credentials were wrong, is the more useful one.
func (imp *Importer) retryAnonymously(ctx context.Context, spec *imagev1.ImageStreamImportSpec, stream *imagev1.ImageStream, status *imagev1.ImageStreamImportStatus) {
	var retry imagev1.ImageStreamImportSpec
	var indexes []int
	for i, st := range status.Images {
		if wrongCredentials(st.Status) {
			retry.Images = append(retry.Images, spec.Images[i])
			indexes = append(indexes, i)
		}
	}
	if repo := status.Repository; repo != nil && spec.Repository != nil && repositoryRefusedCredentials(repo) {
		retry.Repository = spec.Repository
	}
	if len(indexes) == 0 && retry.Repository == nil {
		return
	}

	again := imp.importOnce(ctx, &retry, stream, anonymous{})
	for j, i := range indexes {
		if again.Images[j].Status.Status == metav1.StatusSuccess {
			status.Images[i] = again.Images[j]
		}
	}
	if retry.Repository != nil && again.Repository.Status.Status == metav1.StatusSuccess {
		status.Repository = again.Repository
	}
}

// repositoryRefusedCredentials reports a repository import that failed, as a whole or for
// some tags, on refused credentials.
func repositoryRefusedCredentials(repo *imagev1.RepositoryImportStatus) bool {
	if wrongCredentials(repo.Status) {
		return true
	}
	for _, st := range repo.Images {
		if wrongCredentials(st.Status) {
			return true
		}
	}
	return false
}
