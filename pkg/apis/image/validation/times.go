package validation

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// timeOutOfRangeMessage explains why a time is refused.
const timeOutOfRangeMessage = "must be between the years 0000 and 9999: JSON and YAML clients could not read the object back"

var (
	timeType      = reflect.TypeFor[metav1.Time]()
	microTimeType = reflect.TypeFor[metav1.MicroTime]()
)

// validateTimes refuses every time in obj (found through its fields, at their JSON paths under
// fldPath) that JSON cannot carry. A time is written to JSON in RFC 3339 form, whose years have
// four digits: a later or negative year is written anyway, but no client can parse it, so one
// such time stored in an object makes every JSON read of it fail, lists included. Only a
// protobuf body can carry such a time (JSON and YAML bodies cannot), so nothing a JSON client
// could have sent is refused. All times are checked, present and future fields alike, because
// openshift/api may add some.
func validateTimes(obj any, fldPath *field.Path) field.ErrorList {
	// Every image a push creates is checked, and its times are nearly always fine: a first
	// walk only looks, without building a field path per field; the second, which names the
	// fields, runs on failure.
	if timesInRange(reflect.ValueOf(obj)) {
		return nil
	}
	var errs field.ErrorList
	walkTimes(reflect.ValueOf(obj), fldPath, &errs)
	return errs
}

// timesInRange reports whether every time under v is one JSON can carry, visiting what
// walkTimes visits.
func timesInRange(v reflect.Value) bool {
	if !mayHoldTime(v.Type()) {
		return true
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || timesInRange(v.Elem())
	case reflect.Struct:
		switch v.Type() {
		case timeType:
			return inJSONRange(v.Interface().(metav1.Time))
		case microTimeType:
			return inJSONRange(metav1.Time{Time: v.Interface().(metav1.MicroTime).Time})
		}
		for _, i := range timeFields(v.Type()) {
			if !timesInRange(v.Field(i)) {
				return false
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if !timesInRange(v.Index(i)) {
				return false
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if !timesInRange(iter.Value()) {
				return false
			}
		}
	}
	return true
}

// timeFieldsByType caches timeFields per struct type.
var timeFieldsByType sync.Map // reflect.Type -> []int

// timeFields returns the indexes of the fields of struct type t that JSON carries and that
// may hold a time: the ones walkTimes visits.
func timeFields(t reflect.Type) []int {
	if cached, ok := timeFieldsByType.Load(t); ok {
		return cached.([]int)
	}
	var fields []int
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if _, _, ok := jsonName(f); ok && mayHoldTime(f.Type) {
			fields = append(fields, i)
		}
	}
	timeFieldsByType.Store(t, fields)
	return fields
}

func walkTimes(v reflect.Value, p *field.Path, errs *field.ErrorList) {
	if !mayHoldTime(v.Type()) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkTimes(v.Elem(), p, errs)
		}
	case reflect.Struct:
		switch v.Type() {
		case timeType:
			if t := v.Interface().(metav1.Time); !inJSONRange(t) {
				*errs = append(*errs, invalidTime(p, t))
			}
			return
		case microTimeType:
			if t := v.Interface().(metav1.MicroTime); !inJSONRange(metav1.Time{Time: t.Time}) {
				*errs = append(*errs, invalidTime(p, t))
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			name, inline, ok := jsonName(f)
			if !ok || !mayHoldTime(f.Type) {
				continue
			}
			child := p
			if !inline {
				child = p.Child(name)
			}
			walkTimes(v.Field(i), child, errs)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walkTimes(v.Index(i), p.Index(i), errs)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			walkTimes(iter.Value(), p.Key(fmt.Sprint(iter.Key().Interface())), errs)
		}
	}
}

// jsonName returns the JSON name of an exported field, whether it is inlined into its parent,
// and false for fields JSON does not carry.
func jsonName(f reflect.StructField) (name string, inline, ok bool) {
	name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
	if !f.IsExported() || name == "-" {
		return "", false, false
	}
	return name, name == "" || strings.Contains(opts, "inline"), true
}

// timeHolders caches mayHoldTime per type: the walk runs on every image a mapping creates, and
// most of an image (layers, manifests, metadata bytes) holds no time at all.
var timeHolders sync.Map // reflect.Type -> bool

// mayHoldTime reports whether a value of type t can contain a time that JSON carries.
func mayHoldTime(t reflect.Type) bool {
	if cached, ok := timeHolders.Load(t); ok {
		return cached.(bool)
	}
	holds := holdsTime(t, map[reflect.Type]bool{})
	timeHolders.Store(t, holds)
	return holds
}

// holdsTime computes mayHoldTime; visiting breaks the cycles of recursive types, whose way back
// to a type being visited adds nothing to it.
func holdsTime(t reflect.Type, visiting map[reflect.Type]bool) bool {
	if cached, ok := timeHolders.Load(t); ok {
		return cached.(bool)
	}
	if visiting[t] {
		return false
	}
	visiting[t] = true
	defer delete(visiting, t)
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return holdsTime(t.Elem(), visiting)
	case reflect.Struct:
		if t == timeType || t == microTimeType {
			return true
		}
		for i := 0; i < t.NumField(); i++ {
			if _, _, ok := jsonName(t.Field(i)); ok && holdsTime(t.Field(i).Type, visiting) {
				return true
			}
		}
	}
	return false
}

// inJSONRange reports whether JSON can carry t: RFC 3339 years have four digits.
func inJSONRange(t metav1.Time) bool {
	year := t.UTC().Year()
	return year >= 0 && year <= 9999
}

// invalidTime is the error for a time JSON cannot carry.
func invalidTime(p *field.Path, t any) *field.Error {
	return field.Invalid(p, fmt.Sprint(t), timeOutOfRangeMessage)
}
