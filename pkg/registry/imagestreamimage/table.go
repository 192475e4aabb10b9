package imagestreamimage

import (
	"context"
	"fmt"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/registry/tableutil"
)

// TableConvertor prints image stream images like `oc get isimage`: no AGE column, the image's
// creation in "3 hours ago" form.
type TableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	{Name: "Updated", Type: "string", Description: "Last update time."},
	{Name: "Image Reference", Type: "string", Priority: 1, Description: imagev1.Image{}.SwaggerDoc()["dockerImageReference"]},
	{Name: "Image Name", Type: "string", Priority: 1, Description: imagev1.ImageStreamImage{}.SwaggerDoc()["image"]},
}

// ConvertToTable renders one image stream image.
func (TableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	return tableutil.Build(obj, columns, func(obj runtime.Object, name string) ([]interface{}, error) {
		isi, ok := obj.(*imagev1.ImageStreamImage)
		if !ok {
			return nil, fmt.Errorf("not an ImageStreamImage: %T", obj)
		}
		updated := imageutil.HumanDuration(now.Sub(isi.CreationTimestamp.Time)) + " ago"
		return []interface{}{name, updated, isi.Image.DockerImageReference, isi.Image.Name}, nil
	})
}
