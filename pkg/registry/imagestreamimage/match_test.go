package imagestreamimage

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseName(t *testing.T) {
	cases := []struct {
		in, stream, id string
		ok             bool
	}{
		{"app@sha256:abc", "app", "sha256:abc", true},
		{"app@abc", "app", "abc", true},
		{"app", "", "", false},
		{"@abc", "", "", false},
		{"app@", "", "", false},
		{"app@a@b", "", "", false},
	}
	for _, tc := range cases {
		stream, id, ok := parseName(tc.in)
		if stream != tc.stream || id != tc.id || ok != tc.ok {
			t.Errorf("parseName(%q) = %q, %q, %v", tc.in, stream, id, ok)
		}
	}
}

func TestMatching(t *testing.T) {
	a := "sha256:aaaa1" + strings.Repeat("0", 59)
	b := "sha256:aaaa2" + strings.Repeat("0", 59)
	gone := "sha256:bbbb" + strings.Repeat("0", 60)
	layers := &imagev1.ImageStreamLayers{Images: map[string]imagev1.ImageBlobReferences{
		a: {}, b: {}, gone: {ImageMissing: true}, "not-a-digest": {},
	}}
	cases := []struct {
		id   string
		want []string
	}{
		{a, []string{a}},
		{"aaaa1", []string{a}},
		{"sha256:aaaa2", []string{b}},
		{"aaaa", []string{a, b}},
		{"sha256:", []string{a, b}},
		{"bbbb", nil},
		{"not-a", []string{"not-a-digest"}},
		{"cccc", nil},
	}
	for _, tc := range cases {
		if got := matching(layers, tc.id); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("matching(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestAmbiguous(t *testing.T) {
	var names []string
	for i := 0; i < 7; i++ {
		names = append(names, fmt.Sprintf("sha256:%064x", i))
	}
	err := ambiguous("app@sha256:0", names)
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "matches 7 images") || !strings.Contains(err.Error(), "and 2 more") ||
		!strings.Contains(err.Error(), names[0]) || strings.Contains(err.Error(), names[6]) {
		t.Errorf("ambiguity error: %v", err)
	}
	if d := err.(apierrors.APIStatus).Status().Details; d == nil || d.Name != "app@sha256:0" || d.Kind != "imagestreamimages" {
		t.Errorf("details %+v", d)
	}
}

func TestTable(t *testing.T) {
	isi := &imagev1.ImageStreamImage{
		ObjectMeta: metav1.ObjectMeta{Name: "app@sha256:abc", CreationTimestamp: metav1.NewTime(time.Now().Add(-3 * time.Hour))},
		Image:      imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "sha256:abc"}, DockerImageReference: "registry.test/ns/app@sha256:abc"},
	}
	table, err := TableConvertor{}.ConvertToTable(context.Background(), isi, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range table.ColumnDefinitions {
		names = append(names, fmt.Sprintf("%s/%d", c.Name, c.Priority))
	}
	if got := strings.Join(names, ","); got != "Name/0,Updated/0,Image Reference/1,Image Name/1" {
		t.Errorf("columns %s", got)
	}
	if got := fmt.Sprint(table.Rows[0].Cells); got != "[app@sha256:abc 3 hours ago registry.test/ns/app@sha256:abc sha256:abc]" {
		t.Errorf("cells %s", got)
	}
}
