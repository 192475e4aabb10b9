// Package validutf8 is an admission check that every string of a created or updated object is
// valid UTF-8.
//
// Kubernetes API strings are UTF-8, but nothing enforces it for protobuf requests: the
// generated decoder copies string bytes as they are, so they would be stored as sent, and
// every JSON reader would then get U+FFFD in their place: different data depending on how
// it is read, and objects that do not survive a JSON round trip. (JSON and YAML request
// bodies are checked before decoding, see pkg/server/filters.) The check is one walk over the
// decoded object, cheap next to decoding it, and answers 422 with the path of each bad field.
package validutf8

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission"
)

// PluginName names the check in admission metrics and errors.
const PluginName = "image.openshift.io/ValidUTF8"

// maxErrors bounds the causes one answer lists.
const maxErrors = 10

// Plugin rejects created and updated objects with a string that is not valid UTF-8.
type Plugin struct {
	*admission.Handler
}

var _ admission.ValidationInterface = &Plugin{}

// New returns the check.
func New() *Plugin {
	return &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update)}
}

// Validate returns a 422 naming the fields whose strings are not valid UTF-8.
func (p *Plugin) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	obj := a.GetObject()
	if obj == nil {
		return nil
	}
	errs := Check(obj)
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(a.GetKind().GroupKind(), a.GetName(), errs)
}

// Check returns an error for each string (and map key) of obj that is not valid UTF-8, at
// most maxErrors. Field paths use the JSON names. Byte slices are binary and not checked.
func Check(obj runtime.Object) field.ErrorList {
	// Every admitted object is checked, nearly always valid: a first walk only looks, without
	// building a field path per field; the second, which names the fields, runs on failure.
	if allValid(reflect.ValueOf(obj)) {
		return nil
	}
	w := walker{}
	w.walk(reflect.ValueOf(obj), nil)
	return w.errs
}

// allValid reports whether every string and map key under v is valid UTF-8, visiting what
// walk visits.
func allValid(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || allValid(v.Elem())
	case reflect.String:
		return utf8.ValidString(v.String())
	case reflect.Struct:
		for _, i := range carriedFields(v.Type()) {
			if !allValid(v.Field(i)) {
				return false
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return true
		}
		fallthrough
	case reflect.Array:
		for i := range v.Len() {
			if !allValid(v.Index(i)) {
				return false
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if key := iter.Key(); key.Kind() == reflect.String && !utf8.ValidString(key.String()) {
				return false
			}
			if !allValid(iter.Value()) {
				return false
			}
		}
	}
	return true
}

// fieldsByType caches carriedFields per struct type.
var fieldsByType sync.Map // reflect.Type -> []int

// carriedFields returns the indexes of the fields of struct type t that walk visits: the
// exported ones JSON carries.
func carriedFields(t reflect.Type) []int {
	if cached, ok := fieldsByType.Load(t); ok {
		return cached.([]int)
	}
	var fields []int
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _ := jsonName(f); f.IsExported() && name != "-" {
			fields = append(fields, i)
		}
	}
	fieldsByType.Store(t, fields)
	return fields
}

type walker struct {
	errs field.ErrorList
}

func (w *walker) walk(v reflect.Value, path *field.Path) {
	if len(w.errs) >= maxErrors {
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem(), path)
		}
	case reflect.String:
		w.check(v.String(), path)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, inline := jsonName(f)
			if name == "-" {
				continue
			}
			child := path
			if !inline {
				child = path.Child(name)
			}
			w.walk(v.Field(i), child)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		fallthrough
	case reflect.Array:
		for i := range v.Len() {
			w.walk(v.Index(i), path.Index(i))
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			key := iter.Key()
			var keyPath *field.Path
			if key.Kind() == reflect.String {
				keyPath = path.Key(strings.ToValidUTF8(key.String(), "\uFFFD"))
				if !utf8.ValidString(key.String()) {
					w.add(path, key.String(), "keys must be valid UTF-8")
				}
			} else {
				keyPath = path.Key(fmt.Sprint(key.Interface()))
			}
			w.walk(iter.Value(), keyPath)
		}
	}
}

func (w *walker) check(s string, path *field.Path) {
	if !utf8.ValidString(s) {
		w.add(path, s, "must be valid UTF-8")
	}
}

func (w *walker) add(path *field.Path, s, detail string) {
	if len(w.errs) >= maxErrors {
		return
	}
	at := 0
	for at < len(s) {
		r, size := utf8.DecodeRuneInString(s[at:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		at += size
	}
	detail = fmt.Sprintf("%s (invalid byte 0x%02x at offset %d)", detail, s[at], at)
	w.errs = append(w.errs, field.Invalid(path, preview(s), detail))
}

// preview shows the start of a bad value, with its invalid bytes replaced: the value itself
// may be large, and cannot be returned in a JSON Status as it is.
func preview(s string) string {
	const max = 64
	if len(s) > max {
		return strings.ToValidUTF8(s[:max], "\uFFFD") + "..."
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// jsonName returns a field's JSON name and whether it is inlined into its parent.
func jsonName(f reflect.StructField) (string, bool) {
	tag := f.Tag.Get("json")
	name, opts, _ := strings.Cut(tag, ",")
	if name == "-" && opts == "" {
		return "-", false
	}
	if strings.Contains(","+opts+",", ",inline,") || (f.Anonymous && name == "") {
		return "", true
	}
	if name == "" {
		name = f.Name
	}
	return name, false
}
