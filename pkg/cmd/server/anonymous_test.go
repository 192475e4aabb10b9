package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
)

func TestAnonymousOnlyOn(t *testing.T) {
	anonymous := &authenticator.Response{User: &user.DefaultInfo{Name: user.Anonymous, Groups: []string{user.AllUnauthenticated}}}
	alice := &authenticator.Response{User: &user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}}}
	errInner := errors.New("token review failed")
	paths := []string{"/healthz", "/livez", "readyz", "/debug/ok/*"}
	tests := []struct {
		name     string
		path     string
		resp     *authenticator.Response
		ok       bool
		err      error
		wantUser string
		wantErr  bool
	}{
		{name: "anonymous on an API path is unauthenticated", path: "/apis/image.openshift.io/v1/images", resp: anonymous, ok: true},
		{name: "anonymous on the root is unauthenticated", path: "/", resp: anonymous, ok: true},
		{name: "anonymous on /metrics is unauthenticated", path: "/metrics", resp: anonymous, ok: true},
		{name: "anonymous on a sub-path of an exact path is unauthenticated", path: "/readyz/etcd", resp: anonymous, ok: true},
		{name: "anonymous on /livez", path: "/livez", resp: anonymous, ok: true, wantUser: user.Anonymous},
		{name: "anonymous on /healthz", path: "/healthz", resp: anonymous, ok: true, wantUser: user.Anonymous},
		{name: "path without leading slash in the list", path: "/readyz", resp: anonymous, ok: true, wantUser: user.Anonymous},
		{name: "prefix path", path: "/debug/ok/deep", resp: anonymous, ok: true, wantUser: user.Anonymous},
		{name: "authenticated user anywhere", path: "/apis", resp: alice, ok: true, wantUser: "alice"},
		{name: "inner error passes through", path: "/apis", err: errInner, wantErr: true},
		{name: "inner not ok passes through", path: "/livez"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inner := authenticator.RequestFunc(func(*http.Request) (*authenticator.Response, bool, error) {
				return tc.resp, tc.ok, tc.err
			})
			resp, ok, err := anonymousOnlyOn(inner, paths).AuthenticateRequest(httptest.NewRequest(http.MethodGet, tc.path, nil))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got := ok && resp != nil; got != (tc.wantUser != "") {
				t.Fatalf("authenticated = %v, want %v", got, tc.wantUser != "")
			}
			if tc.wantUser != "" && resp.User.GetName() != tc.wantUser {
				t.Errorf("user = %q, want %q", resp.User.GetName(), tc.wantUser)
			}
		})
	}
}
