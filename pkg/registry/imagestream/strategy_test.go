package imagestream

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/install"
	imagev1ext "github.com/image-apiserver/image-apiserver/pkg/apis/image/v1"
)

const (
	internalHost = "image-registry.openshift-image-registry.svc:5000"
	publicHost   = "registry.example.com"
	digestA      = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB      = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	digestC      = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

var (
	bothHosts = RegistryHostnames{Internal: internalHost, Public: publicHost}
	// past is the creation time of events the tests store; events the strategy creates carry
	// "now" and are normalized to the zero time by normalizeNow.
	past = metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
)

func newTestStrategy(hostnames RegistryHostnames) Strategy {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	return NewStrategy(scheme, hostnames)
}

func ptr(v int64) *int64 { return &v }

// dockerTag is a spec tag pointing at a pull spec, with the policies already defaulted as
// decoding does.
func dockerTag(name, pullSpec string, generation *int64) imagev1.TagReference {
	return imagev1.TagReference{
		Name:            name,
		From:            &corev1.ObjectReference{Kind: "DockerImage", Name: pullSpec},
		Generation:      generation,
		ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
		ImportPolicy:    imagev1.TagImportPolicy{ImportMode: imagev1.ImportModeLegacy},
	}
}

// referenceTag is a DockerImage spec tag with reference=true, which resolves into status
// without an importer.
func referenceTag(name, pullSpec string, generation *int64) imagev1.TagReference {
	tag := dockerTag(name, pullSpec, generation)
	tag.Reference = true
	return tag
}

// trackingTag follows another tag through an ImageStreamTag reference.
func trackingTag(name, namespace, from string, generation *int64) imagev1.TagReference {
	tag := dockerTag(name, "", generation)
	tag.From = &corev1.ObjectReference{Kind: "ImageStreamTag", Namespace: namespace, Name: from}
	return tag
}

func tagEvent(created metav1.Time, ref, image string, generation int64) imagev1.TagEvent {
	return imagev1.TagEvent{Created: created, DockerImageReference: ref, Image: image, Generation: generation}
}

// normalizeNow replaces the creation time of events created between before and after (by the
// strategy, "now") with the zero time, so expectations can say "created now" as metav1.Time{}.
// It fails the test if an event has a zero time of its own.
func normalizeNow(t *testing.T, stream *imagev1.ImageStream, before, after time.Time) {
	t.Helper()
	for i := range stream.Status.Tags {
		for j := range stream.Status.Tags[i].Items {
			created := &stream.Status.Tags[i].Items[j].Created
			switch {
			case created.IsZero():
				t.Errorf("status tag %q item %d has no creation time", stream.Status.Tags[i].Tag, j)
			case !created.Time.Before(before) && !created.Time.After(after):
				*created = metav1.Time{}
			}
		}
	}
}

func internalRepo(name string) string { return internalHost + "/ns/" + name }
func publicRepo(name string) string   { return publicHost + "/ns/" + name }

func TestStrategyBasics(t *testing.T) {
	s := newTestStrategy(bothHosts)
	ctx := context.Background()
	if !s.NamespaceScoped() {
		t.Error("image streams must be namespaced")
	}
	if s.AllowCreateOnUpdate(ctx) {
		t.Error("PUT must not create streams")
	}
	// An update without resourceVersion is a 422.
	if s.AllowUnconditionalUpdate(ctx) {
		t.Error("updates must carry a resourceVersion")
	}
	if w := s.WarningsOnCreate(ctx, &imagev1.ImageStream{}); w != nil {
		t.Errorf("WarningsOnCreate = %v", w)
	}
	if w := s.WarningsOnUpdate(ctx, &imagev1.ImageStream{}, &imagev1.ImageStream{}); w != nil {
		t.Errorf("WarningsOnUpdate = %v", w)
	}
}

func TestRegistryHostnames(t *testing.T) {
	tests := []struct {
		name         string
		hostnames    RegistryHostnames
		wantInternal string
		wantPublic   string
	}{
		{"both", bothHosts, internalHost + "/ns/is", publicHost + "/ns/is"},
		{"internal only", RegistryHostnames{Internal: internalHost}, internalHost + "/ns/is", ""},
		{"public only", RegistryHostnames{Public: publicHost}, "", publicHost + "/ns/is"},
		{"none", RegistryHostnames{}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.hostnames.InternalRepository("ns", "is"); got != tc.wantInternal {
				t.Errorf("InternalRepository = %q, want %q", got, tc.wantInternal)
			}
			if got := tc.hostnames.PublicRepository("ns", "is"); got != tc.wantPublic {
				t.Errorf("PublicRepository = %q, want %q", got, tc.wantPublic)
			}
		})
	}
}

// TestPrepareForCreate covers create preparation (status discarded and replaced by the computed
// repositories, generation 1 everywhere) and the spec tags resolved without an importer.
func TestPrepareForCreate(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "is", Namespace: "ns"}
	tests := []struct {
		name      string
		hostnames RegistryHostnames
		in        imagev1.ImageStream
		want      imagev1.ImageStream
	}{
		{
			name:      "client status is discarded; repositories come from both hostnames (D11)",
			hostnames: bothHosts,
			in: imagev1.ImageStream{
				ObjectMeta: meta,
				Status: imagev1.ImageStreamStatus{
					DockerImageRepository:       "evil.example.com/ns/is",
					PublicDockerImageRepository: "evil.example.com/ns/is",
					Tags:                        []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{tagEvent(past, "quay.io/a/b@"+digestA, digestA, 1)}}},
				},
			},
			want: imagev1.ImageStream{
				ObjectMeta: withGeneration(meta, 1),
				Status:     imagev1.ImageStreamStatus{DockerImageRepository: internalRepo("is"), PublicDockerImageRepository: publicRepo("is")},
			},
		},
		{
			name: "without hostnames the status repository is spec.dockerImageRepository",
			in: imagev1.ImageStream{
				ObjectMeta: meta,
				Spec:       imagev1.ImageStreamSpec{DockerImageRepository: "quay.io/a/b"},
				Status:     imagev1.ImageStreamStatus{DockerImageRepository: "evil.example.com/ns/is"},
			},
			want: imagev1.ImageStream{
				ObjectMeta: withGeneration(meta, 1),
				Spec:       imagev1.ImageStreamSpec{DockerImageRepository: "quay.io/a/b"},
				Status:     imagev1.ImageStreamStatus{DockerImageRepository: "quay.io/a/b"},
			},
		},
		{
			name:      "generation 1 on the stream and every spec tag, whatever the client sent",
			hostnames: bothHosts,
			in: imagev1.ImageStream{
				ObjectMeta: withGeneration(meta, 7),
				Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
					dockerTag("a", "quay.io/a/b:1", ptr(5)),
					dockerTag("b", "quay.io/a/b:2", nil),
					dockerTag("c", "quay.io/a/b:3", ptr(0)),
				}},
			},
			want: imagev1.ImageStream{
				ObjectMeta: withGeneration(meta, 1),
				Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
					dockerTag("a", "quay.io/a/b:1", ptr(1)),
					dockerTag("b", "quay.io/a/b:2", ptr(1)),
					dockerTag("c", "quay.io/a/b:3", ptr(1)),
				}},
				// Plain DockerImage tags wait for an importer: no status.
				Status: imagev1.ImageStreamStatus{DockerImageRepository: internalRepo("is"), PublicDockerImageRepository: publicRepo("is")},
			},
		},
		{
			name:      "a DockerImage reference tag is resolved into status",
			hostnames: bothHosts,
			in: imagev1.ImageStream{
				ObjectMeta: meta,
				Spec:       imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{referenceTag("v1", "quay.io/a/b:1", nil)}},
			},
			want: imagev1.ImageStream{
				ObjectMeta: withGeneration(meta, 1),
				Spec:       imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{referenceTag("v1", "quay.io/a/b:1", ptr(1))}},
				Status: imagev1.ImageStreamStatus{
					DockerImageRepository:       internalRepo("is"),
					PublicDockerImageRepository: publicRepo("is"),
					Tags:                        []imagev1.NamedTagEventList{{Tag: "v1", Items: []imagev1.TagEvent{tagEvent(metav1.Time{}, "quay.io/a/b:1", "", 1)}}},
				},
			},
		},
		{
			name:      "an unparseable reference tag is left to validation, not copied into status",
			hostnames: bothHosts,
			in: imagev1.ImageStream{
				ObjectMeta: meta,
				Spec:       imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{referenceTag("v1", "Not A::Reference", nil)}},
			},
			want: imagev1.ImageStream{
				ObjectMeta: withGeneration(meta, 1),
				Spec:       imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{referenceTag("v1", "Not A::Reference", ptr(1))}},
				Status:     imagev1.ImageStreamStatus{DockerImageRepository: internalRepo("is"), PublicDockerImageRepository: publicRepo("is")},
			},
		},
		{
			name:      "a same-stream ImageStreamTag copies the event of the tag it follows",
			hostnames: bothHosts,
			in: imagev1.ImageStream{
				ObjectMeta: meta,
				Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
					referenceTag("latest", "quay.io/a/b:1", nil),
					trackingTag("stable", "", "latest", nil),
				}},
			},
			want: imagev1.ImageStream{
				ObjectMeta: withGeneration(meta, 1),
				Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
					referenceTag("latest", "quay.io/a/b:1", ptr(1)),
					trackingTag("stable", "", "latest", ptr(1)),
				}},
				Status: imagev1.ImageStreamStatus{
					DockerImageRepository:       internalRepo("is"),
					PublicDockerImageRepository: publicRepo("is"),
					Tags: []imagev1.NamedTagEventList{
						{Tag: "latest", Items: []imagev1.TagEvent{tagEvent(metav1.Time{}, "quay.io/a/b:1", "", 1)}},
						{Tag: "stable", Items: []imagev1.TagEvent{tagEvent(metav1.Time{}, "quay.io/a/b:1", "", 1)}},
					},
				},
			},
		},
		{
			name:      "a tracking tag listed before its source, in <stream>:<tag> form, still gets the event",
			hostnames: bothHosts,
			in: imagev1.ImageStream{
				ObjectMeta: meta,
				Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
					trackingTag("alias", "ns", "is:main", nil),
					referenceTag("main", "quay.io/a/b:1", nil),
				}},
			},
			want: imagev1.ImageStream{
				ObjectMeta: withGeneration(meta, 1),
				Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
					trackingTag("alias", "ns", "is:main", ptr(1)),
					referenceTag("main", "quay.io/a/b:1", ptr(1)),
				}},
				Status: imagev1.ImageStreamStatus{
					DockerImageRepository:       internalRepo("is"),
					PublicDockerImageRepository: publicRepo("is"),
					Tags: []imagev1.NamedTagEventList{
						{Tag: "alias", Items: []imagev1.TagEvent{tagEvent(metav1.Time{}, "quay.io/a/b:1", "", 1)}},
						{Tag: "main", Items: []imagev1.TagEvent{tagEvent(metav1.Time{}, "quay.io/a/b:1", "", 1)}},
					},
				},
			},
		},
		{
			name:      "ImageStreamTags of another stream or namespace are not resolved here",
			hostnames: bothHosts,
			in: imagev1.ImageStream{
				ObjectMeta: meta,
				Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
					referenceTag("latest", "quay.io/a/b:1", nil),
					trackingTag("other-stream", "", "other:latest", nil),
					trackingTag("other-namespace", "elsewhere", "latest", nil),
				}},
			},
			want: imagev1.ImageStream{
				ObjectMeta: withGeneration(meta, 1),
				Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
					referenceTag("latest", "quay.io/a/b:1", ptr(1)),
					trackingTag("other-stream", "", "other:latest", ptr(1)),
					trackingTag("other-namespace", "elsewhere", "latest", ptr(1)),
				}},
				Status: imagev1.ImageStreamStatus{
					DockerImageRepository:       internalRepo("is"),
					PublicDockerImageRepository: publicRepo("is"),
					Tags:                        []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{tagEvent(metav1.Time{}, "quay.io/a/b:1", "", 1)}}},
				},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.DeepCopy()
			before := time.Now()
			newTestStrategy(tc.hostnames).PrepareForCreate(context.Background(), got)
			normalizeNow(t, got, before, time.Now())
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("PrepareForCreate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func withGeneration(meta metav1.ObjectMeta, generation int64) metav1.ObjectMeta {
	meta.Generation = generation
	return meta
}

// storedStream is the stream the update tests start from: generation 3, tag "a" last changed
// at generation 2 and imported, tag "b" changed at 3, and a stale stored repository that the
// strategy must recompute.
func storedStream() *imagev1.ImageStream {
	return &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "is", Namespace: "ns", Generation: 3, ResourceVersion: "10", Labels: map[string]string{"app": "x"}},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			dockerTag("a", "quay.io/x/a:1", ptr(2)),
			dockerTag("b", "quay.io/x/b:1", ptr(3)),
		}},
		Status: imagev1.ImageStreamStatus{
			DockerImageRepository: "old-registry:5000/ns/is",
			Tags: []imagev1.NamedTagEventList{
				{Tag: "a", Items: []imagev1.TagEvent{tagEvent(past, "quay.io/x/a@"+digestA, digestA, 2)}},
			},
		},
	}
}

// TestPrepareForUpdate covers update preparation: status and generation are the server's,
// spec-tag generations are protected except for an explicit 0, and new or changed tags are
// stamped with the stream generation and resolved.
func TestPrepareForUpdate(t *testing.T) {
	tests := []struct {
		name string
		// old modifies the stored stream, update the client's copy of it, want the expected
		// result (which starts as the stored stream with recomputed repositories).
		old    func(*imagev1.ImageStream)
		update func(*imagev1.ImageStream)
		want   func(*imagev1.ImageStream)
	}{
		{
			name:   "an unchanged stream keeps its generation",
			update: func(*imagev1.ImageStream) {},
			want:   func(*imagev1.ImageStream) {},
		},
		{
			name: "client status is replaced by the stored status",
			update: func(is *imagev1.ImageStream) {
				is.Status = imagev1.ImageStreamStatus{
					DockerImageRepository: "evil.example.com/ns/is",
					Tags:                  []imagev1.NamedTagEventList{{Tag: "forged", Items: []imagev1.TagEvent{tagEvent(past, "evil.example.com/x@"+digestC, digestC, 9)}}},
				}
			},
			want: func(*imagev1.ImageStream) {},
		},
		{
			name:   "a labels-only change does not bump the generation",
			update: func(is *imagev1.ImageStream) { is.Labels = map[string]string{"app": "y"} },
			want:   func(is *imagev1.ImageStream) { is.Labels = map[string]string{"app": "y"} },
		},
		{
			name:   "a client-set generation is ignored",
			update: func(is *imagev1.ImageStream) { is.Generation = 42 },
			want:   func(*imagev1.ImageStream) {},
		},
		{
			name:   "a spec change bumps the generation; untouched tags keep theirs",
			update: func(is *imagev1.ImageStream) { is.Spec.LookupPolicy.Local = true },
			want: func(is *imagev1.ImageStream) {
				is.Spec.LookupPolicy.Local = true
				is.Generation = 4
			},
		},
		{
			name:   "a client cannot change a spec tag's generation",
			update: func(is *imagev1.ImageStream) { is.Spec.Tags[0].Generation = ptr(99) },
			want:   func(*imagev1.ImageStream) {},
		},
		{
			name:   "a nil spec tag generation is restored",
			update: func(is *imagev1.ImageStream) { is.Spec.Tags[1].Generation = nil },
			want:   func(*imagev1.ImageStream) {},
		},
		{
			name:   "an explicit 0 asks for a re-import: the stream and the tag move to the next generation",
			update: func(is *imagev1.ImageStream) { is.Spec.Tags[0].Generation = ptr(0) },
			want: func(is *imagev1.ImageStream) {
				is.Generation = 4
				is.Spec.Tags[0].Generation = ptr(4)
			},
		},
		{
			name: "a new tag gets the new stream generation, whatever the client set",
			update: func(is *imagev1.ImageStream) {
				is.Spec.Tags = append(is.Spec.Tags, dockerTag("c", "quay.io/x/c:1", ptr(17)))
			},
			want: func(is *imagev1.ImageStream) {
				is.Generation = 4
				is.Spec.Tags = append(is.Spec.Tags, dockerTag("c", "quay.io/x/c:1", ptr(4)))
			},
		},
		{
			name: "a tag whose reference changed gets the new generation and is resolved",
			update: func(is *imagev1.ImageStream) {
				is.Spec.Tags[1] = referenceTag("b", "quay.io/x/b:2", ptr(3))
			},
			want: func(is *imagev1.ImageStream) {
				is.Generation = 4
				is.Spec.Tags[1] = referenceTag("b", "quay.io/x/b:2", ptr(4))
				is.Status.Tags = append(is.Status.Tags, imagev1.NamedTagEventList{Tag: "b", Items: []imagev1.TagEvent{tagEvent(metav1.Time{}, "quay.io/x/b:2", "", 4)}})
			},
		},
		{
			name: "a changed import mode counts as a changed reference",
			update: func(is *imagev1.ImageStream) {
				is.Spec.Tags[0].ImportPolicy.ImportMode = imagev1.ImportModePreserveOriginal
			},
			want: func(is *imagev1.ImageStream) {
				is.Generation = 4
				is.Spec.Tags[0].ImportPolicy.ImportMode = imagev1.ImportModePreserveOriginal
				is.Spec.Tags[0].Generation = ptr(4)
			},
		},
		{
			name: "a new tracking tag copies the followed tag's head with the new generation",
			update: func(is *imagev1.ImageStream) {
				is.Spec.Tags = append(is.Spec.Tags, trackingTag("c", "", "a", nil))
			},
			want: func(is *imagev1.ImageStream) {
				is.Generation = 4
				is.Spec.Tags = append(is.Spec.Tags, trackingTag("c", "", "a", ptr(4)))
				is.Status.Tags = append(is.Status.Tags, imagev1.NamedTagEventList{Tag: "c", Items: []imagev1.TagEvent{tagEvent(past, "quay.io/x/a@"+digestA, digestA, 4)}})
			},
		},
		{
			name:   "a legacy stream stored with generation 0 is bumped even without a spec change",
			old:    func(is *imagev1.ImageStream) { is.Generation = 0 },
			update: func(*imagev1.ImageStream) {},
			want:   func(is *imagev1.ImageStream) { is.Generation = 1 },
		},
		{
			name: "stored status tags without items or conditions are dropped",
			old: func(is *imagev1.ImageStream) {
				is.Status.Tags = append(is.Status.Tags,
					imagev1.NamedTagEventList{Tag: "cond", Conditions: []imagev1.TagEventCondition{{Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Generation: 2}}},
					imagev1.NamedTagEventList{Tag: "empty"},
				)
			},
			update: func(*imagev1.ImageStream) {},
			want: func(is *imagev1.ImageStream) {
				is.Status.Tags = is.Status.Tags[:2] // a, cond
			},
		},
		{
			name:   "a stream whose only status tag is empty ends with no status tags",
			old:    func(is *imagev1.ImageStream) { is.Status.Tags = []imagev1.NamedTagEventList{{Tag: "empty"}} },
			update: func(*imagev1.ImageStream) {},
			want:   func(is *imagev1.ImageStream) { is.Status.Tags = nil },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := storedStream()
			if tc.old != nil {
				tc.old(old)
			}
			oldCopy := old.DeepCopy()
			obj := old.DeepCopy()
			tc.update(obj)

			want := old.DeepCopy()
			want.Status.DockerImageRepository = internalRepo("is")
			want.Status.PublicDockerImageRepository = publicRepo("is")
			tc.want(want)

			before := time.Now()
			newTestStrategy(bothHosts).PrepareForUpdate(context.Background(), obj, old)
			normalizeNow(t, obj, before, time.Now())
			if diff := cmp.Diff(want, obj); diff != "" {
				t.Errorf("PrepareForUpdate mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(oldCopy, old); diff != "" {
				t.Errorf("PrepareForUpdate modified the stored object (-before +after):\n%s", diff)
			}
		})
	}
}

// statusStoredStream is the stream the status tests start from: generation 5; spec tag
// "latest" at generation 4; status heads for "latest" and "nospec" (a pushed tag without spec).
func statusStoredStream() *imagev1.ImageStream {
	return &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{
			Name: "is", Namespace: "ns", Generation: 5, ResourceVersion: "10",
			Labels:          map[string]string{"app": "x"},
			Annotations:     map[string]string{"note": "kept"},
			Finalizers:      []string{"example.com/keep"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "u1"}},
		},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{dockerTag("latest", "quay.io/x/a:1", ptr(4))}},
		Status: imagev1.ImageStreamStatus{
			DockerImageRepository: "old-registry:5000/ns/is",
			Tags: []imagev1.NamedTagEventList{
				{Tag: "latest", Items: []imagev1.TagEvent{tagEvent(past, "quay.io/x/a@"+digestA, digestA, 4)}},
				{Tag: "nospec", Items: []imagev1.TagEvent{tagEvent(past, "quay.io/x/n@"+digestA, digestA, 1)}},
			},
		},
	}
}

// TestStatusPrepareForUpdate: only status may change through
// imagestreams/status, and a new head without a generation gets one.
func TestStatusPrepareForUpdate(t *testing.T) {
	tests := []struct {
		name   string
		old    func(*imagev1.ImageStream)
		update func(*imagev1.ImageStream)
		want   func(*imagev1.ImageStream)
	}{
		{
			name: "spec, labels, annotations, finalizers, owners and generation are kept from the stored stream",
			update: func(is *imagev1.ImageStream) {
				is.Spec = imagev1.ImageStreamSpec{DockerImageRepository: "quay.io/evil/x", Tags: []imagev1.TagReference{dockerTag("evil", "quay.io/evil/x:1", ptr(1))}}
				is.Labels = map[string]string{"app": "changed"}
				is.Annotations = nil
				is.Finalizers = nil
				is.OwnerReferences = nil
				is.Generation = 9
				is.Status.DockerImageRepository = "evil.example.com/ns/is"
			},
			want: func(*imagev1.ImageStream) {},
		},
		{
			name: "a head with a generation keeps it",
			update: func(is *imagev1.ImageStream) {
				is.Status.Tags[0].Items = prepend(is.Status.Tags[0].Items, tagEvent(past, "quay.io/x/a@"+digestB, digestB, 2))
			},
			want: func(is *imagev1.ImageStream) {
				is.Status.Tags[0].Items = prepend(is.Status.Tags[0].Items, tagEvent(past, "quay.io/x/a@"+digestB, digestB, 2))
			},
		},
		{
			name: "a new tag's head without generation gets the stream generation",
			update: func(is *imagev1.ImageStream) {
				is.Status.Tags = append(is.Status.Tags, imagev1.NamedTagEventList{Tag: "pushed", Items: []imagev1.TagEvent{tagEvent(past, "quay.io/x/p@"+digestC, digestC, 0)}})
			},
			want: func(is *imagev1.ImageStream) {
				is.Status.Tags = append(is.Status.Tags, imagev1.NamedTagEventList{Tag: "pushed", Items: []imagev1.TagEvent{tagEvent(past, "quay.io/x/p@"+digestC, digestC, 5)}})
			},
		},
		{
			name:   "an unchanged head whose generation was cleared gets the stream generation",
			update: func(is *imagev1.ImageStream) { is.Status.Tags[0].Items[0].Generation = 0 },
			want:   func(is *imagev1.ImageStream) { is.Status.Tags[0].Items[0].Generation = 5 },
		},
		{
			name: "a changed head takes its spec tag's generation",
			update: func(is *imagev1.ImageStream) {
				is.Status.Tags[0].Items = prepend(is.Status.Tags[0].Items, tagEvent(past, "quay.io/x/a@"+digestB, digestB, 0))
			},
			want: func(is *imagev1.ImageStream) {
				is.Status.Tags[0].Items = prepend(is.Status.Tags[0].Items, tagEvent(past, "quay.io/x/a@"+digestB, digestB, 4))
			},
		},
		{
			name: "a changed head without a spec tag takes the stream generation",
			update: func(is *imagev1.ImageStream) {
				is.Status.Tags[1].Items = prepend(is.Status.Tags[1].Items, tagEvent(past, "quay.io/x/n@"+digestB, digestB, 0))
			},
			want: func(is *imagev1.ImageStream) {
				is.Status.Tags[1].Items = prepend(is.Status.Tags[1].Items, tagEvent(past, "quay.io/x/n@"+digestB, digestB, 5))
			},
		},
		{
			name:   "a stored head newer than the stream does not count as unchanged",
			old:    func(is *imagev1.ImageStream) { is.Status.Tags[0].Items[0].Generation = 7 },
			update: func(is *imagev1.ImageStream) { is.Status.Tags[0].Items[0].Generation = 0 },
			want:   func(is *imagev1.ImageStream) { is.Status.Tags[0].Items[0].Generation = 4 },
		},
		{
			name:   "status tags may be removed",
			update: func(is *imagev1.ImageStream) { is.Status.Tags = is.Status.Tags[:1] },
			want:   func(is *imagev1.ImageStream) { is.Status.Tags = is.Status.Tags[:1] },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := statusStoredStream()
			if tc.old != nil {
				tc.old(old)
			}
			oldCopy := old.DeepCopy()
			obj := old.DeepCopy()
			tc.update(obj)

			want := old.DeepCopy()
			want.Status.DockerImageRepository = internalRepo("is")
			want.Status.PublicDockerImageRepository = publicRepo("is")
			tc.want(want)

			NewStatusStrategy(newTestStrategy(bothHosts)).PrepareForUpdate(context.Background(), obj, old)
			if diff := cmp.Diff(want, obj); diff != "" {
				t.Errorf("status PrepareForUpdate mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(oldCopy, old); diff != "" {
				t.Errorf("status PrepareForUpdate modified the stored object (-before +after):\n%s", diff)
			}
		})
	}
}

func prepend(items []imagev1.TagEvent, event imagev1.TagEvent) []imagev1.TagEvent {
	return append([]imagev1.TagEvent{event}, items...)
}

// TestCanonicalize: spec and status tags are maps in meaning and sorted on output.
func TestCanonicalize(t *testing.T) {
	stream := &imagev1.ImageStream{
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			dockerTag("c", "quay.io/x/c:1", ptr(1)), dockerTag("a", "quay.io/x/a:1", ptr(1)), dockerTag("b", "quay.io/x/b:1", ptr(1)),
		}},
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{{Tag: "z"}, {Tag: "latest"}, {Tag: "1.0"}}},
	}
	newTestStrategy(bothHosts).Canonicalize(stream)
	var spec, status []string
	for _, tag := range stream.Spec.Tags {
		spec = append(spec, tag.Name)
	}
	for _, tag := range stream.Status.Tags {
		status = append(status, tag.Tag)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, spec); diff != "" {
		t.Errorf("spec tag order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1.0", "latest", "z"}, status); diff != "" {
		t.Errorf("status tag order (-want +got):\n%s", diff)
	}
}

// TestGetAttrs checks that the attribute function offers exactly the field-selector keys the
// scheme accepts, with the stored values.
func TestGetAttrs(t *testing.T) {
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "is", Namespace: "ns", Labels: map[string]string{"app": "x"}},
		Spec:       imagev1.ImageStreamSpec{DockerImageRepository: "quay.io/a/b"},
		Status:     imagev1.ImageStreamStatus{DockerImageRepository: internalRepo("is"), PublicDockerImageRepository: publicRepo("is")},
	}
	gotLabels, gotFields, err := GetAttrs(stream)
	if err != nil {
		t.Fatalf("GetAttrs: %v", err)
	}
	if diff := cmp.Diff(labels.Set{"app": "x"}, gotLabels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	wantFields := fields.Set{
		"metadata.name":                "is",
		"metadata.namespace":           "ns",
		"spec.dockerImageRepository":   "quay.io/a/b",
		"status.dockerImageRepository": internalRepo("is"),
	}
	if diff := cmp.Diff(wantFields, gotFields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	var keys []string
	for k := range SelectableFields(stream) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if diff := cmp.Diff(slices.Sorted(slices.Values(imagev1ext.ImageStreamSelectableFields)), keys); diff != "" {
		t.Errorf("selectable fields differ from v1.ImageStreamSelectableFields (-want +got):\n%s", diff)
	}

	if _, _, err := GetAttrs(&imagev1.Image{}); err == nil {
		t.Error("GetAttrs of an Image: want an error")
	}
}

func TestMatchImageStream(t *testing.T) {
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "is", Namespace: "ns", Labels: map[string]string{"app": "x"}},
		Status:     imagev1.ImageStreamStatus{DockerImageRepository: internalRepo("is")},
	}
	tests := []struct {
		name  string
		label string
		field string
		want  bool
	}{
		{"everything", "", "", true},
		{"label matches", "app=x", "", true},
		{"label does not match", "app=y", "", false},
		{"status repository matches", "", "status.dockerImageRepository=" + internalRepo("is"), true},
		{"status repository does not match", "", "status.dockerImageRepository=quay.io/a/b", false},
		{"name and namespace", "", "metadata.name=is,metadata.namespace=ns", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := labels.Parse(tc.label)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := fields.ParseSelector(tc.field)
			if err != nil {
				t.Fatal(err)
			}
			predicate := MatchImageStream(ls, fs)
			got, err := predicate.Matches(stream)
			if err != nil {
				t.Fatalf("Matches: %v", err)
			}
			if got != tc.want {
				t.Errorf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestDecorator: the read decorator recomputes both repositories from the configured hostnames
// on single objects and on every list item, so a hostname change shows at once.
func TestDecorator(t *testing.T) {
	stale := func(name string) imagev1.ImageStream {
		return imagev1.ImageStream{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
			Status:     imagev1.ImageStreamStatus{DockerImageRepository: "old:5000/ns/" + name, PublicDockerImageRepository: "old.example.com/ns/" + name},
		}
	}
	decorated := func(name string) imagev1.ImageStream {
		is := stale(name)
		is.Status.DockerImageRepository = internalRepo(name)
		is.Status.PublicDockerImageRepository = publicRepo(name)
		return is
	}
	tests := []struct {
		name string
		in   runtime.Object
		want runtime.Object
	}{
		{"single stream", ptrTo(stale("a")), ptrTo(decorated("a"))},
		{
			"list",
			&imagev1.ImageStreamList{ListMeta: metav1.ListMeta{ResourceVersion: "7"}, Items: []imagev1.ImageStream{stale("a"), stale("b")}},
			&imagev1.ImageStreamList{ListMeta: metav1.ListMeta{ResourceVersion: "7"}, Items: []imagev1.ImageStream{decorated("a"), decorated("b")}},
		},
		{"other objects are left alone", &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "x"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			decorator(bothHosts)(tc.in)
			if diff := cmp.Diff(tc.want, tc.in); diff != "" {
				t.Errorf("decorated object mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// fieldErr is what validation tests compare: the error's type and path, not its message.
type fieldErr struct {
	Type  field.ErrorType
	Field string
}

func fieldErrs(list field.ErrorList) []fieldErr {
	var out []fieldErr
	for _, e := range list {
		out = append(out, fieldErr{e.Type, e.Field})
	}
	return out
}

// TestStrategyValidate runs validation through the strategies, as the store does.
func TestStrategyValidate(t *testing.T) {
	valid := func() *imagev1.ImageStream {
		return &imagev1.ImageStream{
			ObjectMeta: metav1.ObjectMeta{Name: "is", Namespace: "ns", ResourceVersion: "1"},
			Spec:       imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{dockerTag("latest", "quay.io/a/b:1", ptr(1))}},
		}
	}
	s := newTestStrategy(bothHosts)
	ctx := context.Background()
	tests := []struct {
		name     string
		validate func(obj *imagev1.ImageStream) field.ErrorList
		mutate   func(*imagev1.ImageStream)
		want     []fieldErr
	}{
		{
			name:     "create: valid stream",
			validate: func(obj *imagev1.ImageStream) field.ErrorList { return s.Validate(ctx, obj) },
			mutate:   func(*imagev1.ImageStream) {},
		},
		{
			name:     "create: a 63-character name is the longest allowed (D3)",
			validate: func(obj *imagev1.ImageStream) field.ErrorList { return s.Validate(ctx, obj) },
			mutate:   func(is *imagev1.ImageStream) { is.Name = strings.Repeat("a", 63) },
		},
		{
			name:     "create: a 64-character name is too long (D3)",
			validate: func(obj *imagev1.ImageStream) field.ErrorList { return s.Validate(ctx, obj) },
			mutate:   func(is *imagev1.ImageStream) { is.Name = strings.Repeat("a", 64) },
			want:     []fieldErr{{field.ErrorTypeTooLong, "metadata.name"}},
		},
		{
			name:     "create: a generateName may end in a separator; the generated suffix follows",
			validate: func(obj *imagev1.ImageStream) field.ErrorList { return s.Validate(ctx, obj) },
			mutate:   func(is *imagev1.ImageStream) { is.GenerateName, is.Name = "app-", "app-x7k2p" },
		},
		{
			name:     "create: a generateName must otherwise follow the stream-name pattern (D3)",
			validate: func(obj *imagev1.ImageStream) field.ErrorList { return s.Validate(ctx, obj) },
			mutate:   func(is *imagev1.ImageStream) { is.GenerateName, is.Name = "App-", "app-x7k2p" },
			want:     []fieldErr{{field.ErrorTypeInvalid, "metadata.generateName"}},
		},
		{
			name:     "create: a generateName ending in two separators can never yield a valid name",
			validate: func(obj *imagev1.ImageStream) field.ErrorList { return s.Validate(ctx, obj) },
			mutate:   func(is *imagev1.ImageStream) { is.GenerateName, is.Name = "app--", "app--x7k2p" },
			want:     []fieldErr{{field.ErrorTypeInvalid, "metadata.generateName"}, {field.ErrorTypeInvalid, "metadata.name"}},
		},
		{
			name:     "create: a tag name a registry would reject (D4)",
			validate: func(obj *imagev1.ImageStream) field.ErrorList { return s.Validate(ctx, obj) },
			mutate: func(is *imagev1.ImageStream) {
				is.Spec.Tags = append(is.Spec.Tags, dockerTag("-bad", "quay.io/a/b:2", ptr(1)))
			},
			want: []fieldErr{{field.ErrorTypeInvalid, "spec.tags[1].name"}},
		},
		{
			name: "update: a bad tag name is rejected too (D4)",
			validate: func(obj *imagev1.ImageStream) field.ErrorList {
				return s.ValidateUpdate(ctx, obj, valid())
			},
			mutate: func(is *imagev1.ImageStream) { is.Spec.Tags[0].Name = "a/b" },
			want:   []fieldErr{{field.ErrorTypeInvalid, "spec.tags[0].name"}},
		},
		{
			name: "status update: a new unparseable reference is rejected",
			validate: func(obj *imagev1.ImageStream) field.ErrorList {
				return NewStatusStrategy(s).ValidateUpdate(ctx, obj, valid())
			},
			mutate: func(is *imagev1.ImageStream) {
				is.Status.Tags = []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{tagEvent(past, "Not::Valid", "", 1)}}}
			},
			want: []fieldErr{{field.ErrorTypeInvalid, "status.tags[0].items[0].dockerImageReference"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := valid()
			tc.mutate(obj)
			if diff := cmp.Diff(tc.want, fieldErrs(tc.validate(obj))); diff != "" {
				t.Errorf("field errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGetResetFields: the main endpoint resets status, the status endpoint spec and metadata
// so server-side apply through either cannot own the other's fields.
func TestGetResetFields(t *testing.T) {
	mainStrategy := newTestStrategy(bothHosts)
	tests := []struct {
		name string
		got  map[fieldpath.APIVersion]*fieldpath.Set
		want *fieldpath.Set
	}{
		{"main", mainStrategy.GetResetFields(), fieldpath.NewSet(fieldpath.MakePathOrDie("status"))},
		{"status", NewStatusStrategy(mainStrategy).GetResetFields(), fieldpath.NewSet(fieldpath.MakePathOrDie("spec"), fieldpath.MakePathOrDie("metadata"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.got) != 1 {
				t.Errorf("reset fields for %d versions, want only image.openshift.io/v1", len(tc.got))
			}
			got, ok := tc.got["image.openshift.io/v1"]
			if !ok {
				t.Fatalf("no reset fields for image.openshift.io/v1: %v", tc.got)
			}
			if !got.Equals(tc.want) {
				t.Errorf("reset fields = %v, want %v", got, tc.want)
			}
		})
	}
}
