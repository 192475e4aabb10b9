package imageimport

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const someDigest = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"

func docker(name string, gen *int64) imagev1.TagReference {
	return imagev1.TagReference{Name: name, From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/x/app:" + name}, Generation: gen}
}

func checked(annotations ...string) metav1.ObjectMeta {
	meta := metav1.ObjectMeta{Namespace: "ns", Name: "app", Generation: 4, Annotations: map[string]string{
		imagev1.DockerImageRepositoryCheckAnnotation: "2024-01-01T00:00:00Z",
	}}
	for i := 0; i+1 < len(annotations); i += 2 {
		meta.Annotations[annotations[i]] = annotations[i+1]
	}
	return meta
}

// describe prints an import spec as "tags [...] repository <from> insecure=<bool>".
func describe(spec *imagev1.ImageStreamImportSpec) string {
	if spec == nil {
		return "none"
	}
	var tags []string
	for _, img := range spec.Images {
		if img.From.Kind != "DockerImage" || img.To == nil || !spec.Import {
			return fmt.Sprintf("malformed %+v", spec)
		}
		tags = append(tags, img.To.Name+"<-"+img.From.Name)
	}
	out := fmt.Sprintf("tags %v", tags)
	if r := spec.Repository; r != nil {
		out += fmt.Sprintf(" repository %s insecure=%t", r.From.Name, r.ImportPolicy.Insecure)
	}
	return out
}

func TestImportSpec(t *testing.T) {
	ref := docker("ref", ptr.To[int64](2))
	ref.Reference = true
	follows := imagev1.TagReference{Name: "follows", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "new"}, Generation: ptr.To[int64](5)}
	observed := imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
		{Tag: "done", Items: []imagev1.TagEvent{{Generation: 2}}},
		{Tag: "moved", Items: []imagev1.TagEvent{{Generation: 2}}},
		{Tag: "failed", Conditions: []imagev1.TagEventCondition{{Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Generation: 3}}},
	}}
	tests := []struct {
		name   string
		stream imagev1.ImageStream
		want   string
	}{
		{
			name: "changed tags of a stream imported into before",
			stream: imagev1.ImageStream{ObjectMeta: checked(), Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
				docker("new", ptr.To[int64](3)),    // no status: needs an import
				docker("done", ptr.To[int64](2)),   // head at generation 2: done
				docker("moved", ptr.To[int64](4)),  // head at 2: spec moved since
				docker("failed", ptr.To[int64](3)), // failed at generation 3: done until it moves
				docker("nogeneration", nil),        // never given a generation: not by itself
				ref, follows,
			}}, Status: observed},
			want: "tags [new<-quay.io/x/app:new moved<-quay.io/x/app:moved nogeneration<-quay.io/x/app:nogeneration]",
		},
		{
			name: "nothing changed",
			stream: imagev1.ImageStream{ObjectMeta: checked(), Spec: imagev1.ImageStreamSpec{
				DockerImageRepository: "quay.io/x/app",
				Tags:                  []imagev1.TagReference{docker("done", ptr.To[int64](2)), docker("nogeneration", nil), ref},
			}, Status: observed},
			want: "none",
		},
		{
			name: "a repository never imported: the whole of it, with every importable tag",
			stream: imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"}, Spec: imagev1.ImageStreamSpec{
				DockerImageRepository: "quay.io/x/app",
				Tags:                  []imagev1.TagReference{docker("done", ptr.To[int64](2)), docker("moved", ptr.To[int64](4)), ref, follows},
			}, Status: observed},
			want: "tags [done<-quay.io/x/app:done moved<-quay.io/x/app:moved] repository quay.io/x/app insecure=false",
		},
		{
			name: "a repository alone, insecure by the stream's annotation",
			stream: imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app", Annotations: map[string]string{
				imagev1.InsecureRepositoryAnnotation: "true",
			}}, Spec: imagev1.ImageStreamSpec{DockerImageRepository: "127.0.0.1:5000/x/app"}},
			want: "tags [] repository 127.0.0.1:5000/x/app insecure=true",
		},
		{
			name: "a repository imported into before: its changed tags only",
			stream: imagev1.ImageStream{ObjectMeta: checked(imagev1.InsecureRepositoryAnnotation, "true"), Spec: imagev1.ImageStreamSpec{
				DockerImageRepository: "quay.io/x/app",
				Tags:                  []imagev1.TagReference{docker("done", ptr.To[int64](2)), docker("moved", ptr.To[int64](4))},
			}, Status: observed},
			want: "tags [moved<-quay.io/x/app:moved]",
		},
		{
			name: "no annotation, no repository: the tags that need it, those without a generation too",
			stream: imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"}, Spec: imagev1.ImageStreamSpec{
				Tags: []imagev1.TagReference{docker("done", ptr.To[int64](2)), docker("nogeneration", nil), ref},
			}, Status: observed},
			want: "tags [nogeneration<-quay.io/x/app:nogeneration]",
		},
		{
			name: "no annotation, nothing to import",
			stream: imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"}, Spec: imagev1.ImageStreamSpec{
				Tags: []imagev1.TagReference{docker("done", ptr.To[int64](2)), ref, follows},
			}, Status: observed},
			want: "none",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describe(ImportSpec(&tt.stream)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestScheduledTurn(t *testing.T) {
	scheduled := func(tag imagev1.TagReference) imagev1.TagReference {
		tag.ImportPolicy.Scheduled = true
		return tag
	}
	pinned := scheduled(docker("pinned", ptr.To[int64](2)))
	pinned.From.Name = "quay.io/x/app@" + someDigest
	pinnedNew := scheduled(docker("pinnednew", ptr.To[int64](2)))
	pinnedNew.From.Name = "quay.io/x/app@" + someDigest
	ref := scheduled(docker("ref", ptr.To[int64](2)))
	ref.Reference = true
	stream := &imagev1.ImageStream{
		ObjectMeta: checked(),
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			scheduled(docker("sched", ptr.To[int64](2))),
			docker("plain", ptr.To[int64](2)),
			pinned,    // a digest imported once: never again
			pinnedNew, // a digest not imported yet: tried on every turn
			ref,
		}},
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
			{Tag: "sched", Items: []imagev1.TagEvent{{Generation: 2}}},
			{Tag: "plain", Items: []imagev1.TagEvent{{Generation: 2}}},
			{Tag: "pinned", Items: []imagev1.TagEvent{{Generation: 2}}},
			{Tag: "pinnednew", Conditions: []imagev1.TagEventCondition{{Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Generation: 2}}},
		}},
	}
	if !needsScheduling(stream) {
		t.Fatal("the scheduled tags were not seen")
	}
	if got := describe(ImportSpec(stream)); got != "none" {
		t.Errorf("off turn: %s", got)
	}
	turn := withScheduledTurn(stream)
	if got, want := describe(ImportSpec(turn)), "tags [sched<-quay.io/x/app:sched pinnednew<-quay.io/x/app@"+someDigest+"]"; got != want {
		t.Errorf("on its turn: got %s, want %s", got, want)
	}
	if *stream.Spec.Tags[0].Generation != 2 {
		t.Error("the turn changed the stream it was given")
	}
	onlyPinned := stream.DeepCopy()
	onlyPinned.Spec.Tags = []imagev1.TagReference{pinned}
	if needsScheduling(onlyPinned) {
		t.Error("a digest imported once is scheduled")
	}
}

// recordingImporter records what the controller imports and answers from a queue of errors.
type recordingImporter struct {
	mu      sync.Mutex
	imports []string
	errs    []error
	done    chan struct{}
}

func (r *recordingImporter) ImportStream(_ context.Context, stream *imagev1.ImageStream, spec imagev1.ImageStreamImportSpec) (*imagev1.ImageStreamImport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.imports = append(r.imports, stream.Namespace+"/"+stream.Name+" rv "+stream.ResourceVersion+": "+describe(&spec))
	var err error
	if len(r.errs) > 0 {
		err, r.errs = r.errs[0], r.errs[1:]
	}
	if err == nil {
		close(r.done)
	}
	return nil, err
}

// TestControllerImportsRepository: a stream with spec.dockerImageRepository that was never
// imported into is imported whole, at the version the controller read, and again after a
// failure.
func TestControllerImportsRepository(t *testing.T) {
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app", ResourceVersion: "7"},
		Spec:       imagev1.ImageStreamSpec{DockerImageRepository: "quay.io/x/app", Tags: []imagev1.TagReference{docker("1.0", ptr.To[int64](1))}},
	}
	imp := &recordingImporter{errs: []error{fmt.Errorf("the registry is down")}, done: make(chan struct{})}
	read := func(context.Context, string, string) (*imagev1.ImageStream, error) {
		return stream.DeepCopy(), nil
	}
	c := New(imp, read, Options{Workers: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go c.Run(ctx)

	c.SetLeading(true)
	c.Observe(stream)
	select {
	case <-imp.done:
	case <-ctx.Done():
		t.Fatal("the stream was not imported")
	}
	imp.mu.Lock()
	defer imp.mu.Unlock()
	want := "ns/app rv 7: tags [1.0<-quay.io/x/app:1.0] repository quay.io/x/app insecure=false"
	if len(imp.imports) != 2 || imp.imports[0] != want || imp.imports[1] != want {
		t.Errorf("imports:\n%s\nwant twice: %s", strings.Join(imp.imports, "\n"), want)
	}
}
