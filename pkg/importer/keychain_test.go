package importer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
)

func resolve(t *testing.T, kc authn.Keychain, repo string) authn.AuthConfig {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := kc.Resolve(r)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := auth.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return *cfg
}

func TestKeychainFromSecrets(t *testing.T) {
	broken := corev1.Secret{
		Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte("{not json")},
	}
	dockercfg := corev1.Secret{
		Type: corev1.SecretTypeDockercfg,
		Data: map[string][]byte{corev1.DockerConfigKey: []byte(`{"legacy.example.com":{"username":"old","password":"pw"}}`)},
	}
	kc := keychainFor(t, broken, pullSecret("quay.io", "q", "qp"), pullSecret("quay.io/team", "t", "tp"), dockercfg)
	for repo, want := range map[string]string{
		"quay.io/other/app":       "q",
		"quay.io/team/app":        "t", // the most specific entry
		"legacy.example.com/a/b":  "old",
		"registry.example.com/ns": "",
	} {
		if got := resolve(t, kc, repo).Username; got != want {
			t.Errorf("%s: user %q, want %q", repo, got, want)
		}
	}
}

func TestKeychainFromDockerConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	secret := pullSecret("https://index.docker.io/v1/", "hub", "hp")
	if err := os.WriteFile(path, secret.Data[corev1.DockerConfigJsonKey], 0o600); err != nil {
		t.Fatal(err)
	}
	kc, err := KeychainFromDockerConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := resolve(t, kc, "redis").Username; got != "hub" {
		t.Errorf("Docker Hub user %q", got)
	}
	if _, err := KeychainFromDockerConfigFile(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("a missing file was accepted")
	}
	if err := os.WriteFile(path, []byte("{oops"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := KeychainFromDockerConfigFile(path); err == nil {
		t.Error("a broken file was accepted")
	}
}
