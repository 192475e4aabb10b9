//go:build e2e

package e2e

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// TestNotificationsClientCertificate: aggregated, the server asks for client certificates of
// the registry notifications CA beside kube-apiserver's CAs. A registry's certificate of that
// CA is accepted by the endpoint and by nothing else; the cluster's own certificates (a
// system:masters user's, the aggregator's) are no notification credential.
func TestNotificationsClientCertificate(t *testing.T) {
	post := func(cert *certKey, header map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, st.serverURL+"/notifications/distribution", bytes.NewReader([]byte(`{"events":[]}`)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v2+json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := st.directClient(cert).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := post(st.pki.registryClient, nil); code != http.StatusOK {
		t.Errorf("the registry's certificate: %d %s", code, body)
	}
	for name, tc := range map[string]struct {
		cert   *certKey
		header map[string]string
	}{
		"no certificate":                 {},
		"a system:masters certificate":   {cert: st.pki.admin},
		"the aggregator's certificate":   {cert: st.pki.frontProxyClient, header: asUser("e2e-admin", "system:masters")},
		"a certificate of an unknown CA": {cert: st.pki.rogueFrontProxy},
	} {
		if code, body := post(tc.cert, tc.header); code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	if code, body := direct(t, st.pki.registryClient, http.MethodGet, "/apis/image.openshift.io/v1/namespaces/default/imagestreams", nil); code != http.StatusUnauthorized {
		t.Errorf("the API with the registry's certificate: %d %s", code, body)
	}
}
