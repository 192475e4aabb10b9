package migratestorage

import (
	"bytes"
	"strings"
	"testing"
)

// TestFlags checks the flag errors the command reports before it connects to anything; every
// case points the source at an address where nothing listens, so a case that got past the
// flags would fail differently.
func TestFlags(t *testing.T) {
	const src = "--from-etcd-servers=http://127.0.0.1:1"
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "layouts are required", args: []string{src}, wantErr: `required flag(s) "from-layout", "to-layout" not set`},
		{name: "the source is required", args: []string{"--from-layout=openshift", "--to-layout=default"}, wantErr: `required flag(s) "from-etcd-servers" not set`},
		{name: "an unknown layout", args: []string{src, "--from-layout=openshift", "--to-layout=registry"}, wantErr: `unknown storage layout "registry": must be default or openshift`},
		{name: "a certificate without its key", args: []string{src, "--from-layout=openshift", "--to-layout=default", "--from-etcd-certfile=c.crt"}, wantErr: "--from-etcd-certfile and --from-etcd-keyfile go together"},
		{name: "destination TLS files without servers", args: []string{src, "--from-layout=openshift", "--to-layout=default", "--to-etcd-cafile=ca.crt"}, wantErr: "need --to-etcd-servers"},
		{name: "a URL without a scheme", args: []string{"--from-etcd-servers=127.0.0.1:2379", "--from-layout=openshift", "--to-layout=default"}, wantErr: `"127.0.0.1:2379" is not an http://, https:// or unix:// URL`},
		{name: "a zero page size", args: []string{src, "--from-layout=openshift", "--to-layout=default", "--page-size=0"}, wantErr: "must be positive"},
		{name: "a negative transaction bound", args: []string{src, "--from-layout=openshift", "--to-layout=default", "--txn-max-ops=-1"}, wantErr: "must be positive"},
		{name: "arguments", args: []string{src, "--from-layout=openshift", "--to-layout=default", "extra"}, wantErr: `unknown command "extra"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := NewCommand()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(tc.args)
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one about %q", err, tc.wantErr)
			}
		})
	}
}
