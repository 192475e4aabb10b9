package txntest_test

import (
	"context"
	"errors"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn/txntest"
)

func TestFakeConformance(t *testing.T) {
	txntest.RunConformance(t, func(t *testing.T) (txn.Interface, txntest.Fixtures) {
		return txntest.NewFake(), txntest.FakeFixtures(t)
	})
}

func TestFakeKey(t *testing.T) {
	fx := txntest.FakeFixtures(t)
	tests := []struct {
		name     string
		resource *txn.Resource
		ns       string
		want     string
	}{
		{name: "cluster-scoped", resource: fx.Images, want: "/registry/image.openshift.io/images/sha256:abc"},
		{name: "namespaced", resource: fx.ImageStreams, ns: "ns", want: "/registry/image.openshift.io/imagestreams/ns/sha256:abc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.resource.Key(t.Context(), tc.ns, "sha256:abc")
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			if got != tc.want {
				t.Errorf("Key = %q, want %q: <prefix>/<group>/<resource>/[<namespace>/]<name>, the group once", got, tc.want)
			}
			if gr := tc.resource.GroupResource(); gr != (schema.GroupResource{Group: "image.openshift.io", Resource: gr.Resource}) {
				t.Errorf("GroupResource = %v", gr)
			}
		})
	}
}

func TestFakeInjectedConflicts(t *testing.T) {
	fx := txntest.FakeFixtures(t)
	ctx := t.Context()
	fake := txntest.NewFake()
	stream := txntest.NewImageStream("ns", "s")
	rev, err := fake.Commit(ctx, txn.Op{Resource: fx.ImageStreams, Namespace: "ns", Name: "s", Obj: stream})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}

	fake.FailNextCommits(2)
	update := stream.DeepCopy()
	update.Labels["x"] = "y"
	op := txn.Op{Resource: fx.ImageStreams, Namespace: "ns", Name: "s", Obj: update, Revision: rev}
	for i := range 2 {
		_, err := fake.Commit(ctx, op)
		var conflict *txn.ConflictError
		if !errors.As(err, &conflict) {
			t.Fatalf("attempt %d: want injected conflict, got %v", i, err)
		}
		c, ok := conflict.ForOp(0)
		if !ok || c.Revision != rev || c.Object.(*imagev1.ImageStream).Labels["x"] != "" {
			t.Errorf("attempt %d: conflict %+v, want the unchanged stream at %d", i, c, rev)
		}
	}
	if _, err := fake.Commit(ctx, op); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	if got := fake.Commits(); got != 2 {
		t.Errorf("Commits() = %d, want 2", got)
	}
}

func TestFakeBeforeCommit(t *testing.T) {
	fx := txntest.FakeFixtures(t)
	ctx := t.Context()
	fake := txntest.NewFake()
	stream := txntest.NewImageStream("ns", "s")
	rev, err := fake.Commit(ctx, txn.Op{Resource: fx.ImageStreams, Namespace: "ns", Name: "s", Obj: stream})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}

	// A concurrent writer moves the stream once, just before our commit.
	racer := stream.DeepCopy()
	racer.Labels["racer"] = "won"
	var racerRev int64
	fake.BeforeCommit(func(ctx context.Context, _ []txn.Op) {
		fake.BeforeCommit(nil)
		if racerRev, err = fake.Commit(ctx, txn.Op{Resource: fx.ImageStreams, Namespace: "ns", Name: "s", Obj: racer, Revision: rev}); err != nil {
			t.Errorf("racing Commit: %v", err)
		}
	})
	mine := stream.DeepCopy()
	_, err = fake.Commit(ctx, txn.Op{Resource: fx.ImageStreams, Namespace: "ns", Name: "s", Obj: mine, Revision: rev})
	var conflict *txn.ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("want conflict, got %v", err)
	}
	c, _ := conflict.ForOp(0)
	if c == nil || c.Revision != racerRev || c.Object.(*imagev1.ImageStream).Labels["racer"] != "won" {
		t.Errorf("conflict %+v, want the racer's stream at %d", c, racerRev)
	}
}
