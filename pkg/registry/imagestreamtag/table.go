package imagestreamtag

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

// TableConvertor prints tags like `oc get istag`: no AGE column, relative times in
// "3 hours ago" form.
type TableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	{Name: "Image Reference", Type: "string", Description: imagev1.Image{}.SwaggerDoc()["dockerImageReference"]},
	{Name: "Updated", Type: "string", Description: "Last update time."},
	{Name: "Image Name", Type: "string", Priority: 1, Description: imagev1.ImageStreamTag{}.SwaggerDoc()["image"]},
}

// ConvertToTable renders one tag or a list of them.
func (TableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	return tableutil.Build(obj, columns, func(obj runtime.Object, name string) ([]interface{}, error) {
		ist, ok := obj.(*imagev1.ImageStreamTag)
		if !ok {
			return nil, fmt.Errorf("not an ImageStreamTag: %T", obj)
		}
		return []interface{}{name, ist.Image.DockerImageReference, imageutil.Ago(now, ist.CreationTimestamp), ist.Image.Name}, nil
	})
}
