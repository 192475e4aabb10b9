package txn

import (
	"bytes"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
)

// TestEncodeMatchesCodec: encode gives the storage codec's bytes for every storage media
// type, and takes the protobuf encoder's own buffer instead of copying it.
func TestEncodeMatchesCodec(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := imagev1.Install(scheme); err != nil {
		t.Fatal(err)
	}
	codecs := serializer.NewCodecFactory(scheme)
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "ruby", Namespace: "test", Labels: map[string]string{"app": "ruby"}},
		Spec:       imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{Name: "latest"}}},
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{
			{DockerImageReference: "registry.example.com/test/ruby@sha256:0000000000000000000000000000000000000000000000000000000000000000", Image: "sha256:0000000000000000000000000000000000000000000000000000000000000000"},
		}}}},
	}
	for _, tc := range []struct {
		mediaType string
		// fewerAllocations: the encoder writes the buffer it was given in one piece.
		fewerAllocations bool
	}{
		{"application/vnd.kubernetes.protobuf", true},
		{"application/json", false},
		{"application/yaml", false},
	} {
		t.Run(tc.mediaType, func(t *testing.T) {
			codec, _, err := serverstorage.NewStorageCodec(serverstorage.StorageCodecConfig{
				StorageMediaType:  tc.mediaType,
				StorageSerializer: codecs,
				StorageVersion:    imagev1.GroupVersion,
				MemoryVersion:     imagev1.GroupVersion,
			})
			if err != nil {
				t.Fatal(err)
			}
			r := &Resource{codec: codec, allocatingEncoder: allocatingEncoder(codec)}
			if r.allocatingEncoder == nil {
				t.Fatalf("no allocating encoder found in codec %T", codec)
			}
			want, err := runtime.Encode(codec, stream)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				got, err := r.encode(stream)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("encode:\n%q\nwant the codec's\n%q", got, want)
				}
			}
			if tc.fewerAllocations {
				ours := testing.AllocsPerRun(20, func() { _, _ = r.encode(stream) })
				codecs := testing.AllocsPerRun(20, func() { _, _ = runtime.Encode(codec, stream) })
				if ours >= codecs {
					t.Errorf("encode allocates %v times, runtime.Encode %v: the encoder's buffer was copied", ours, codecs)
				}
			}
		})
	}
}

// TestOwnedBuffer: a write of the buffer the writer allocated is kept as is; other writes
// (an encoder's own reused buffer) are copied, and later writes append.
func TestOwnedBuffer(t *testing.T) {
	var b ownedBuffer
	allocated := b.Allocate(8)
	copy(allocated, "abcdefgh")
	_, _ = b.Write(allocated[:5])
	if &b.data[0] != &allocated[0] || string(b.data) != "abcde" {
		t.Fatalf("own buffer not kept: %q", b.data)
	}
	_, _ = b.Write([]byte("XY"))
	if string(b.data) != "abcdeXY" {
		t.Fatalf("after an appended write: %q", b.data)
	}

	var c ownedBuffer
	foreign := []byte("reused")
	_, _ = c.Write(foreign)
	foreign[0] = 'R'
	if string(c.data) != "reused" {
		t.Fatalf("a foreign buffer was kept, not copied: %q", c.data)
	}
}
