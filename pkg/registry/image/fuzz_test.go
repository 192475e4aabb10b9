package image_test

import (
	"context"
	"net/http"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/fuzzing"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
)

// FuzzImageCreate feeds request bodies to what POST images runs before storage: decoding by
// content type with defaults, metadata normalisation, PrepareForCreate and validation.
// Properties:
//   - nothing panics, and a refused body gets a 400 or 422 Status whose causes name fields;
//   - validation is deterministic, and every error's path starts at a field of Image;
//   - an accepted image has a digest name and survives the storage codec and the JSON, YAML
//     and protobuf a client reads and sends back unchanged;
//   - an unchanged update (PUT what GET returned) of an accepted image is accepted.
func FuzzImageCreate(f *testing.F) {
	fuzzing.AddSeeds(f, fuzzing.ImageSeeds(f)...)
	f.Fuzz(func(t *testing.T, format uint8, body []byte) {
		obj, err := fuzzing.Decode(fuzzing.FormatOf(format), body, &imagev1.Image{})
		if err != nil {
			return // the handler answers 400
		}
		img := obj.(*imagev1.Image)
		createErr := fuzzing.CreateImage(img)
		validate := func(img *imagev1.Image) field.ErrorList {
			return fuzzing.ImageStrategy.Validate(context.Background(), img)
		}
		errs := fuzzing.CheckDeterministic(t, img, validate)
		fuzzing.CheckFieldErrors(t, errs, img)
		if createErr != nil {
			fuzzing.CheckStatusError(t, createErr, http.StatusBadRequest, http.StatusUnprocessableEntity)
			return
		}
		if !reference.IsValidDigest(img.Name) {
			t.Fatalf("accepted an image named %q, not a digest", img.Name)
		}
		stored := fuzzing.CheckRoundTrips(t, img)

		again := stored.DeepCopy()
		if err := fuzzing.UpdateImage(again, stored); err != nil {
			t.Fatalf("unchanged update refused: %v", err)
		}
		fuzzing.CheckRoundTrips(t, again)
	})
}

// FuzzImageUpdate feeds request bodies to what PUT images/<name> runs before storage, over one
// of the seed images as stored. Properties, beyond those of a create:
//   - the stored image is never modified, and the updated one shares no memory with it;
//   - validation of the update is deterministic and names fields of Image;
//   - an accepted update survives every encoding unchanged and keeps the image's name.
func FuzzImageUpdate(f *testing.F) {
	var stored []*imagev1.Image
	for i, seed := range fuzzing.ImageSeeds(f) {
		img := seed.(*imagev1.Image).DeepCopy()
		if err := fuzzing.CreateImage(img); err != nil {
			f.Fatalf("seed image %s refused: %v", img.Name, err)
		}
		stored = append(stored, fuzzing.StorageRoundTrip(f, fuzzing.Deterministic(img, i)))
	}
	for i, img := range stored {
		for format := fuzzing.Format(0); format <= fuzzing.Protobuf; format++ {
			body, err := fuzzing.Encode(format, img)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), uint8(format), body)
		}
	}
	f.Fuzz(func(t *testing.T, which, format uint8, body []byte) {
		old := stored[int(which)%len(stored)].DeepCopy()
		obj, err := fuzzing.Decode(fuzzing.FormatOf(format), body, &imagev1.Image{})
		if err != nil {
			return
		}
		img := obj.(*imagev1.Image)
		// The handler refuses another name with 400 and the store a stale resourceVersion
		// with 409; neither reaches the strategy.
		img.Name, img.ResourceVersion = old.Name, old.ResourceVersion
		unchanged := equality.Semantic.DeepEqual(img, old)
		before := fuzzing.Take(old)

		updateErr := fuzzing.UpdateImage(img, old)
		before.Unchanged(t, "the stored image", old)
		validate := func(img *imagev1.Image) field.ErrorList {
			return fuzzing.ImageStrategy.ValidateUpdate(context.Background(), img, old)
		}
		errs := fuzzing.CheckDeterministic(t, img, validate)
		fuzzing.CheckFieldErrors(t, errs, img)
		if updateErr != nil {
			if unchanged {
				t.Fatalf("unchanged update refused: %v", updateErr)
			}
			fuzzing.CheckStatusError(t, updateErr, http.StatusBadRequest, http.StatusUnprocessableEntity)
		} else {
			fuzzing.CheckRoundTrips(t, img)
		}
		fuzzing.Scribble(img)
		before.Unchanged(t, "the stored image, after the update's memory was overwritten,", old)
	})
}
