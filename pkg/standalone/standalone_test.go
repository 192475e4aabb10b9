package standalone

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/tools/clientcmd"
)

func TestAuthenticator(t *testing.T) {
	authn := Authenticator("secret")
	tests := []struct {
		name     string
		path     string
		header   string
		wantOK   bool
		wantUser string
	}{
		{"admin token", "/apis/image.openshift.io/v1/images", "Bearer secret", true, AdminUser},
		{"wrong token", "/apis/image.openshift.io/v1/images", "Bearer nope", false, ""},
		{"anonymous API request is not authenticated (401)", "/apis/image.openshift.io/v1/images", "", false, ""},
		{"anonymous readyz", "/readyz", "", true, user.Anonymous},
		{"anonymous livez check", "/livez/ping", "", true, user.Anonymous},
		{"anonymous path that only starts like a health path", "/readyzx", "", false, ""},
		{"anonymous metrics", "/metrics", "", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "https://127.0.0.1"+tc.path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, ok, _ := authn.AuthenticateRequest(req)
			if ok != tc.wantOK {
				t.Fatalf("authenticated = %v, want %v", ok, tc.wantOK)
			}
			if ok && resp.User.GetName() != tc.wantUser {
				t.Errorf("user %q, want %q", resp.User.GetName(), tc.wantUser)
			}
		})
	}
}

func TestAuthorizer(t *testing.T) {
	authz, err := Authorizer()
	if err != nil {
		t.Fatal(err)
	}
	admin := &user.DefaultInfo{Name: AdminUser, Groups: []string{user.SystemPrivilegedGroup}}
	anonymous := &user.DefaultInfo{Name: user.Anonymous, Groups: []string{user.AllUnauthenticated}}
	tests := []struct {
		name  string
		attrs authorizer.AttributesRecord
		want  authorizer.Decision
	}{
		{"admin writes images", authorizer.AttributesRecord{User: admin, Verb: "create", Resource: "images", ResourceRequest: true}, authorizer.DecisionAllow},
		{"anonymous reads readyz", authorizer.AttributesRecord{User: anonymous, Verb: "get", Path: "/readyz"}, authorizer.DecisionAllow},
		{"anonymous cannot write images", authorizer.AttributesRecord{User: anonymous, Verb: "create", Resource: "images", ResourceRequest: true}, authorizer.DecisionNoOpinion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, _, _ := authz.Authorize(context.Background(), tc.attrs); got != tc.want {
				t.Errorf("decision %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTokenAndKubeconfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sub", "admin-token")
	first, err := LoadOrCreateToken(file)
	if err != nil || len(first) != 64 {
		t.Fatalf("token %q, %v", first, err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", err, fi)
	}
	again, err := LoadOrCreateToken(file)
	if err != nil || again != first {
		t.Errorf("restart changed the token: %q -> %q (%v)", first, again, err)
	}
	if err := os.WriteFile(file, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateToken(file); err == nil {
		t.Error("an empty token file was accepted")
	}

	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("not checked here"), 0o600); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := WriteKubeconfig(kubeconfig, "https://127.0.0.1:8443", ca, first); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if cfg.Clusters[ctx.Cluster].Server != "https://127.0.0.1:8443" || cfg.AuthInfos[ctx.AuthInfo].Token != first {
		t.Errorf("kubeconfig %+v", cfg)
	}
	if fi, _ := os.Stat(kubeconfig); fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v", fi.Mode().Perm())
	}
}
