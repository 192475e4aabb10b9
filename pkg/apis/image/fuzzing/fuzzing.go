// Package fuzzing holds what the Go native fuzz targets of the image API share: decoding a
// request body the way the server does, the properties every target checks, and seed objects.
// The targets live beside the code they exercise: Image in pkg/registry/image, ImageStream in
// pkg/registry/imagestream, and ImageStreamMapping here, because a mapping runs the mapping
// storage and the image and stream strategies together. hack/fuzz.sh runs them all. (Package
// fuzzer, by contrast, holds the randfill functions of the round-trip tests.)
//
// The package imports pkg/apiserver for the server's own scheme and codecs, so only test code
// may import it: pkg/apiserver imports the registries.
package fuzzing

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/install"
	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
)

// Format is the content type of a fuzzed request body.
type Format uint8

// The content types the server accepts.
const (
	JSON Format = iota
	YAML
	Protobuf
	numFormats
)

// FormatOf maps any fuzzed byte to a format, so the fuzzer can switch formats by mutation.
func FormatOf(b uint8) Format { return Format(b % uint8(numFormats)) }

// MediaType is the Content-Type of the format.
func (f Format) MediaType() string {
	switch f {
	case YAML:
		return runtime.ContentTypeYAML
	case Protobuf:
		return runtime.ContentTypeProtobuf
	default:
		return runtime.ContentTypeJSON
	}
}

func (f Format) String() string { return f.MediaType() }

func serializer(f Format) runtime.Serializer {
	info, ok := runtime.SerializerInfoForMediaType(apiserver.Codecs.SupportedMediaTypes(), f.MediaType())
	if !ok {
		panic(fmt.Sprintf("the server's codecs do not support %s", f.MediaType()))
	}
	return info.Serializer
}

// Decode decodes a request body as the create and update handlers do: by content type, into
// the in-memory (__internal) version, with the v1 defaults applied. into must be a new, empty
// object of the kind the endpoint serves; a body of another kind is an error, as the handler
// answers it with 400.
func Decode(f Format, body []byte, into runtime.Object) (runtime.Object, error) {
	decoder := apiserver.Codecs.DecoderToVersion(serializer(f), install.InternalGroupVersion)
	kinds, _, err := apiserver.Scheme.ObjectKinds(into)
	if err != nil {
		return nil, err
	}
	defaultGVK := imagev1.GroupVersion.WithKind(kinds[0].Kind)
	obj, _, err := decoder.Decode(body, &defaultGVK, into)
	if err != nil {
		return nil, err
	}
	if reflect.TypeOf(obj) != reflect.TypeOf(into) {
		return nil, fmt.Errorf("decoded %T, want %T", obj, into)
	}
	return obj, nil
}

// Encode encodes obj in v1 as the server writes a response.
func Encode(f Format, obj runtime.Object) ([]byte, error) {
	encoder := apiserver.Codecs.EncoderForVersion(serializer(f), imagev1.GroupVersion)
	return runtime.Encode(encoder, obj.DeepCopyObject())
}

// AddSeeds adds every object to the corpus as a (format, body) pair in each format.
func AddSeeds(f *testing.F, objs ...runtime.Object) {
	f.Helper()
	for _, obj := range objs {
		for format := Format(0); format < numFormats; format++ {
			body, err := Encode(format, obj)
			if err != nil {
				f.Fatalf("encode seed %T as %s: %v", obj, format, err)
			}
			f.Add(uint8(format), body)
		}
	}
}

// RepoFile reads a file by its path from the repository root, for seeds taken from examples/.
func RepoFile(tb testing.TB, rel string) []byte {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("no go.mod above the test's directory")
		}
		dir = parent
	}
	data, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// CheckRoundTrips checks that obj, ready to be stored, survives every encoding and returns it
// as storage hands it back. Storage keeps times to the second only, as all of Kubernetes does
// ("now" has nanoseconds until then); nothing else may change. What storage hands back must
// then survive the storage codec again, and CheckClientRoundTrips.
func CheckRoundTrips[T runtime.Object](t *testing.T, obj T) T {
	t.Helper()
	stored := StorageRoundTrip(t, obj)
	checkEqual(t, "storage codec round trip", toTheSecond, obj, stored)
	checkEqual(t, "second storage codec round trip", equality.Semantic, stored, StorageRoundTrip(t, stored))
	CheckClientRoundTrips(t, stored)
	return stored
}

// CheckClientRoundTrips checks that obj survives the JSON, YAML and protobuf a client reads
// and sends back, with times kept to the second. JSON and YAML replace invalid UTF-8 in
// strings (which only a protobuf body can carry) by U+FFFD; for such objects what comes back
// must at least survive a second round trip unchanged. YAML is skipped for objects with a
// character YAML cannot print, such as DEL: the YAML serializer refuses them ("yaml: control
// characters are not allowed"), in every Kubernetes API (kubernetes/kubectl#774).
func CheckClientRoundTrips(t *testing.T, obj runtime.Object) {
	t.Helper()
	validUTF8 := allStrings(reflect.ValueOf(obj), utf8.ValidString)
	yamlPrintable := allStrings(reflect.ValueOf(obj), printableInYAML)
	for format := Format(0); format < numFormats; format++ {
		if format == YAML && !yamlPrintable {
			continue
		}
		body, err := Encode(format, obj)
		if err != nil {
			t.Fatalf("cannot encode %T as %s: %v", obj, format, err)
		}
		back, err := Decode(format, body, newLike(obj))
		if err != nil {
			t.Fatalf("cannot decode the %s the server wrote: %v\n%s", format, err, body)
		}
		switch {
		case format == YAML && validUTF8:
			checkEqual(t, format.String()+" round trip", sameJSON, obj, back)
			continue
		case format == Protobuf || validUTF8:
			checkEqual(t, format.String()+" round trip", toTheSecond, obj, back)
			continue
		}
		again, err := Encode(format, back)
		if err != nil {
			t.Fatalf("cannot encode %T as %s a second time: %v", obj, format, err)
		}
		backAgain, err := Decode(format, again, newLike(obj))
		if err != nil {
			t.Fatalf("cannot decode the %s the server wrote a second time: %v\n%s", format, err, again)
		}
		eq := toTheSecond
		if format == YAML {
			eq = sameJSON
		}
		checkEqual(t, "second "+format.String()+" round trip", eq, back, backAgain)
	}
}

// StorageRoundTrip encodes obj with the storage codec and decodes it back: the object as
// storage hands it back.
func StorageRoundTrip[T runtime.Object](t testing.TB, obj T) T {
	t.Helper()
	codec, _, err := apiserver.StorageCodec()
	if err != nil {
		t.Fatal(err)
	}
	data, err := runtime.Encode(codec, obj.DeepCopyObject())
	if err != nil {
		t.Fatalf("storage codec cannot encode %T: %v", obj, err)
	}
	back := newLike(obj)
	if _, _, err := codec.Decode(data, nil, back); err != nil {
		t.Fatalf("storage codec cannot decode what it encoded: %v", err)
	}
	return back.(T)
}

// sameJSON is toTheSecond with raw JSON compared by value: YAML carries dockerImageMetadata as
// a YAML map, so its keys come back in another order.
var sameJSON = func() conversion.Equalities {
	e := conversion.EqualitiesOrDie()
	for k, v := range toTheSecond.Equalities {
		e.Equalities[k] = v
	}
	if err := e.AddFunc(func(a, b runtime.RawExtension) bool {
		if len(a.Raw) == 0 || len(b.Raw) == 0 {
			return len(a.Raw) == len(b.Raw)
		}
		var av, bv any
		return json.Unmarshal(a.Raw, &av) == nil && json.Unmarshal(b.Raw, &bv) == nil && reflect.DeepEqual(av, bv)
	}); err != nil {
		panic(err)
	}
	return e
}()

// toTheSecond is semantic equality with times compared to the second, as storage keeps them.
var toTheSecond = func() conversion.Equalities {
	e := conversion.EqualitiesOrDie()
	for k, v := range equality.Semantic.Equalities {
		e.Equalities[k] = v
	}
	if err := e.AddFunc(func(a, b metav1.Time) bool { return a.Unix() == b.Unix() }); err != nil {
		panic(err)
	}
	return e
}()

// newLike returns a new, empty object of obj's type.
func newLike(obj runtime.Object) runtime.Object {
	return reflect.New(reflect.TypeOf(obj).Elem()).Interface().(runtime.Object)
}

// CheckEqual fails the test unless got equals want as the API compares objects, with times
// compared to the second, as storage keeps them.
func CheckEqual(t *testing.T, what string, want, got runtime.Object) {
	t.Helper()
	checkEqual(t, what, toTheSecond, want, got)
}

// checkEqual compares the objects with eq, which treats nil and empty collections as equal,
// as the API does; TypeMeta is not part of the in-memory object.
func checkEqual(t *testing.T, what string, eq conversion.Equalities, want, got runtime.Object) {
	t.Helper()
	want, got = want.DeepCopyObject(), got.DeepCopyObject()
	want.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	got.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	if !eq.DeepEqual(want, got) {
		t.Fatalf("%s: the %T differs:\n%s", what, want, diff.Diff(want, got))
	}
}

// allStrings reports whether ok holds for every string reachable from v, map keys included.
// Byte slices are not strings: JSON carries them as base64.
func allStrings(v reflect.Value, ok func(string) bool) bool {
	switch v.Kind() {
	case reflect.String:
		return ok(v.String())
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || allStrings(v.Elem(), ok)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() && !allStrings(v.Field(i), ok) {
				return false
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return true
		}
		for i := 0; i < v.Len(); i++ {
			if !allStrings(v.Index(i), ok) {
				return false
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if !allStrings(iter.Key(), ok) || !allStrings(iter.Value(), ok) {
				return false
			}
		}
	}
	return true
}

// printableInYAML reports whether the YAML serializer can carry s: it converts the JSON
// encoding, which escapes the C0 controls but writes every other character as it is, and YAML
// refuses the characters it calls non-printable.
func printableInYAML(s string) bool {
	for _, r := range s {
		switch {
		case r < 0x20, r == 0x85, r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xd7ff,
			r >= 0xe000 && r <= 0xfffd && r != 0xfeff, r >= 0x10000 && r <= 0x10ffff:
		default:
			return false
		}
	}
	return true
}

// CheckStatusError checks that err, returned to a client for its own input, is a Kubernetes
// Status with one of the given codes (never a 500), and that every cause names a field.
func CheckStatusError(t *testing.T, err error, codes ...int32) {
	t.Helper()
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		t.Fatalf("error is not a Kubernetes Status (the client would get a 500): %T %v", err, err)
	}
	s := status.Status()
	if !containsCode(codes, s.Code) {
		t.Fatalf("Status code %d, want one of %v: %v", s.Code, codes, err)
	}
	if s.Details != nil {
		for _, c := range s.Details.Causes {
			if c.Field == "" {
				t.Fatalf("cause without a field path: %+v in %v", c, err)
			}
		}
	}
}

func containsCode(codes []int32, code int32) bool {
	for _, c := range codes {
		if c == code {
			return true
		}
	}
	return false
}

// CheckFieldErrors checks a validation result: every error names a field path whose first
// element is a JSON field of obj (or one of extraRoots, paths the API reports on purpose
// though the object has no such field), and no error is an internal one (a 500 in disguise).
func CheckFieldErrors(t *testing.T, errs field.ErrorList, obj runtime.Object, extraRoots ...string) {
	t.Helper()
	roots := jsonFields(reflect.TypeOf(obj).Elem())
	for _, r := range extraRoots {
		roots[r] = true
	}
	for _, e := range errs {
		if e.Field == "" {
			t.Fatalf("validation error without a field path: %v", e)
		}
		root := e.Field
		if i := strings.IndexAny(root, ".["); i >= 0 {
			root = root[:i]
		}
		if !roots[root] {
			t.Fatalf("validation error at %q, which is not a field of %T: %v", e.Field, obj, e)
		}
		if e.Type == field.ErrorTypeInternal {
			t.Fatalf("internal validation error: %v", e)
		}
	}
}

// jsonFields returns the JSON names of a struct's fields, descending into inlined ones.
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if strings.Contains(opts, "inline") || (f.Anonymous && name == "") {
			for k := range jsonFields(f.Type) {
				out[k] = true
			}
			continue
		}
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// CheckDeterministic runs validate twice on deep copies of obj and requires the same errors.
// The order may differ: validation of labels and annotations walks Go maps.
func CheckDeterministic[T runtime.Object](t *testing.T, obj T, validate func(T) field.ErrorList) field.ErrorList {
	t.Helper()
	first := validate(obj.DeepCopyObject().(T))
	second := validate(obj.DeepCopyObject().(T))
	a, b := errorStrings(first), errorStrings(second)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("validation is not deterministic:\n%v\n%v", a, b)
	}
	return first
}

func errorStrings(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, string(e.Type)+" "+e.Field+": "+e.Error())
	}
	sort.Strings(out)
	return out
}

// Snapshot is a deep copy of an object that must not change, to compare with later.
type Snapshot struct {
	copy runtime.Object
}

// Take records obj as it is now.
func Take(obj runtime.Object) Snapshot { return Snapshot{copy: obj.DeepCopyObject()} }

// Unchanged fails the test if obj differs from the snapshot (exactly, not semantically).
func (s Snapshot) Unchanged(t *testing.T, what string, obj runtime.Object) {
	t.Helper()
	if !reflect.DeepEqual(s.copy, obj) {
		t.Fatalf("%s was modified:\n%s", what, diff.Diff(s.copy, obj))
	}
}

// Scribble overwrites every string and byte of obj, through pointers, slices and maps, so that
// a test can then check that another object shared none of that memory.
func Scribble(obj runtime.Object) { scribble(reflect.ValueOf(obj)) }

func scribble(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString("\x00scribbled")
		}
	case reflect.Uint8:
		if v.CanSet() {
			v.SetUint(0xAA)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			scribble(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				scribble(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			scribble(v.Index(i))
		}
	case reflect.Map:
		// Map values are not addressable; replacing string values is what a map shared with
		// another object would show.
		if v.Type().Elem().Kind() != reflect.String {
			return
		}
		iter := v.MapRange()
		for iter.Next() {
			v.SetMapIndex(iter.Key(), reflect.ValueOf("\x00scribbled").Convert(v.Type().Elem()))
		}
	}
}
