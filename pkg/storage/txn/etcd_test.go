package txn_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	dto "github.com/prometheus/client_model/go"
	clientv3 "go.etcd.io/etcd/client/v3"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/value"
	"k8s.io/component-base/metrics/legacyregistry"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	imageregistry "github.com/image-apiserver/image-apiserver/pkg/registry/image"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn/txntest"
)

// etcdEnv is a real etcd with the real images and imagestreams stores and a txn client.
type etcdEnv struct {
	impl    txn.Interface
	fx      txntest.Fixtures
	client  *clientv3.Client
	images  *imageregistry.REST
	streams *imagestream.REST
}

func newEtcdEnv(t *testing.T, transformer value.Transformer) *etcdEnv {
	t.Helper()
	storage := registrytest.NewStorage(t)
	var getter generic.RESTOptionsGetter = storage
	if transformer != nil {
		getter = registrytest.TransformingGetter{RESTOptionsGetter: storage, Transformer: transformer}
	}
	images, err := imageregistry.NewREST(apiserver.Scheme, getter)
	if err != nil {
		t.Fatalf("images store: %v", err)
	}
	t.Cleanup(images.Store.DestroyFunc)
	streams, _, err := imagestream.NewREST(apiserver.Scheme, getter, imagestream.RegistryHostnames{})
	if err != nil {
		t.Fatalf("imagestreams store: %v", err)
	}
	t.Cleanup(streams.Store.DestroyFunc)

	imageResource, err := txn.ResourceFor(images.Store, getter)
	if err != nil {
		t.Fatalf("ResourceFor(images): %v", err)
	}
	streamResource, err := txn.ResourceFor(streams.Store, getter)
	if err != nil {
		t.Fatalf("ResourceFor(imagestreams): %v", err)
	}
	client, err := txn.NewClient(t.Context(), storage.Config.Transport)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return &etcdEnv{
		impl:   txn.New(client),
		client: client,
		fx: txntest.Fixtures{
			Images:           imageResource,
			ImageStreams:     streamResource,
			ImageStore:       images.Store,
			ImageStreamStore: streams.Store,
		},
		images:  images,
		streams: streams,
	}
}

func TestEtcdConformance(t *testing.T) {
	tests := []struct {
		name        string
		transformer func(t *testing.T) value.Transformer
	}{
		{name: "identity", transformer: func(*testing.T) value.Transformer { return nil }},
		{name: "aesgcm", transformer: registrytest.NewAESGCM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			txntest.RunConformance(t, func(t *testing.T) (txn.Interface, txntest.Fixtures) {
				env := newEtcdEnv(t, tc.transformer(t))
				return env.impl, env.fx
			})
		})
	}
}

func nsContext(ns string) context.Context {
	return genericapirequest.WithNamespace(genericapirequest.NewContext(), ns)
}

// TestEtcdEncryptedAtRest proves that Commit encrypts like the Store (values bound to their
// key) and that the Store decrypts what Commit wrote, and the other way round.
func TestEtcdEncryptedAtRest(t *testing.T) {
	env := newEtcdEnv(t, registrytest.NewAESGCM(t))
	ctx := t.Context()
	img := txntest.NewImage("encrypted")
	stream := txntest.NewImageStream("ns", "encrypted", img)
	rev, err := env.impl.Commit(ctx,
		txn.Op{Resource: env.fx.Images, Name: img.Name, Obj: img},
		txn.Op{Resource: env.fx.ImageStreams, Namespace: "ns", Name: stream.Name, Obj: stream})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}

	tests := []struct {
		name     string
		resource *txn.Resource
		ns, obj  string
		store    txntest.Store
	}{
		{name: "image", resource: env.fx.Images, obj: img.Name, store: env.images.Store},
		{name: "imagestream", resource: env.fx.ImageStreams, ns: "ns", obj: stream.Name, store: env.streams.Store},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := tc.resource.Key(ctx, tc.ns, tc.obj)
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			raw, err := env.client.Get(ctx, key)
			if err != nil || len(raw.Kvs) != 1 {
				t.Fatalf("raw etcd get %q: %v (%d values)", key, err, len(raw.Kvs))
			}
			value := raw.Kvs[0].Value
			if !bytes.HasPrefix(value, []byte(registrytest.AESPrefix)) {
				t.Errorf("raw value of %q is not aesgcm encrypted: %q", key, value[:min(len(value), 40)])
			}
			if bytes.Contains(value, []byte(img.DockerImageReference)) {
				t.Errorf("raw value of %q contains plain text", key)
			}

			got, err := tc.store.Get(nsContext(tc.ns), tc.obj, &metav1.GetOptions{})
			if err != nil {
				t.Fatalf("store Get: %v", err)
			}
			if rv := got.(metav1.Object).GetResourceVersion(); rv != strconv.FormatInt(rev, 10) {
				t.Errorf("store Get resourceVersion %s, want %d", rv, rev)
			}
		})
	}

	t.Run("value is bound to its key", func(t *testing.T) {
		// Copying an encrypted value to another key must not decrypt (authenticated data).
		from, _ := env.fx.ImageStreams.Key(ctx, "ns", stream.Name)
		to, _ := env.fx.ImageStreams.Key(ctx, "ns", "copied")
		raw, err := env.client.Get(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.client.Put(ctx, to, string(raw.Kvs[0].Value)); err != nil {
			t.Fatal(err)
		}
		if _, err := env.impl.Get(ctx, env.fx.ImageStreams, "ns", "copied", &imagev1.ImageStream{}); err == nil {
			t.Errorf("Get decrypted a value under a foreign key")
		}
	})
}

// TestEtcdWatch proves that a watch through the Store sees Commit's writes as ordinary
// events at the commit revision.
func TestEtcdWatch(t *testing.T) {
	env := newEtcdEnv(t, nil)
	ctx := t.Context()
	stream := txntest.NewImageStream("ns", "watched")
	start, err := env.impl.Commit(ctx, txn.Op{Resource: env.fx.ImageStreams, Namespace: "ns", Name: stream.Name, Obj: stream})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}

	opts := &metainternalversion.ListOptions{ResourceVersion: strconv.FormatInt(start, 10), Watch: true}
	streamWatch, err := env.streams.Store.Watch(nsContext("ns"), opts)
	if err != nil {
		t.Fatalf("watch imagestreams: %v", err)
	}
	defer streamWatch.Stop()
	imageWatch, err := env.images.Store.Watch(nsContext(""), opts)
	if err != nil {
		t.Fatalf("watch images: %v", err)
	}
	defer imageWatch.Stop()

	img := txntest.NewImage("watched")
	update := txntest.NewImageStream("ns", stream.Name, img)
	rev, err := env.impl.Commit(ctx,
		txn.Op{Resource: env.fx.Images, Name: img.Name, Obj: img},
		txn.Op{Resource: env.fx.ImageStreams, Namespace: "ns", Name: stream.Name, Obj: update, Revision: start})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}

	tests := []struct {
		name     string
		w        watch.Interface
		wantType watch.EventType
		wantName string
	}{
		{name: "imagestream", w: streamWatch, wantType: watch.Modified, wantName: stream.Name},
		{name: "image", w: imageWatch, wantType: watch.Added, wantName: img.Name},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			select {
			case ev := <-tc.w.ResultChan():
				m, ok := ev.Object.(metav1.Object)
				if !ok {
					t.Fatalf("event %s with %T", ev.Type, ev.Object)
				}
				if ev.Type != tc.wantType || m.GetName() != tc.wantName || m.GetResourceVersion() != strconv.FormatInt(rev, 10) {
					t.Errorf("event %s %s at %s, want %s %s at %d", ev.Type, m.GetName(), m.GetResourceVersion(), tc.wantType, tc.wantName, rev)
				}
			case <-time.After(wait.ForeverTestTimeout):
				t.Fatalf("no event")
			}
		})
	}
}

// counter reads a counter of the legacy registry; absent series are 0.
func counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if matches(m, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(labels)
}

func TestEtcdMetrics(t *testing.T) {
	txn.RegisterMetrics()
	txn.RegisterMetrics() // idempotent
	env := newEtcdEnv(t, nil)
	ctx := t.Context()

	conflicts := map[string]string{"group": "image.openshift.io", "resource": "imagestreams"}
	conflictCommits := map[string]string{"result": "conflict"}
	beforeConflicts := counter(t, "openshift_image_apiserver_txn_conflicts_total", conflicts)
	beforeCommits := counter(t, "openshift_image_apiserver_txn_commits_total", conflictCommits)

	stream := txntest.NewImageStream("ns", "metrics")
	op := txn.Op{Resource: env.fx.ImageStreams, Namespace: "ns", Name: stream.Name, Obj: stream}
	if _, err := env.impl.Commit(ctx, op); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if _, err := env.impl.Commit(ctx, op); err == nil {
		t.Fatalf("second create succeeded")
	}
	if got := counter(t, "openshift_image_apiserver_txn_conflicts_total", conflicts) - beforeConflicts; got != 1 {
		t.Errorf("conflicts_total grew by %v, want 1", got)
	}
	if got := counter(t, "openshift_image_apiserver_txn_commits_total", conflictCommits) - beforeCommits; got != 1 {
		t.Errorf("commits_total{result=conflict} grew by %v, want 1", got)
	}
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		name    string
		tc      storagebackend.TransportConfig
		wantErr bool
	}{
		{name: "plain", tc: storagebackend.TransportConfig{ServerList: []string{"http://127.0.0.1:1"}}},
		{name: "missing TLS files", tc: storagebackend.TransportConfig{ServerList: []string{"https://127.0.0.1:1"}, CertFile: "/nonexistent/cert", KeyFile: "/nonexistent/key"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, err := txn.NewClient(t.Context(), tc.tc)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NewClient: err %v, want error %v", err, tc.wantErr)
			}
			if client != nil {
				_ = client.Close()
			}
		})
	}
}
