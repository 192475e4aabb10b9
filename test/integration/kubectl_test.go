package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/image-apiserver/image-apiserver/test/integration/framework"
)

// kubectl runs the real kubectl built from k8s.io/kubernetes v1.37.2 against s.
func kubectl(t *testing.T, s *framework.Server, stdin string, args ...string) (string, error) {
	t.Helper()
	bin, err := framework.RealBinary("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(testContext(t), bin, append([]string{"--kubeconfig", s.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no discovery cache from other tests
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestKubectl creates from a file, gets with server-side tables, explains from our OpenAPI and
// validates strictly, as a user does.
func TestKubectl(t *testing.T) {
	s := framework.StartServer(t, framework.Options{})
	manifest := filepath.Join(t.TempDir(), "is.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: image.openshift.io/v1
kind: ImageStream
metadata:
  name: ruby
  namespace: kubectl
spec:
  tags:
  - name: "2.7"
    from: {kind: DockerImage, name: quay.io/example/ruby:2.7}
    reference: true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		args    []string
		stdin   string
		wantErr bool
		want    []string
	}{
		{args: []string{"create", "-f", manifest}, want: []string{"imagestream.image.openshift.io/ruby created"}},
		{args: []string{"get", "is", "-n", "kubectl"}, want: []string{"NAME", "IMAGE REPOSITORY", "TAGS", "UPDATED", "ruby", "registry.test:5000/kubectl/ruby", "2.7"}},
		{args: []string{"get", "imagestreams", "-A", "-o", "wide"}, want: []string{"NAMESPACE", "kubectl", "ruby"}},
		{args: []string{"get", "all", "-n", "kubectl"}, want: []string{"ruby", "registry.test:5000/kubectl/ruby"}}, // category "all"
		{args: []string{"get", "is", "ruby", "-n", "kubectl", "-o", "jsonpath={.status.tags[0].items[0].dockerImageReference}"}, want: []string{"quay.io/example/ruby:2.7"}},
		{args: []string{"explain", "imagestream.spec.tags"}, want: []string{"KIND:", "ImageStream", "FIELD: tags", "referencePolicy"}},
		{args: []string{"explain", "images.dockerImageLayers"}, want: []string{"dockerImageLayers"}},
		{args: []string{"create", "--validate=strict", "-f", "-"}, stdin: "apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata: {name: bad, namespace: kubectl}\nspec: {bogus: 1}\n", wantErr: true, want: []string{"bogus"}},
		{args: []string{"create", "-f", "-"}, stdin: "apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata: {name: " + strings.Repeat("x", 64) + ", namespace: kubectl}\n", wantErr: true, want: []string{"metadata.name", "may not be more than 63"}},
		{args: []string{"delete", "is", "ruby", "-n", "kubectl"}, want: []string{"deleted"}},
	}
	for _, st := range steps {
		out, err := kubectl(t, s, st.stdin, st.args...)
		if (err != nil) != st.wantErr {
			t.Errorf("kubectl %s: err %v, want error %v\n%s", strings.Join(st.args, " "), err, st.wantErr, out)
			continue
		}
		for _, w := range st.want {
			if !strings.Contains(out, w) {
				t.Errorf("kubectl %s: output lacks %q:\n%s", strings.Join(st.args, " "), w, out)
			}
		}
	}
}
