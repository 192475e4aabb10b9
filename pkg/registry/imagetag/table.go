package imagetag

import (
	"context"
	"fmt"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/registry/tableutil"
)

// TableConvertor prints tags like `oc get itag`.
type TableConvertor struct{}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	{Name: "Spec", Type: "string", Description: "What the tag is: Tag, Ref (a reference), Scheduled (re-imported), Track (follows another tag of the stream) or Push (set by pushes only)."},
	{Name: "Status", Type: "string", Description: "What the tag points to now, or Importing, ImportFailed (reason)."},
	{Name: "History", Type: "number", Description: "Number of history entries"},
	{Name: "Updated", Type: "string", Description: "Last updated at"},
}

// ConvertToTable renders one tag or a list of them.
func (TableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	return tableutil.Build(obj, columns, func(obj runtime.Object, name string) ([]interface{}, error) {
		itag, ok := obj.(*imagev1.ImageTag)
		if !ok {
			return nil, fmt.Errorf("not an ImageTag: %T", obj)
		}
		return cells(itag, name, now), nil
	})
}

// cells follows oc's columns: the kind of spec tag, where it points (or why it does not), the
// history length (empty when none) and the last change of history or conditions.
func cells(itag *imagev1.ImageTag, name string, now time.Time) []interface{} {
	spec, source, problem, generation := describeSpec(itag.Spec)
	var history interface{}
	var last time.Time
	if st := itag.Status; st != nil {
		if len(st.Items) > 0 {
			history = int64(len(st.Items))
			head := st.Items[0]
			last = head.Created.Time
			switch {
			case generation > 0 && head.Generation > 0 && head.Generation < generation:
				problem = "Importing"
			case head.Image != "":
				source = "image/" + head.Image
			case head.DockerImageReference != "":
				source = head.DockerImageReference
			}
			switch {
			case source != "" && spec == "":
				spec = "Push"
			case spec == "Track":
				// A tracking tag's history comes from the tag it follows, whose generations
				// are not this tag's: nothing to compare.
			case generation > 0 && head.Generation > generation:
				// Set again after the spec tag: reset, or pushed to.
				spec = "Push"
			}
		}
		for _, c := range st.Conditions {
			if c.Type == imagev1.ImportSuccess && c.Status == corev1.ConditionFalse {
				problem = fmt.Sprintf("ImportFailed (%s)", c.Reason)
			}
			if c.LastTransitionTime.After(last) {
				last = c.LastTransitionTime.Time
			}
		}
	}
	status := problem
	if status == "" {
		status = source
	}
	return []interface{}{name, spec, status, history, imageutil.Ago(now, metav1.NewTime(last))}
}

// describeSpec returns the spec column, where the spec tag points, a problem with it, and
// its generation.
func describeSpec(ref *imagev1.TagReference) (spec, source, problem string, generation int64) {
	if ref == nil {
		return "", "", "", 0
	}
	if ref.Generation != nil {
		generation = *ref.Generation
	}
	if ref.From == nil {
		return "", "", "", generation
	}
	spec = "Tag"
	if ref.Reference {
		spec = "Ref"
	}
	if ref.ImportPolicy.Scheduled {
		spec = "Scheduled"
	}
	switch ref.From.Kind {
	case "DockerImage":
		source = ref.From.Name
	case "ImageStreamImage":
		if _, id, ok := strings.Cut(ref.From.Name, "@"); ok {
			source = "image/" + id
		} else {
			problem = "InvalidRefName"
		}
	case "ImageStreamTag":
		if ref.From.Namespace != "" {
			source = fmt.Sprintf("istag %s/%s", ref.From.Namespace, ref.From.Name)
		} else {
			source = "istag/" + ref.From.Name
		}
		if !strings.Contains(ref.From.Name, ":") {
			// Follows another tag of the same stream.
			spec = "Track"
		}
	default:
		problem = "InvalidRefKind"
	}
	return spec, source, problem, generation
}
