//go:build e2e

package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// exampleImage is the image of examples/mapping.yaml.
const exampleImage = "sha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d"

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// kubectl runs kubectl as user and fails the test if it fails.
func kubectl(t *testing.T, user, stdin string, args ...string) string {
	t.Helper()
	out, err := st.run(testContext(t), user, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s (as %s): %v\n%s", strings.Join(args, " "), user, err, out)
	}
	return out
}

// kubectlFails runs kubectl as user, fails the test if it succeeds, and returns its output.
func kubectlFails(t *testing.T, user, stdin string, args ...string) string {
	t.Helper()
	out, err := st.run(testContext(t), user, stdin, args...)
	if err == nil {
		t.Fatalf("kubectl %s (as %s) succeeded, want an error:\n%s", strings.Join(args, " "), user, out)
	}
	return out
}

func wantContains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

// example returns examples/<name> with its namespace "test" replaced by ns.
func example(t *testing.T, name, ns string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(st.repoRoot, "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if !strings.Contains(s, "namespace: test\n") {
		t.Fatalf("examples/%s has no \"namespace: test\"", name)
	}
	return strings.Replace(s, "namespace: test\n", "namespace: "+ns+"\n", 1)
}

// namespaceWithStream creates namespace ns and the example stream in it, as admin.
func namespaceWithStream(t *testing.T, ns string) {
	t.Helper()
	kubectl(t, "admin", "", "create", "namespace", ns)
	kubectl(t, "admin", example(t, "imagestream.yaml", ns), "create", "-f", "-")
}

// direct sends a request straight to image-apiserver's port, bypassing kube-apiserver, with
// the client certificate cert (none when nil) and the given headers.
func direct(t *testing.T, cert *certKey, method, path string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), method, st.serverURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := st.directClient(cert).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// asUser is what the aggregator sends: the user in X-Remote-* headers, over a connection
// authenticated with the front-proxy client certificate.
func asUser(name string, groups ...string) map[string]string {
	h := map[string]string{"X-Remote-User": name}
	if len(groups) > 0 {
		h["X-Remote-Group"] = strings.Join(groups, ",")
	}
	return h
}

// TestAggregation: the APIService is Available and kubectl discovers our resources through
// kube-apiserver; the generic informers (NamespaceLifecycle's) were started and synced.
func TestAggregation(t *testing.T) {
	out := kubectl(t, "admin", "", "get", "apiservice", "v1.image.openshift.io", "-o", `jsonpath={.status.conditions[?(@.type=="Available")].status}`)
	if out != "True" {
		t.Errorf("APIService Available = %q, want True", out)
	}
	out = kubectl(t, "admin", "", "api-resources", "--api-group=image.openshift.io")
	want := map[string][]string{
		"images":              {"images", "image.openshift.io/v1", "false", "Image"},
		"imagestreammappings": {"imagestreammappings", "image.openshift.io/v1", "true", "ImageStreamMapping"},
		"imagestreams":        {"imagestreams", "is", "image.openshift.io/v1", "true", "ImageStream"},
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && want[f[0]] != nil {
			if strings.Join(f, " ") != strings.Join(want[f[0]], " ") {
				t.Errorf("api-resources line %q, want fields %q", line, want[f[0]])
			}
			delete(want, f[0])
		}
	}
	if len(want) > 0 {
		t.Errorf("kubectl api-resources lacks %v:\n%s", want, out)
	}

	code, body := direct(t, nil, http.MethodGet, "/readyz?verbose", nil)
	if code != http.StatusOK {
		t.Fatalf("/readyz?verbose: %d\n%s", code, body)
	}
	wantContains(t, "/readyz?verbose", body,
		"[+]etcd ok", "[+]informer-sync ok", "[+]poststarthook/generic-apiserver-start-informers ok")
}

// TestExampleMapping: the documentation's mapping through kube-apiserver with kubectl's default
// (client-side, OpenAPI v3) validation.
func TestExampleMapping(t *testing.T) {
	kubectl(t, "admin", "", "create", "namespace", "test")
	kubectl(t, "admin", "", "create", "-f", "examples/imagestream.yaml")
	out := kubectl(t, "admin", "", "create", "-f", "examples/mapping.yaml")
	wantContains(t, "create -f examples/mapping.yaml", out, "created")

	out = kubectl(t, "admin", "", "get", "is,images", "-n", "test")
	wantContains(t, "get is,images", out,
		"imagestream.image.openshift.io/origin-ruby-sample", "registry.e2e.test:5000/test/origin-ruby-sample", "latest",
		"image.image.openshift.io/"+exampleImage)
	out = kubectl(t, "admin", "", "get", "is", "origin-ruby-sample", "-n", "test", "-o", "jsonpath={.status.tags[0].tag} {.status.tags[0].items[0].image}")
	if want := "latest " + exampleImage; out != want {
		t.Errorf("stream status tag = %q, want %q", out, want)
	}
}

// TestRBAC: our server authorizes with SubjectAccessReviews against kube-apiserver's RBAC, and
// the manifests' system:image-pusher role lets a user push (map) but not delete images.
func TestRBAC(t *testing.T) {
	const ns = "rbac-e2e"
	namespaceWithStream(t, ns)
	mapping := example(t, "mapping.yaml", ns)

	// Through the aggregator kube-apiserver's own authorization refuses her first. (kubectl's
	// validation needs to list CRDs for a create-only kind: manifests grant that to everyone.)
	out := kubectlFails(t, "alice", mapping, "create", "-f", "-")
	wantContains(t, "alice maps without RBAC", out, "Forbidden", `User "alice" cannot create resource "imagestreammappings"`)

	// Straight to our port as the aggregator would send it: our SubjectAccessReview refuses.
	code, body := direct(t, st.pki.frontProxyClient, http.MethodGet, "/apis/image.openshift.io/v1/namespaces/"+ns+"/imagestreams", asUser("alice", "system:authenticated"))
	if code != http.StatusForbidden {
		t.Fatalf("alice lists streams on our port without RBAC: %d, want 403\n%s", code, body)
	}
	wantContains(t, "our 403", body, `User \"alice\" cannot list resource \"imagestreams\" in API group \"image.openshift.io\" in the namespace \"`+ns+`\"`)

	kubectl(t, "admin", "", "create", "rolebinding", "alice-pusher", "--clusterrole=system:image-pusher", "--user=alice", "-n", ns)
	// kube-apiserver's RBAC sees the binding through an informer: poll, retrying only 403s.
	err := wait.PollUntilContextTimeout(testContext(t), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		out, err := st.run(ctx, "alice", mapping, "create", "-f", "-")
		if err == nil {
			return true, nil
		}
		if strings.Contains(out, "Forbidden") {
			return false, nil
		}
		t.Fatalf("alice maps with system:image-pusher: %v\n%s", err, out)
		return false, nil
	})
	if err != nil {
		t.Fatalf("alice could not map within 30s of the RoleBinding: %v", err)
	}
	out = kubectl(t, "alice", "", "get", "is", "origin-ruby-sample", "-n", ns, "-o", "jsonpath={.status.tags[0].items[0].image}")
	if out != exampleImage {
		t.Errorf("alice reads the tagged image %q, want %q", out, exampleImage)
	}

	out = kubectlFails(t, "alice", "", "delete", "image", exampleImage)
	wantContains(t, "alice deletes an image", out, "Forbidden", `User "alice" cannot delete resource "images"`)
	code, body = direct(t, st.pki.frontProxyClient, http.MethodDelete, "/apis/image.openshift.io/v1/images/"+exampleImage, asUser("alice", "system:authenticated"))
	if code != http.StatusForbidden {
		t.Errorf("alice deletes the image on our port: %d, want 403\n%s", code, body)
	}
	out = kubectlFails(t, "alice", "", "delete", "is", "origin-ruby-sample", "-n", ns)
	wantContains(t, "alice deletes a stream", out, "Forbidden")
	kubectl(t, "admin", "", "get", "image", exampleImage)
	kubectl(t, "admin", "", "get", "is", "origin-ruby-sample", "-n", ns)
}

// TestDirectAccess: requests that bypass kube-apiserver authenticate only with the front-proxy
// client certificate plus X-Remote-* headers, a client certificate of the cluster's client CA,
// or a token kube-apiserver's TokenReview accepts. Everything else is 401, except the probes.
func TestDirectAccess(t *testing.T) {
	const images = "/apis/image.openshift.io/v1/images"
	masters := asUser("e2e-admin", "system:masters")
	tests := []struct {
		name     string
		cert     *certKey
		path     string
		header   map[string]string
		want     int
		wantBody string
	}{
		{name: "no credentials", path: images, want: http.StatusUnauthorized},
		{name: "forged X-Remote-User without the front-proxy certificate", path: images, header: masters, want: http.StatusUnauthorized},
		{name: "forged X-Remote-User with a front-proxy certificate of another CA", cert: st.pki.rogueFrontProxy, path: images, header: masters, want: http.StatusUnauthorized},
		{name: "front-proxy certificate without a user header", cert: st.pki.frontProxyClient, path: images, want: http.StatusUnauthorized},
		{name: "invalid bearer token", path: images, header: map[string]string{"Authorization": "Bearer not-a-token"}, want: http.StatusUnauthorized},
		{name: "anonymous /metrics", path: "/metrics", want: http.StatusUnauthorized},
		{name: "anonymous /version", path: "/version", want: http.StatusUnauthorized},
		{name: "anonymous /readyz/etcd", path: "/readyz/etcd", want: http.StatusUnauthorized},
		{name: "anonymous /livez", path: "/livez", want: http.StatusOK},
		{name: "anonymous /readyz", path: "/readyz", want: http.StatusOK},
		{name: "anonymous /healthz", path: "/healthz", want: http.StatusOK},
		{name: "a user's client certificate wins over forged headers", cert: st.pki.alice, path: images, header: masters,
			want: http.StatusForbidden, wantBody: `User \"alice\" cannot list resource \"images\"`},
		{name: "service account token via TokenReview", path: images, header: map[string]string{"Authorization": "Bearer " + st.serverToken},
			want: http.StatusForbidden, wantBody: `User \"system:serviceaccount:image-system:image-apiserver\" cannot list resource \"images\"`},
		{name: "cluster client certificate in system:masters", cert: st.pki.admin, path: images, want: http.StatusOK},
		{name: "front-proxy certificate with user headers, as the aggregator", cert: st.pki.frontProxyClient, path: images, header: masters, want: http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := direct(t, tc.cert, http.MethodGet, tc.path, tc.header)
			if code != tc.want {
				t.Fatalf("GET %s: %d, want %d\n%s", tc.path, code, tc.want, body)
			}
			if tc.wantBody != "" && !strings.Contains(body, tc.wantBody) {
				t.Errorf("GET %s: body lacks %q:\n%s", tc.path, tc.wantBody, body)
			}
		})
	}
}

// TestNamespaceLifecycle: the NamespaceLifecycle admission plugin, fed by informers on
// kube-apiserver, refuses objects in namespaces that do not exist or are terminating. (No
// controller-manager runs, so a deleted namespace stays Terminating.)
func TestNamespaceLifecycle(t *testing.T) {
	const missing = "e2e-missing"
	out := kubectlFails(t, "admin", example(t, "mapping.yaml", missing), "create", "-f", "-")
	wantContains(t, "mapping into a missing namespace", out, `namespaces "`+missing+`" not found`)
	out = kubectlFails(t, "admin", example(t, "imagestream.yaml", missing), "create", "-f", "-")
	wantContains(t, "stream in a missing namespace", out, `namespaces "`+missing+`" not found`)

	const terminating = "e2e-terminating"
	kubectl(t, "admin", "", "create", "namespace", terminating)
	kubectl(t, "admin", "", "delete", "namespace", terminating, "--wait=false")
	if phase := kubectl(t, "admin", "", "get", "namespace", terminating, "-o", "jsonpath={.status.phase}"); phase != "Terminating" {
		t.Fatalf("namespace phase %q, want Terminating", phase)
	}
	// Our informer sees the phase change shortly; until then the mapping fails with 404 (no
	// stream), never succeeds.
	mapping := example(t, "mapping.yaml", terminating)
	var last string
	err := wait.PollUntilContextTimeout(testContext(t), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		out, err := st.run(ctx, "admin", mapping, "create", "-f", "-")
		if err == nil {
			t.Fatalf("mapping into a terminating namespace succeeded:\n%s", out)
		}
		last = out
		return strings.Contains(out, "because it is being terminated"), nil
	})
	if err != nil {
		t.Fatalf("mapping into a terminating namespace was not refused by NamespaceLifecycle: %v\n%s", err, last)
	}
	wantContains(t, "mapping into a terminating namespace", last, "Forbidden")
}

// TestMetrics: /metrics serves the generic apiserver metrics and ours, to authorized users.
func TestMetrics(t *testing.T) {
	const ns = "metrics-e2e"
	namespaceWithStream(t, ns)
	kubectl(t, "admin", example(t, "mapping.yaml", ns), "create", "-f", "-")

	code, body := direct(t, st.pki.admin, http.MethodGet, "/metrics", nil)
	if code != http.StatusOK {
		t.Fatalf("/metrics as admin: %d\n%s", code, body)
	}
	wantContains(t, "/metrics", body,
		`openshift_image_apiserver_imagestreammappings_total{code="201"}`,
		`openshift_image_apiserver_imagestream_write_attempts_bucket`,
		`openshift_image_apiserver_imagestream_write_batch_size_bucket`,
		`openshift_image_apiserver_txn_group_size_bucket`,
		`openshift_image_apiserver_txn_commits_total{result="success"}`,
		`apiserver_request_total{`,
		`etcd_request_duration_seconds_bucket{`)
	if code, body := direct(t, st.pki.alice, http.MethodGet, "/metrics", nil); code != http.StatusForbidden {
		t.Errorf("/metrics as alice: %d, want 403\n%s", code, body)
	}

	// A scraper: a ServiceAccount token (TokenReview) bound to the manifests' metrics-reader
	// role (SubjectAccessReview on the non-resource URL).
	kubectl(t, "admin", "", "create", "serviceaccount", "prometheus", "-n", ns)
	kubectl(t, "admin", "", "create", "clusterrolebinding", "e2e-prometheus", "--clusterrole=image-apiserver:metrics-reader", "--serviceaccount="+ns+":prometheus")
	token := strings.TrimSpace(kubectl(t, "admin", "", "create", "token", "prometheus", "-n", ns))
	// Ask kube-apiserver until its RBAC has seen the binding: our server caches denials.
	err := wait.PollUntilContextTimeout(testContext(t), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		out, _ := st.run(ctx, "admin", "", "auth", "can-i", "get", "/metrics", "--as=system:serviceaccount:"+ns+":prometheus")
		return strings.TrimSpace(out) == "yes", nil
	})
	if err != nil {
		t.Fatalf("the metrics-reader binding did not take effect: %v", err)
	}
	code, body = direct(t, nil, http.MethodGet, "/metrics", map[string]string{"Authorization": "Bearer " + token})
	if code != http.StatusOK || !strings.Contains(body, "openshift_image_apiserver_imagestreammappings_total") {
		t.Errorf("/metrics with the metrics-reader token: %d\n%.500s", code, body)
	}
}

// kustomize renders a kustomization with kubectl and returns its objects.
func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	out := kubectl(t, "admin", "", "kustomize", dir)
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(out, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("kustomize %s: %v\n%s", dir, err, doc)
		}
		objs = append(objs, u)
	}
	return objs
}

// TestManifestsServerDryRun: kube-apiserver accepts every object of the kustomizations in a
// server-side dry run (validation, defaulting, admission, and PodSecurity "restricted", which
// the namespace enforces), except the cert-manager.io objects: this cluster has no
// cert-manager CRDs.
func TestManifestsServerDryRun(t *testing.T) {
	for _, dir := range []string{"manifests", "manifests/external-etcd", "manifests/base"} {
		t.Run(dir, func(t *testing.T) {
			objs := kustomize(t, dir)
			out, err := st.run(testContext(t), "admin", "", "apply", "--dry-run=server", "-k", dir)
			t.Logf("kubectl apply --dry-run=server -k %s: %v\n%s", dir, err, out)
			if strings.Contains(out, "Error from server") {
				t.Errorf("kube-apiserver refused objects of %s", dir)
			}
			if strings.Contains(out, "PodSecurity") {
				t.Errorf("pod templates of %s violate the namespace's PodSecurity level", dir)
			}
			certManager := 0
			for _, o := range objs {
				gvk := o.GroupVersionKind()
				if gvk.Group == "cert-manager.io" {
					certManager++
					want := `no matches for kind "` + gvk.Kind + `" in version "cert-manager.io/v1"`
					if !regexp.MustCompile(`name: "` + regexp.QuoteMeta(o.GetName()) + `".*` + regexp.QuoteMeta(want)).MatchString(out) {
						t.Errorf("%s %s: want the error %q", gvk.Kind, o.GetName(), want)
					}
					continue
				}
				resource := strings.ToLower(gvk.Kind)
				if gvk.Group != "" {
					resource += "." + gvk.Group
				}
				line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(resource+"/"+o.GetName()) + ` (created|configured|unchanged) \(server dry run\)$`)
				if !line.MatchString(out) {
					t.Errorf("%s/%s was not accepted in the server dry run", resource, o.GetName())
				}
			}
			if (err == nil) != (certManager == 0) {
				t.Errorf("kubectl apply --dry-run=server: error %v with %d cert-manager.io objects", err, certManager)
			}
		})
	}
	// A dry run creates nothing.
	out := kubectlFails(t, "admin", "", "get", "deployment", "image-apiserver", "-n", serverNamespace)
	wantContains(t, "deployment after the dry run", out, "NotFound")
}

// TestManifestDeploymentArgs: the Deployment's command line is accepted by our binary. With
// the Deployment's paths absent here, the server gets past flag parsing and validation and
// stops at reading its serving certificate.
func TestManifestDeploymentArgs(t *testing.T) {
	var dep *appsv1.Deployment
	for _, o := range kustomize(t, "manifests") {
		if o.GetKind() == "Deployment" && o.GetName() == "image-apiserver" {
			data, err := o.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			dep = &appsv1.Deployment{}
			if err := yaml.Unmarshal(data, dep); err != nil {
				t.Fatal(err)
			}
		}
	}
	if dep == nil {
		t.Fatal("manifests have no Deployment image-apiserver")
	}
	c := dep.Spec.Template.Spec.Containers[0]
	args := make([]string, 0, len(c.Args))
	for _, a := range c.Args {
		args = append(args, strings.ReplaceAll(a, "$(ETCD_SERVERS)", st.etcdURL))
	}
	bin, err := framework.ServerBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(testContext(t), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("image-apiserver %s: %v (want a prompt failure on the missing certificate)\n%s", strings.Join(args, " "), err, out)
	}
	if strings.Contains(string(out), "unknown flag") || !strings.Contains(string(out), "/var/run/image-apiserver/serving/tls.crt") {
		t.Errorf("image-apiserver %s: want a failure on the missing serving certificate, got:\n%s", strings.Join(args, " "), out)
	}
	for _, p := range []*struct {
		name string
		path string
	}{{"liveness", c.LivenessProbe.HTTPGet.Path}, {"readiness", c.ReadinessProbe.HTTPGet.Path}, {"startup", c.StartupProbe.HTTPGet.Path}} {
		// Probes come without credentials: they must be paths anonymous requests may use.
		if code, body := direct(t, nil, http.MethodGet, p.path, nil); code != http.StatusOK {
			t.Errorf("%s probe %s: %d\n%s", p.name, p.path, code, body)
		}
	}
}

// TestServerPermissions: image-apiserver runs with the token of the ServiceAccount of
// manifests/ and only the RBAC manifests/base/rbac-apiserver.yaml grants it; nothing it does
// (informers, TokenReviews, SubjectAccessReviews, the authentication ConfigMap) is refused.
func TestServerPermissions(t *testing.T) {
	out := kubectl(t, "image-apiserver", "", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	if want := "system:serviceaccount:image-system:image-apiserver"; out != want {
		t.Fatalf("image-apiserver runs as %q, want %q", out, want)
	}
	data, err := os.ReadFile(st.server.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "forbidden") || strings.Contains(line, "Forbidden") {
			t.Errorf("image-apiserver was refused something:\n%s", line)
		}
	}
}
