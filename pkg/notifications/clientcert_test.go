package notifications

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"
)

// testCA signs certificates for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// sign returns a certificate for cn with the given extended key usages.
func (ca *testCA) sign(t *testing.T, cn string, usages ...x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usages,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestHandlerClientCertificates: with a client CA, a certificate it signed for client
// authentication, with an allowed common name, is accepted without a token; any other
// certificate, or none, is refused, and the token still works beside it.
func TestHandlerClientCertificates(t *testing.T) {
	ca, other := newTestCA(t, "registry clients"), newTestCA(t, "someone else")
	provider, err := dynamiccertificates.NewStaticCAContent("registry-notifications", ca.pem())
	if err != nil {
		t.Fatal(err)
	}
	clientAuth := x509.ExtKeyUsageClientAuth
	tests := []struct {
		name  string
		token string
		chain []*x509.Certificate
		want  int
	}{
		{name: "the CA's certificate with an allowed name", chain: []*x509.Certificate{ca.sign(t, "registry-0", clientAuth)}, want: http.StatusOK},
		{name: "another allowed name", chain: []*x509.Certificate{ca.sign(t, "registry-1", clientAuth)}, want: http.StatusOK},
		{name: "a name not allowed", chain: []*x509.Certificate{ca.sign(t, "intruder", clientAuth)}, want: http.StatusUnauthorized},
		{name: "another CA", chain: []*x509.Certificate{other.sign(t, "registry-0", clientAuth)}, want: http.StatusUnauthorized},
		{name: "a serving certificate", chain: []*x509.Certificate{ca.sign(t, "registry-0", x509.ExtKeyUsageServerAuth)}, want: http.StatusUnauthorized},
		{name: "the CA itself", chain: []*x509.Certificate{ca.cert}, want: http.StatusUnauthorized},
		{name: "no certificate", want: http.StatusUnauthorized},
		{name: "no certificate, the token", token: "s3cret", want: http.StatusOK},
		{name: "a refused certificate, the token", token: "s3cret", chain: []*x509.Certificate{other.sign(t, "x", clientAuth)}, want: http.StatusOK},
	}
	for _, withToken := range []bool{true, false} {
		cfg := Config{Fetcher: &fakeFetcher{}, Recorder: &fakeRecorder{}, ClientCertificates: ClientCertificates(provider, []string{"registry-0", "registry-1"})}
		if withToken {
			cfg.Token = []byte("s3cret")
		}
		h, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			want := tt.want
			if tt.token != "" && !withToken {
				want = http.StatusUnauthorized
			}
			body, _ := json.Marshal(Envelope{Events: []Event{manifestPush(nil)}})
			req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
			req.Header.Set("Content-Type", MediaType)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			req.TLS = &tls.ConnectionState{PeerCertificates: tt.chain}
			rec := serve(h, req)
			if rec.Code != want {
				t.Errorf("token accepted %t, %s: code %d, want %d: %s", withToken, tt.name, rec.Code, want, rec.Body)
			}
			if rec.Code == http.StatusUnauthorized && (rec.Header().Get("WWW-Authenticate") != "") != withToken {
				t.Errorf("token accepted %t, %s: WWW-Authenticate %q", withToken, tt.name, rec.Header().Get("WWW-Authenticate"))
			}
		}
	}
}
