package image

import (
	"context"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/image-apiserver/image-apiserver/pkg/registry/tableutil"
)

// TableConvertor prints images like `oc get images`.
type TableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "The image's digest."},
	{Name: "Image Reference", Type: "string", Description: "dockerImageReference is the string that can be used to pull this image."},
}

// ConvertToTable renders one image or a list of them.
func (TableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return tableutil.Build(obj, columns, func(obj runtime.Object, name string) ([]interface{}, error) {
		img, ok := obj.(*imagev1.Image)
		if !ok {
			return nil, fmt.Errorf("not an Image: %T", obj)
		}
		return []interface{}{name, img.DockerImageReference}, nil
	})
}
