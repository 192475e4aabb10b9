package imagestream

import (
	"context"
	"fmt"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/image-apiserver/image-apiserver/pkg/registry/tableutil"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
)

// TableConvertor prints streams like `oc get is`: no AGE column, relative times in
// "3 hours ago" form.
type TableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the image stream."},
	{Name: "Image Repository", Type: "string", Description: "Where the stream's images can be pulled from: the public repository if there is one, else spec.dockerImageRepository, else the internal repository."},
	{Name: "Tags", Type: "string", Description: "The stream's tags, most recently updated first."},
	{Name: "Updated", Type: "string", Description: "When a tag of the stream last changed."},
}

// ConvertToTable renders one stream or a list of them.
func (TableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	return tableutil.Build(obj, columns, func(obj runtime.Object, name string) ([]interface{}, error) {
		stream, ok := obj.(*imagev1.ImageStream)
		if !ok {
			return nil, fmt.Errorf("not an ImageStream: %T", obj)
		}
		updated := ""
		if t := imageutil.ImageStreamUpdated(stream); !t.IsZero() {
			updated = imageutil.HumanDuration(now.Sub(t.Time)) + " ago"
		}
		return []interface{}{name, repositoryColumn(stream), imageutil.ImageStreamTagsColumn(stream), updated}, nil
	})
}

// repositoryColumn follows oc: public repository, else spec, else internal repository.
func repositoryColumn(stream *imagev1.ImageStream) string {
	switch {
	case stream.Status.PublicDockerImageRepository != "":
		return stream.Status.PublicDockerImageRepository
	case stream.Spec.DockerImageRepository != "":
		return stream.Spec.DockerImageRepository
	default:
		return stream.Status.DockerImageRepository
	}
}
