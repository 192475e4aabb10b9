package server

import (
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	"github.com/spf13/cobra"
)

func TestDefaultDataDir(t *testing.T) {
	tests := []struct {
		name      string
		stateHome string
		home      string
		want      string
	}{
		{name: "XDG_STATE_HOME", stateHome: "/state", home: "/home/u", want: "/state/image-apiserver"},
		{name: "HOME without XDG_STATE_HOME", home: "/home/u", want: "/home/u/.local/state/image-apiserver"},
		{name: "a relative XDG_STATE_HOME is ignored", stateHome: "state", home: "/home/u", want: "/home/u/.local/state/image-apiserver"},
		{name: "no absolute directory: none, never the working directory", stateHome: "state", home: "", want: ""},
		{name: "a relative HOME is not used either", home: "home", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XDG_STATE_HOME", tc.stateHome)
			t.Setenv("HOME", tc.home)
			if got := defaultDataDir(); got != tc.want {
				t.Errorf("defaultDataDir() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDefaultsWriteNothingInWorkingDirectory builds the configuration from flags as a user
// would start the server, in an empty working directory, and checks that no state lands there
// and that generated certificates land only where the flags say.
func TestDefaultsWriteNothingInWorkingDirectory(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	// A kube-apiserver that is never reached: the aggregated configuration only builds clients.
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Nothing listens there; the configuration does not need etcd.
	const etcd = "--etcd-servers=http://127.0.0.1:1"
	aggregated := []string{etcd, "--kubeconfig=" + kubeconfig, "--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig, "--authentication-skip-lookup"}
	tests := []struct {
		name string
		args func(home, elsewhere string) []string
		// wantCertIn is where the generated certificate must be, relative to $HOME
		// ("home:") or to another directory ("elsewhere:"); "" means in memory.
		wantCertIn string
	}{
		{
			name:       "standalone keeps its certificate under the default data directory",
			args:       func(_, _ string) []string { return []string{"--standalone", etcd} },
			wantCertIn: "home:.local/state/image-apiserver/certs",
		},
		{
			name:       "standalone with --data-dir",
			args:       func(_, elsewhere string) []string { return []string{"--standalone", etcd, "--data-dir=" + elsewhere} },
			wantCertIn: "elsewhere:certs",
		},
		{
			name:       "standalone with --cert-dir",
			args:       func(_, elsewhere string) []string { return []string{"--standalone", etcd, "--cert-dir=" + elsewhere} },
			wantCertIn: "elsewhere:",
		},
		{
			name: "aggregated keeps a generated certificate in memory",
			args: func(_, _ string) []string { return aggregated },
		},
		{
			name:       "aggregated with --cert-dir",
			args:       func(_, elsewhere string) []string { return append([]string{"--cert-dir=" + elsewhere}, aggregated...) },
			wantCertIn: "elsewhere:",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cwd, home, elsewhere := t.TempDir(), t.TempDir(), t.TempDir()
			t.Chdir(cwd)
			t.Setenv("HOME", home)
			t.Setenv("XDG_STATE_HOME", "")

			o := completedOptions(t, tc.args(home, elsewhere))
			if _, err := o.Config("admin-token"); err != nil {
				t.Fatalf("Config: %v", err)
			}

			if entries, _ := os.ReadDir(cwd); len(entries) != 0 {
				t.Errorf("the working directory holds %v, want nothing", names(entries))
			}
			ss := o.Recommended.SecureServing.ServerCert
			if tc.wantCertIn == "" {
				if ss.CertKey.CertFile != "" || ss.GeneratedCert == nil {
					t.Errorf("certificate file %q, in memory %v; want it in memory only", ss.CertKey.CertFile, ss.GeneratedCert != nil)
				}
				if entries, _ := os.ReadDir(home); len(entries) != 0 {
					t.Errorf("$HOME holds %v, want nothing", names(entries))
				}
				return
			}
			root, rel, _ := strings.Cut(tc.wantCertIn, ":")
			dir := filepath.Join(map[string]string{"home": home, "elsewhere": elsewhere}[root], rel)
			for _, file := range []string{"image-apiserver.crt", "image-apiserver.key"} {
				fi, err := os.Stat(filepath.Join(dir, file))
				if err != nil {
					t.Errorf("generated %s: %v", file, err)
					continue
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %v, want 0600", file, fi.Mode().Perm())
				}
			}
			if ss.CertKey.CertFile != filepath.Join(dir, "image-apiserver.crt") {
				t.Errorf("serving certificate %q, want it in %s", ss.CertKey.CertFile, dir)
			}
			if rel != "" {
				if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
					t.Errorf("certificate directory %s: %v, want mode 0700", dir, err)
				}
			}
		})
	}
}

// TestRestartReusesCertificate checks that a standalone server's second start serves the
// certificate of its first, which admin kubeconfigs trust.
func TestRestartReusesCertificate(t *testing.T) {
	dataDir := t.TempDir()
	args := []string{"--standalone", "--etcd-servers=http://127.0.0.1:1", "--data-dir=" + dataDir}
	first := completedOptions(t, args)
	if _, err := first.Config("token"); err != nil {
		t.Fatal(err)
	}
	cert := first.Recommended.SecureServing.ServerCert.CertKey.CertFile
	before, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	second := completedOptions(t, args)
	if _, err := second.Config("token"); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(second.Recommended.SecureServing.ServerCert.CertKey.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("the second start generated a new certificate")
	}
}

func TestValidateRegistryHostname(t *testing.T) {
	tests := []struct {
		value string
		// wantRule is a fragment of the error naming the rule broken; "" means valid.
		wantRule string
	}{
		{value: ""},
		{value: "registry.example.com"},
		{value: "registry.example.com:5000"},
		{value: "localhost"},
		{value: "image-registry.openshift-image-registry.svc:5000"},
		{value: "172.30.1.1:5000"},
		{value: "172.30.1.1"},
		{value: "[fd00::1]:5000"},
		{value: "[::1]"},
		{value: "r:1"},
		{value: "r:65535"},
		{value: "a_b", wantRule: "RFC 1123 subdomain"},
		{value: "-x", wantRule: "RFC 1123 subdomain"},
		{value: "x-", wantRule: "RFC 1123 subdomain"},
		{value: "Registry.example.com", wantRule: "RFC 1123 subdomain"},
		{value: "registry.example.com/path", wantRule: "RFC 1123 subdomain"},
		{value: "user@registry", wantRule: "RFC 1123 subdomain"},
		{value: "https://registry", wantRule: "without a scheme"},
		{value: "reg istry", wantRule: "RFC 1123 subdomain"},
		{value: strings.Repeat("a", 254), wantRule: "no more than 253"},
		{value: ":5000", wantRule: "RFC 1123 subdomain"},
		{value: "registry:", wantRule: "port after"},
		{value: "registry:0", wantRule: "between 1 and 65535"},
		{value: "registry:65536", wantRule: "between 1 and 65535"},
		{value: "registry:http", wantRule: "must be a number"},
		{value: "registry:-1", wantRule: "between 1 and 65535"},
		{value: "a_b:99999", wantRule: "RFC 1123 subdomain"},
		{value: "fd00::1", wantRule: "in brackets"},
		{value: "[fd00::1", wantRule: "closing bracket"},
		{value: "[fd00::1]5000", wantRule: "host or host:port"},
		{value: "[fd00::1]:", wantRule: "port after"},
		{value: "[fd00::1]:0", wantRule: "between 1 and 65535"},
		{value: "a:b:c", wantRule: "in brackets"},
		{value: "[registry]:5000", wantRule: "only an IPv6 address"},
		{value: "[10.0.0.1]", wantRule: "only an IPv6 address"},
	}
	for _, flag := range []string{"--registry-hostname", "--public-registry-hostname"} {
		for _, tc := range tests {
			t.Run(flag+"="+tc.value, func(t *testing.T) {
				errs := validateRegistryHostname(flag, tc.value)
				if tc.wantRule == "" {
					if len(errs) != 0 {
						t.Fatalf("got %v, want valid", errs)
					}
					return
				}
				if len(errs) == 0 {
					t.Fatalf("accepted, want an error about %q", tc.wantRule)
				}
				all := ""
				for _, err := range errs {
					all += err.Error() + "\n"
					if !strings.HasPrefix(err.Error(), flag+"=") {
						t.Errorf("error %q does not name the flag", err)
					}
				}
				if !strings.Contains(all, tc.wantRule) {
					t.Errorf("errors %q do not state the rule %q", all, tc.wantRule)
				}
			})
		}
	}
	// Both flags go through Validate.
	o := completedOptions(t, []string{"--standalone", "--data-dir=" + t.TempDir(), "--registry-hostname=a_b", "--public-registry-hostname=-x"})
	err := o.Validate()
	if err == nil || !strings.Contains(err.Error(), "--registry-hostname=") || !strings.Contains(err.Error(), "--public-registry-hostname=") {
		t.Errorf("Validate() = %v, want errors for both flags", err)
	}
}

// TestStorageLayout checks the keys the server's storage uses under each --storage-layout,
// with and without --etcd-prefix, as the Stores and the stream writer get them from the
// configuration's RESTOptionsGetter.
func TestStorageLayout(t *testing.T) {
	tests := []struct {
		name             string
		args             []string
		wantImages       string
		wantImageStreams string
	}{
		{name: "default", wantImages: "/registry/image.openshift.io/images/", wantImageStreams: "/registry/image.openshift.io/imagestreams/"},
		{name: "default, named", args: []string{"--storage-layout=default"}, wantImages: "/registry/image.openshift.io/images/", wantImageStreams: "/registry/image.openshift.io/imagestreams/"},
		{name: "default with --etcd-prefix", args: []string{"--etcd-prefix=/tenant-a"}, wantImages: "/tenant-a/image.openshift.io/images/", wantImageStreams: "/tenant-a/image.openshift.io/imagestreams/"},
		{name: "openshift", args: []string{"--storage-layout=openshift"}, wantImages: "/openshift.io/images/", wantImageStreams: "/openshift.io/imagestreams/"},
		{name: "openshift with another storagePrefix", args: []string{"--storage-layout=openshift", "--etcd-prefix=kubernetes.io"}, wantImages: "/kubernetes.io/images/", wantImageStreams: "/kubernetes.io/imagestreams/"},
		{name: "openshift with --etcd-prefix=/registry given explicitly", args: []string{"--etcd-prefix=/registry", "--storage-layout=openshift"}, wantImages: "/registry/images/", wantImageStreams: "/registry/imagestreams/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--standalone", "--etcd-servers=http://127.0.0.1:1", "--data-dir=" + t.TempDir()}, tc.args...)
			o := completedOptions(t, args)
			cfg, err := o.Config("token")
			if err != nil {
				t.Fatal(err)
			}
			for resource, want := range map[string]string{"images": tc.wantImages, "imagestreams": tc.wantImageStreams} {
				gr := imagev1.Resource(resource)
				opts, err := cfg.GenericConfig.RESTOptionsGetter.GetRESTOptions(gr, nil)
				if err != nil {
					t.Fatal(err)
				}
				// The etcd3 store's key: the storage prefix, then the resource prefix.
				if got := path.Join("/", opts.StorageConfig.Prefix, opts.ResourcePrefix) + "/"; got != want {
					t.Errorf("%s are kept under %s, want %s", resource, got, want)
				}
				if got := o.StorageLayout.Root(opts.StorageConfig.Prefix, gr); got != want {
					t.Errorf("the layout names %s for %s, want %s", got, resource, want)
				}
			}
		})
	}
	o, err := NewOptions()
	if err != nil {
		t.Fatal(err)
	}
	cmd := &cobra.Command{}
	for _, set := range o.Flags().FlagSets {
		cmd.Flags().AddFlagSet(set)
	}
	err = cmd.ParseFlags([]string{"--storage-layout=kubernetes"})
	if err == nil || !strings.Contains(err.Error(), "storage-layout") || !strings.Contains(err.Error(), "default or openshift") {
		t.Errorf("--storage-layout=kubernetes: %v, want an error naming the flag and its values", err)
	}
}

// completedOptions parses args like the command does and completes the options.
func completedOptions(t *testing.T, args []string) *Options {
	t.Helper()
	o, err := NewOptions()
	if err != nil {
		t.Fatal(err)
	}
	cmd := &cobra.Command{}
	fs := cmd.Flags()
	for _, set := range o.Flags().FlagSets {
		fs.AddFlagSet(set)
	}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	// Building the configuration binds the serving port unless it is bound already, as Run
	// does first: bind a free loopback port for it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	o.Recommended.SecureServing.Listener = l
	if err := o.Components.Set(); err != nil {
		t.Fatal(err)
	}
	if err := o.Complete(fs.Changed("bind-address"), fs.Changed("cert-dir")); err != nil {
		t.Fatal(err)
	}
	o.CompleteStorageLayout(fs.Changed("etcd-prefix"))
	return o
}

func names(entries []os.DirEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestImportRegistryRateFlags: the pace of imports per registry host is a positive rate and
// burst; OpenShift's values are the defaults.
func TestImportRegistryRateFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{args: nil},
		{args: []string{"--import-registry-qps=50", "--import-registry-burst=100"}},
		{args: []string{"--import-registry-qps=0"}, want: "--import-registry-qps=0"},
		{args: []string{"--import-registry-burst=0"}, want: "--import-registry-burst=0"},
	} {
		o := completedOptions(t, append([]string{"--standalone", "--data-dir=" + t.TempDir()}, tc.args...))
		// Validate also applies the logging flags, which a process may do once: only the
		// errors about these flags count here.
		msg := ""
		if err := o.Validate(); err != nil {
			msg = err.Error()
		}
		if strings.Contains(msg, "--import-registry-") != (tc.want != "") || !strings.Contains(msg, tc.want) {
			t.Errorf("%v: %q", tc.args, msg)
		}
	}
	if o, _ := NewOptions(); o.ImportRegistryQPS != 2 || o.ImportRegistryBurst != 3 {
		t.Errorf("defaults %g/%d, want OpenShift's 2/3", o.ImportRegistryQPS, o.ImportRegistryBurst)
	}
}
