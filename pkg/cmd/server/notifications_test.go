package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	certutil "k8s.io/client-go/util/cert"
)

func TestNotificationOptions(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	token := write("token", "  s3cret\n")
	empty := write("empty", "\n")

	off, err := (&NotificationOptions{}).config(nil)
	if off != nil || err != nil {
		t.Errorf("no token file: %+v, %v", off, err)
	}
	on, err := (&NotificationOptions{TokenFile: token, RegistryHost: "registry.example.com:5000"}).config(nil)
	if err != nil || on == nil || string(on.Token) != "s3cret" || on.RegistryHost != "registry.example.com:5000" || on.Fetcher == nil {
		t.Errorf("token file: %+v, %v", on, err)
	}
	for _, file := range []string{empty, filepath.Join(dir, "missing")} {
		if _, err := (&NotificationOptions{TokenFile: file}).config(nil); err == nil || !strings.Contains(err.Error(), "--registry-notifications-token-file") {
			t.Errorf("%s: %v", file, err)
		}
	}

	// A client CA alone turns the endpoint on; the file must hold certificates.
	caPEM, _, err := certutil.GenerateSelfSignedCertKey("registry-clients", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca := write("ca.crt", string(caPEM))
	withCA, err := (&NotificationOptions{ClientCAFile: ca, AllowedNames: []string{"registry"}}).config(nil)
	if err != nil || withCA == nil || withCA.ClientCA == nil || len(withCA.Token) != 0 || len(withCA.AllowedNames) != 1 {
		t.Errorf("client CA file: %+v, %v", withCA, err)
	}
	for _, file := range []string{empty, token, filepath.Join(dir, "missing")} {
		if _, err := (&NotificationOptions{ClientCAFile: file}).config(nil); err == nil || !strings.Contains(err.Error(), "--registry-notifications-client-ca-file") {
			t.Errorf("client CA %s: %v", file, err)
		}
	}

	for _, tt := range []struct {
		opts NotificationOptions
		want string
	}{
		{opts: NotificationOptions{ClientCAFile: ca, RegistryHost: "registry.example.com", AllowedNames: []string{"registry"}}},
		{opts: NotificationOptions{TokenFile: token, AllowedNames: []string{"registry"}}, want: "--registry-notifications-allowed-names needs --registry-notifications-client-ca-file"},
		{opts: NotificationOptions{}},
		{opts: NotificationOptions{TokenFile: token, RegistryHost: "registry.example.com"}},
		{opts: NotificationOptions{RegistryHost: "registry.example.com"}, want: "needs --registry-notifications-token-file"},
		{opts: NotificationOptions{TokenFile: token, RegistryHost: "https://registry"}, want: "without a scheme"},
	} {
		errs := tt.opts.Validate()
		if (len(errs) == 0) != (tt.want == "") || (tt.want != "" && !strings.Contains(errs[0].Error(), tt.want)) {
			t.Errorf("%+v: %v", tt.opts, errs)
		}
	}
}
