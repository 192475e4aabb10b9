package imagestream

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestConvertToTableColumns checks the columns of `oc get is`: no AGE column.
func TestConvertToTableColumns(t *testing.T) {
	table, err := TableConvertor{}.ConvertToTable(context.Background(), &imagev1.ImageStreamList{}, nil)
	if err != nil {
		t.Fatalf("ConvertToTable: %v", err)
	}
	var names []string
	for _, c := range table.ColumnDefinitions {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"Name", "Image Repository", "Tags", "Updated"}, names); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if table.ColumnDefinitions[0].Format != "name" {
		t.Errorf("Name column format = %q, want name", table.ColumnDefinitions[0].Format)
	}
	if len(table.Rows) != 0 {
		t.Errorf("empty list gave %d rows", len(table.Rows))
	}
}

// TestConvertToTable checks the cells of `oc get is`: repository preference (public, spec,
// internal), tags newest head first, "Updated" as a docker-style relative time.
func TestConvertToTable(t *testing.T) {
	now := time.Now()
	ago := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	history := func(tag string, created metav1.Time) imagev1.NamedTagEventList {
		return imagev1.NamedTagEventList{Tag: tag, Items: []imagev1.TagEvent{{Created: created, DockerImageReference: "quay.io/a/b@" + digestA, Image: digestA}}}
	}
	public := imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "public", Namespace: "ns", ResourceVersion: "5"},
		Spec:       imagev1.ImageStreamSpec{DockerImageRepository: "quay.io/a/b"},
		Status: imagev1.ImageStreamStatus{
			DockerImageRepository:       internalRepo("public"),
			PublicDockerImageRepository: publicRepo("public"),
			Tags:                        []imagev1.NamedTagEventList{history("old", ago(3*24*time.Hour)), history("new", ago(3*time.Hour))},
		},
	}
	spec := imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "spec", Namespace: "ns", ResourceVersion: "6"},
		Spec:       imagev1.ImageStreamSpec{DockerImageRepository: "quay.io/c/d"},
		Status:     imagev1.ImageStreamStatus{DockerImageRepository: "quay.io/c/d"},
	}
	internal := imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "internal", Namespace: "ns", ResourceVersion: "7"},
		Status:     imagev1.ImageStreamStatus{DockerImageRepository: internalRepo("internal")},
	}
	remaining := int64(3)

	tests := []struct {
		name      string
		obj       runtime.Object
		wantCells [][]interface{}
		wantRV    string
		wantCont  string
		wantRem   *int64
	}{
		{
			name: "list of two streams keeps the list's resourceVersion and continue token",
			obj: &imagev1.ImageStreamList{
				ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "next-page", RemainingItemCount: &remaining},
				Items:    []imagev1.ImageStream{public, spec},
			},
			wantCells: [][]interface{}{
				{"public", publicRepo("public"), "new,old", "3 hours ago"},
				{"spec", "quay.io/c/d", "", ""},
			},
			wantRV:   "42",
			wantCont: "next-page",
			wantRem:  &remaining,
		},
		{
			name:      "a single stream without public or spec repository shows the internal one",
			obj:       &internal,
			wantCells: [][]interface{}{{"internal", internalRepo("internal"), "", ""}},
			wantRV:    "7",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table, err := TableConvertor{}.ConvertToTable(context.Background(), tc.obj, nil)
			if err != nil {
				t.Fatalf("ConvertToTable: %v", err)
			}
			var cells [][]interface{}
			for _, row := range table.Rows {
				cells = append(cells, row.Cells)
				if row.Object.Object == nil {
					t.Errorf("row %v carries no object", row.Cells)
				}
			}
			if diff := cmp.Diff(tc.wantCells, cells); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
			if table.ResourceVersion != tc.wantRV || table.Continue != tc.wantCont {
				t.Errorf("resourceVersion, continue = %q, %q; want %q, %q", table.ResourceVersion, table.Continue, tc.wantRV, tc.wantCont)
			}
			if diff := cmp.Diff(tc.wantRem, table.RemainingItemCount); diff != "" {
				t.Errorf("remainingItemCount (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConvertToTableRejectsOtherKinds(t *testing.T) {
	if _, err := (TableConvertor{}).ConvertToTable(context.Background(), &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, nil); err == nil {
		t.Error("ConvertToTable of an Image: want an error")
	}
}
