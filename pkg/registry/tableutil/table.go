// Package tableutil builds server-side Tables (as=Table) for the image registries.
package tableutil

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metatable "k8s.io/apimachinery/pkg/api/meta/table"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Build returns a Table with the given columns for one object or a list, carrying the list's
// resourceVersion and continue token so `kubectl get --chunk-size` and watches keep working.
// cells returns the cells of one row.
func Build(obj runtime.Object, columns []metav1.TableColumnDefinition, cells func(obj runtime.Object, name string) ([]interface{}, error)) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: columns}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
		table.Continue = m.GetContinue()
		table.RemainingItemCount = m.GetRemainingItemCount()
	} else if m, err := meta.CommonAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	var err error
	table.Rows, err = metatable.MetaToTableRow(obj, func(obj runtime.Object, _ metav1.Object, name, _ string) ([]interface{}, error) {
		return cells(obj, name)
	})
	return table, err
}
