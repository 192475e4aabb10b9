//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certKey is a certificate with its key, in memory and as PEM.
type certKey struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
	// certFile and keyFile are set once written.
	certFile, keyFile string
}

// pki is every certificate and key of the test cluster, made with crypto/x509 (the layout of
// a kubeadm cluster, on loopback).
type pki struct {
	kubeCA       *certKey // --client-ca-file: users' client certificates; kube-apiserver's serving certificate
	frontProxyCA *certKey // --requestheader-client-ca-file: only the aggregator's proxy client certificate
	servingCA    *certKey // image-apiserver's serving certificate; the APIService's caBundle
	rogueCA      *certKey // trusted by nobody
	registryCA   *certKey // --registry-notifications-client-ca-file: registries posting notifications

	kubeAPIServer    *certKey
	admin            *certKey // system:masters
	alice            *certKey // no groups, no RBAC until a test binds her
	frontProxyClient *certKey // CN front-proxy-client, what the aggregator presents
	rogueFrontProxy  *certKey // CN front-proxy-client from rogueCA
	serving          *certKey // image-apiserver, SAN api-loopback.image-system.svc
	registryClient   *certKey // CN registry, from registryCA

	saKeyFile, saPubFile string
}

const (
	frontProxyClientName = "front-proxy-client"
	loopbackServiceName  = "api-loopback"
	serverNamespace      = "image-system"
)

func newPKI(dir string) (*pki, error) {
	p := &pki{}
	var err error
	ca := func(cn string) *certKey {
		if err != nil {
			return nil
		}
		var c *certKey
		c, err = newCertKey(&x509.Certificate{
			Subject:               pkix.Name{CommonName: cn},
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		}, nil)
		return c
	}
	leaf := func(issuer *certKey, subject pkix.Name, usage x509.ExtKeyUsage, dns []string, ips ...string) *certKey {
		if err != nil {
			return nil
		}
		tmpl := &x509.Certificate{
			Subject:     subject,
			KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames:    dns,
		}
		for _, ip := range ips {
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
		}
		var c *certKey
		c, err = newCertKey(tmpl, issuer)
		return c
	}
	p.kubeCA = ca("kube-ca")
	p.frontProxyCA = ca("front-proxy-ca")
	p.servingCA = ca("image-apiserver-ca")
	p.rogueCA = ca("rogue-ca")
	p.registryCA = ca("registry-notifications-ca")
	p.kubeAPIServer = leaf(p.kubeCA, pkix.Name{CommonName: "kube-apiserver"}, x509.ExtKeyUsageServerAuth,
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}, "127.0.0.1", "10.0.0.1")
	p.admin = leaf(p.kubeCA, pkix.Name{CommonName: "e2e-admin", Organization: []string{"system:masters"}}, x509.ExtKeyUsageClientAuth, nil)
	p.alice = leaf(p.kubeCA, pkix.Name{CommonName: "alice"}, x509.ExtKeyUsageClientAuth, nil)
	p.frontProxyClient = leaf(p.frontProxyCA, pkix.Name{CommonName: frontProxyClientName}, x509.ExtKeyUsageClientAuth, nil)
	p.rogueFrontProxy = leaf(p.rogueCA, pkix.Name{CommonName: frontProxyClientName}, x509.ExtKeyUsageClientAuth, nil)
	p.registryClient = leaf(p.registryCA, pkix.Name{CommonName: "registry"}, x509.ExtKeyUsageClientAuth, nil)
	// The aggregator verifies the name <service>.<namespace>.svc.
	p.serving = leaf(p.servingCA, pkix.Name{CommonName: "image-apiserver"}, x509.ExtKeyUsageServerAuth,
		[]string{loopbackServiceName + "." + serverNamespace + ".svc", "localhost"}, "127.0.0.1")
	if err != nil {
		return nil, err
	}
	for name, c := range map[string]*certKey{
		"kube-ca": p.kubeCA, "front-proxy-ca": p.frontProxyCA, "serving-ca": p.servingCA,
		"kube-apiserver": p.kubeAPIServer, "admin": p.admin, "alice": p.alice,
		"front-proxy-client": p.frontProxyClient, "serving": p.serving, "registry-ca": p.registryCA,
	} {
		if err := c.write(dir, name); err != nil {
			return nil, err
		}
	}

	// Service account token signing key.
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	p.saKeyFile, p.saPubFile = filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if err := os.WriteFile(p.saKeyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.saPubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

// newCertKey makes a P-256 key and a certificate from tmpl, signed by issuer or self-signed.
func newCertKey(tmpl *x509.Certificate, issuer *certKey) (*certKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	parent, signer := tmpl, key
	if issuer != nil {
		parent, signer = issuer.cert, issuer.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &certKey{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

func (c *certKey) write(dir, name string) error {
	c.certFile, c.keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(c.certFile, c.certPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(c.keyFile, c.keyPEM, 0o600)
}

// tlsCert returns the pair as a TLS client certificate.
func (c *certKey) tlsCert() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.cert.Raw}, PrivateKey: c.key, Leaf: c.cert}
}

// pool returns a pool holding this (CA) certificate.
func (c *certKey) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}
