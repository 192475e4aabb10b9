package integration

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// TestDiscovery checks the group, resources, verbs, short names and categories.
func TestDiscovery(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	dc, err := discovery.NewDiscoveryClientForConfig(s.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ServerResourcesForGroupVersion("image.openshift.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]metav1.APIResource{}
	for _, r := range list.APIResources {
		got[r.Name] = r
	}
	is := got["imagestreams"]
	if !is.Namespaced || fmt.Sprint(is.ShortNames) != "[is]" || fmt.Sprint(is.Categories) != "[all]" || is.SingularName != "imagestream" {
		t.Errorf("imagestreams resource = %+v", is)
	}
	if v := fmt.Sprint(is.Verbs); v != "[create delete deletecollection get list patch update watch]" {
		t.Errorf("imagestreams verbs = %s", v)
	}
	if img := got["images"]; img.Namespaced || img.Kind != "Image" {
		t.Errorf("images resource = %+v", img)
	}
	if st := got["imagestreams/status"]; fmt.Sprint(st.Verbs) != "[get patch update]" {
		t.Errorf("imagestreams/status verbs = %v", st.Verbs)
	}
	groups, err := dc.ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups {
		if g.Name == "image.openshift.io" && (len(g.Versions) != 1 || g.PreferredVersion.Version != "v1") {
			t.Errorf("group versions %+v: want only v1 (no docker metadata versions)", g.Versions)
		}
	}
}

// TestWatchOrder checks that a watch from a list's resourceVersion sees ADDED, MODIFIED and
// DELETED in commit order, and that sendInitialEvents ends with a bookmark.
func TestWatchOrder(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) {
		ctx := testContext(t)
		streams := s.ImageClient(ct).ImageV1().ImageStreams("watch-" + shortName(ct))
		list, err := streams.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := streams.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, AllowWatchBookmarks: true})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		created, err := streams.Create(ctx, newStream("a"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Labels = map[string]string{"x": "y"}
		updated, err := streams.Update(ctx, created, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := streams.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		want := []struct {
			typ watch.EventType
			rv  string
		}{{watch.Added, created.ResourceVersion}, {watch.Modified, updated.ResourceVersion}, {watch.Deleted, ""}}
		for _, w8 := range want {
			ev := nextEvent(t, w)
			stream, ok := ev.Object.(*imagev1.ImageStream)
			if ev.Type != w8.typ || !ok || stream.Name != "a" || (w8.rv != "" && stream.ResourceVersion != w8.rv) {
				t.Fatalf("event %s %T, want %s of stream a at rv %s", ev.Type, ev.Object, w8.typ, w8.rv)
			}
		}

		// Streaming list: the initial state, then a bookmark marking its end.
		if _, err := streams.Create(ctx, newStream("b"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sendInitial := true
		w2, err := streams.Watch(ctx, metav1.ListOptions{SendInitialEvents: &sendInitial, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true})
		if err != nil {
			t.Fatal(err)
		}
		defer w2.Stop()
		if ev := nextEvent(t, w2); ev.Type != watch.Added {
			t.Fatalf("first streaming event %s, want ADDED", ev.Type)
		}
		ev := nextEvent(t, w2)
		if ev.Type != watch.Bookmark {
			t.Fatalf("event after initial state %s, want BOOKMARK", ev.Type)
		}
		if m, _ := ev.Object.(*imagev1.ImageStream); m == nil || m.Annotations[metav1.InitialEventsAnnotationKey] != "true" {
			t.Errorf("bookmark lacks the initial-events-end annotation: %+v", ev.Object)
		}
	})
}

func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed")
			}
			if ev.Type == watch.Bookmark {
				if m, _ := ev.Object.(*imagev1.ImageStream); m != nil && m.Annotations[metav1.InitialEventsAnnotationKey] == "" {
					continue // a periodic bookmark, not the one asserted on
				}
			}
			return ev
		case <-time.After(30 * time.Second):
			t.Fatal("no watch event within 30s")
		}
	}
}

// TestPaginationAndSelectors lists with limit/continue and with label and field selectors.
func TestPaginationAndSelectors(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	forEachContentType(t, func(t *testing.T, ct string) {
		ctx := testContext(t)
		ns := "page-" + shortName(ct)
		streams := s.ImageClient(ct).ImageV1().ImageStreams(ns)
		for i := 0; i < 7; i++ {
			st := newStream(fmt.Sprintf("s%d", i))
			st.Labels = map[string]string{"parity": []string{"even", "odd"}[i%2]}
			if i == 3 {
				st.Spec.DockerImageRepository = "quay.io/example/three"
			}
			if _, err := streams.Create(ctx, st, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		var names []string
		opts := metav1.ListOptions{Limit: 3}
		pages := 0
		for {
			page, err := streams.List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page.Items) > 3 {
				t.Fatalf("page of %d items with limit 3", len(page.Items))
			}
			for _, it := range page.Items {
				names = append(names, it.Name)
			}
			if page.Continue == "" {
				break
			}
			opts.Continue = page.Continue
		}
		if pages != 3 || fmt.Sprint(names) != "[s0 s1 s2 s3 s4 s5 s6]" {
			t.Errorf("paged %d times through %v", pages, names)
		}

		odd, err := streams.List(ctx, metav1.ListOptions{LabelSelector: "parity=odd"})
		if err != nil || len(odd.Items) != 3 {
			t.Errorf("label selector: %v, %d items, want 3", err, len(odd.Items))
		}
		for sel, want := range map[string]string{
			"metadata.name=s4": "s4",
			"spec.dockerImageRepository=quay.io/example/three":              "s3",
			"status.dockerImageRepository=registry.test:5000/" + ns + "/s5": "s5",
		} {
			got, err := streams.List(ctx, metav1.ListOptions{FieldSelector: sel})
			if err != nil || len(got.Items) != 1 || got.Items[0].Name != want {
				t.Errorf("field selector %s: %v, %+v", sel, err, got)
			}
		}
		_, err = streams.List(ctx, metav1.ListOptions{FieldSelector: "spec.tags=x"})
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "spec.tags") {
			t.Errorf("unsupported field selector: %v, want 400 naming the field", err)
		}
	})
}

// TestTableOutput asks for server-side Tables, as kubectl get does.
func TestTableOutput(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	ctx := testContext(t)
	client := s.ImageClient(framework.ContentTypes[0]).ImageV1()
	if _, err := client.ImageStreams("table").Create(ctx, newStream("app", "v1", "v2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Images().Create(ctx, newImage(testDigest), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]string{
		"/apis/image.openshift.io/v1/namespaces/table/imagestreams": {"Name", "Image Repository", "Tags", "Updated"},
		"/apis/image.openshift.io/v1/images":                        {"Name", "Image Reference"},
	} {
		table := getTable(t, s, path)
		var names []string
		for _, c := range table.ColumnDefinitions {
			names = append(names, c.Name)
		}
		if fmt.Sprint(names) != fmt.Sprint(want) || len(table.Rows) != 1 {
			t.Errorf("%s: columns %v, %d rows", path, names, len(table.Rows))
			continue
		}
		if strings.HasSuffix(path, "imagestreams") {
			cells := fmt.Sprint(table.Rows[0].Cells)
			if cells != "[app registry.test:5000/table/app v1,v2 Less than a second ago]" && !strings.Contains(cells, "second") {
				t.Errorf("stream row %s", cells)
			}
		}
	}
}

func getTable(t *testing.T, s *framework.Server, path string) *metav1.Table {
	t.Helper()
	code, body, _ := rawRequestAccept(t, s, path, "application/json;as=Table;v=v1;g=meta.k8s.io")
	if code != http.StatusOK {
		t.Fatalf("GET %s as Table: %d %s", path, code, body)
	}
	table := &metav1.Table{}
	if err := json.Unmarshal(body, table); err != nil {
		t.Fatal(err)
	}
	return table
}

// TestOpenAPI checks that v2 and v3 are served with the v1 GVK and never __internal, and that
// the documentation example's nameless, mediaType-less layers are not required (D13).
func TestOpenAPI(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	code, body, _ := rawRequestAccept(t, s, "/openapi/v3/apis/image.openshift.io/v1", "application/json")
	if code != http.StatusOK {
		t.Fatalf("openapi v3: %d", code)
	}
	text := string(body)
	if strings.Contains(text, "__internal") {
		t.Error("OpenAPI v3 mentions __internal")
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Required []string                   `json:"required"`
				GVK      []map[string]string        `json:"x-kubernetes-group-version-kind"`
				Props    map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	is, ok := doc.Components.Schemas["com.github.openshift.api.image.v1.ImageStream"]
	if !ok || len(is.GVK) != 1 || is.GVK[0]["version"] != "v1" || is.GVK[0]["group"] != "image.openshift.io" {
		t.Errorf("ImageStream schema GVK %+v (found %v)", is.GVK, ok)
	}
	if layer := doc.Components.Schemas["com.github.openshift.api.image.v1.ImageLayer"]; len(layer.Required) != 0 {
		t.Errorf("D13: ImageLayer requires %v, want nothing", layer.Required)
	}
	code, body, _ = rawRequestAccept(t, s, "/openapi/v2", "application/json")
	if code != http.StatusOK || strings.Contains(string(body), "__internal") || !strings.Contains(string(body), "com.github.openshift.api.image.v1.ImageStreamSpec") {
		t.Errorf("openapi v2: code %d, mentions __internal or lacks ImageStreamSpec", code)
	}
}

// TestRestartKeepsData stops the server (SIGTERM, exit 0) and starts it on the same data.
func TestRestartKeepsData(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	ctx := testContext(t)
	client := s.ImageClient(framework.ContentTypes[1]).ImageV1()
	created, err := client.ImageStreams("restart").Create(ctx, newStream("app", "v1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// D10: generated secrets are readable by the server's user only.
	for _, f := range []string{"admin-token", "kubeconfig", "certs/image-apiserver.key", "certs/image-apiserver.crt"} {
		fi, err := os.Stat(filepath.Join(s.DataDir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	kubeconfigBefore := s.RESTConfig().BearerToken
	if err := s.Stop(); err != nil {
		t.Fatalf("SIGTERM: server exited with %v, want exit 0", err)
	}
	s.Restart()
	if s.RESTConfig().BearerToken != kubeconfigBefore {
		t.Error("admin token changed across a restart")
	}
	got, err := s.ImageClient(framework.ContentTypes[1]).ImageV1().ImageStreams("restart").Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got.UID != created.UID || got.ResourceVersion != created.ResourceVersion || len(got.Status.Tags) != 1 {
		t.Errorf("after restart: %s@%s with %d status tags, want %s@%s with 1", got.UID, got.ResourceVersion, len(got.Status.Tags), created.UID, created.ResourceVersion)
	}
}

// TestExternalEtcd runs against a separate etcd 3.7 process and checks the stored key layout
// and protobuf encoding.
func TestExternalEtcd(t *testing.T) {
	etcd := framework.StartEtcd(t)
	s := framework.StartServer(t, framework.Options{EtcdServers: etcd.URL})
	ctx := testContext(t)
	if _, err := s.ImageClient(framework.ContentTypes[0]).ImageV1().ImageStreams("ext").Create(ctx, newStream("app"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cli, err := etcd.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, "/registry/image.openshift.io/imagestreams/ext/app")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("etcd key: %v, %d kvs", err, len(resp.Kvs))
	}
	if v := resp.Kvs[0].Value; !strings.HasPrefix(string(v), "k8s\x00") {
		t.Errorf("stored value is not protobuf: %q", v[:min(len(v), 16)])
	}
}

// TestAuthentication: anonymous API requests are 401, health endpoints are public.
func TestAuthentication(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/apis/image.openshift.io/v1/images", 401},
		{"POST", "/apis/image.openshift.io/v1/namespaces/x/imagestreams", 401},
		{"GET", "/readyz", 200},
		{"GET", "/livez", 200},
		{"GET", "/metrics", 401},
	} {
		req, _ := http.NewRequestWithContext(context.Background(), tc.method, s.URL+tc.path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("anonymous %s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
	req, _ := http.NewRequest("GET", s.URL+"/apis/image.openshift.io/v1/images", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("wrong token: %d, want 401", resp.StatusCode)
	}
	if code, body, _ := rawRequestAccept(t, s, "/metrics", "text/plain"); code != 200 || !strings.Contains(string(body), "apiserver_request_total") {
		t.Errorf("admin /metrics: %d", code)
	}
	if code, body, _ := rawRequestAccept(t, s, "/readyz?verbose", "text/plain"); code != 200 || !strings.Contains(string(body), "[+]etcd ok") {
		t.Errorf("/readyz?verbose: %d %s, want an etcd check", code, body)
	}
}
