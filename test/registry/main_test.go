package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// servingCert and servingKey are the files of the serving certificate every test server is
// started with (--tls-cert-file, --tls-private-key-file).
var servingCert, servingKey string

// TestMain makes the registry trust the servers it notifies. distribution v3.1.2's
// notification endpoints have no TLS settings (no CA, no way to skip verification): they POST
// with Go's default transport, which verifies with the system roots. As an operator would add
// the server's CA to the registry's trust store, the test process (where the registry runs)
// gets SSL_CERT_FILE naming a certificate made here, which the servers then serve. Go reads
// SSL_CERT_FILE once, on the first verification against the system roots, hence before any test.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "registry-tests")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	servingCert, servingKey = filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key")
	if err := writeSelfSignedCert(servingCert, servingKey); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("SSL_CERT_FILE", servingCert)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writeSelfSignedCert writes a self-signed certificate for 127.0.0.1 and localhost that is
// its own CA, so that the same file serves and is trusted (the server's admin kubeconfig
// trusts the serving certificate file).
func writeSelfSignedCert(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "image-apiserver registry tests"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}
