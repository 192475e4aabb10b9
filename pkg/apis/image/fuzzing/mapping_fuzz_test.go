package fuzzing_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/fuzzing"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreammapping"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

// mappingStrategy is the mapping strategy as the mapping storage builds it.
var mappingStrategy = imagestreammapping.NewStrategy(apiserver.Scheme, fuzzing.Hostnames)

// FuzzImageStreamMappingCreate feeds request bodies to POST imagestreammappings: decoding, what
// the create handler does to metadata, then the real mapping storage (metadata normalisation
// of the embedded image, the mapping strategy, the image create strategy, the tag event and
// the imagestreams/status strategy, the transaction), on an in-memory transaction fake that
// holds one of the seed streams under the mapping's name. Properties:
//   - nothing panics, and a refused body gets a 400, 413 or 422 Status whose causes name
//     fields, and writes nothing;
//   - validation is deterministic, and every error's path starts at a field of the mapping (or
//     at "name" and "dockerImageRepository", which the API reports on purpose, as OpenShift);
//   - a dry run (D6) gives the same answer and writes nothing;
//   - an accepted mapping stores exactly the image POST images would have stored from the
//     mapping's image, named by a digest that is the reference's digest when it has one (D2),
//     and the tag's head points at it; image and stream survive the JSON, YAML and protobuf a
//     client reads and sends back;
//   - mappings are idempotent: repeating an accepted one succeeds, and a third time writes
//     nothing.
func FuzzImageStreamMappingCreate(f *testing.F) {
	streams := fuzzing.StreamSeeds(f)
	for i, seed := range fuzzing.MappingSeeds(f) {
		for format := fuzzing.Format(0); format <= fuzzing.Protobuf; format++ {
			body, err := fuzzing.Encode(format, seed)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), uint8(format), body)
		}
	}
	f.Add(uint8(0), uint8(fuzzing.YAML), fuzzing.RepoFile(f, "examples/mapping.yaml"))
	f.Add(uint8(1), uint8(fuzzing.YAML), fuzzing.RepoFile(f, "pkg/apis/image/imageutil/testdata/mapping.yaml"))
	f.Fuzz(func(t *testing.T, which, format uint8, body []byte) {
		obj, err := fuzzing.Decode(fuzzing.FormatOf(format), body, &imagev1.ImageStreamMapping{})
		if err != nil {
			return // the handler answers 400
		}
		ism := obj.(*imagev1.ImageStreamMapping)
		// What the create handler does before the storage sees the object.
		rest.WipeObjectMetaSystemFields(ism)
		fuzzing.ClearManagedFields(&ism.ObjectMeta)
		ns := fuzzing.RequestNamespace(&ism.ObjectMeta)
		ctx, cancel := context.WithTimeout(genericapirequest.WithNamespace(context.Background(), ns), 30*time.Second)
		defer cancel()

		storage, fake, images, streamResource := fuzzing.NewMappingStorage(t)
		stream := streams[int(which)%len(streams)].(*imagev1.ImageStream).DeepCopy()
		stream.Name, stream.Namespace = ism.Name, ns
		if err := fuzzing.CreateImageStream(stream); err == nil {
			if _, err := fake.Commit(ctx, txn.Op{Resource: streamResource, Namespace: ns, Name: stream.Name, Obj: stream}); err != nil {
				t.Fatalf("storing stream %s/%s: %v", ns, stream.Name, err)
			}
		}
		commits := fake.Commits()

		_, dryErr := storage.Create(ctx, ism.DeepCopy(), nil, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if fake.Commits() != commits {
			t.Fatalf("dry run wrote (answer: %v)", dryErr)
		}
		mapped := ism.DeepCopy()
		_, err = storage.Create(ctx, mapped, nil, &metav1.CreateOptions{})
		errs := fuzzing.CheckDeterministic(t, mapped, func(m *imagev1.ImageStreamMapping) field.ErrorList {
			return mappingStrategy.Validate(ctx, m)
		})
		fuzzing.CheckFieldErrors(t, errs, mapped, "name", "dockerImageRepository")
		if (err == nil) != (dryErr == nil) {
			t.Fatalf("dry run answered %v, the mapping %v", dryErr, err)
		}
		if err != nil {
			fuzzing.CheckStatusError(t, err, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity)
			if fake.Commits() != commits {
				t.Fatalf("refused mapping wrote: %v", err)
			}
			return
		}
		checkRecorded(t, ctx, fake, images, streamResource, mapped)

		for i := 2; i <= 3; i++ {
			commits := fake.Commits()
			before := &imagev1.ImageStream{}
			if _, err := fake.Get(ctx, streamResource, ns, mapped.Name, before); err != nil {
				t.Fatal(err)
			}
			if _, err := storage.Create(ctx, ism.DeepCopy(), nil, &metav1.CreateOptions{}); err != nil {
				t.Fatalf("mapping number %d refused: %v", i, err)
			}
			if i == 3 && fake.Commits() != commits {
				after := &imagev1.ImageStream{}
				_, _ = fake.Get(ctx, streamResource, ns, mapped.Name, after)
				t.Fatalf("the third identical mapping wrote:\nbefore: %+v\nafter:  %+v", before.Status.Tags, after.Status.Tags)
			}
		}
	})
}

// checkRecorded checks what an accepted mapping stored: the image POST images would have
// stored, and the tag's new head.
func checkRecorded(t *testing.T, ctx context.Context, fake txn.Interface, images, streams *txn.Resource, mapped *imagev1.ImageStreamMapping) {
	t.Helper()
	stored := &imagev1.Image{}
	if _, err := fake.Get(ctx, images, "", mapped.Image.Name, stored); err != nil {
		t.Fatalf("the image %q of an accepted mapping is not stored: %v", mapped.Image.Name, err)
	}
	if !reference.IsValidDigest(stored.Name) {
		t.Fatalf("stored an image named %q, not a digest", stored.Name)
	}
	if ref, err := reference.Parse(stored.DockerImageReference); err != nil || (ref.ID != "" && ref.ID != stored.Name) {
		t.Fatalf("stored image %s with reference %q (%v)", stored.Name, stored.DockerImageReference, err)
	}

	// The mapping's image, as the mapping strategy prepared it, POSTed to images.
	want := mapped.Image.DeepCopy()
	if err := fuzzing.CreateImage(want); err != nil {
		t.Fatalf("POST images would refuse the image of an accepted mapping: %v", err)
	}
	want.UID, want.CreationTimestamp, want.ResourceVersion = stored.UID, stored.CreationTimestamp, stored.ResourceVersion
	fuzzing.CheckEqual(t, "the image a mapping stores and the one POST images stores", want, stored)
	fuzzing.CheckClientRoundTrips(t, stored)

	stream := &imagev1.ImageStream{}
	if _, err := fake.Get(ctx, streams, mapped.Namespace, mapped.Name, stream); err != nil {
		t.Fatal(err)
	}
	head := imageutil.LatestTagEvent(stream, mapped.Tag)
	if head == nil || head.Image != stored.Name {
		t.Fatalf("tag %q points at %+v, want image %s", mapped.Tag, head, stored.Name)
	}
	fuzzing.CheckClientRoundTrips(t, stream)
}
