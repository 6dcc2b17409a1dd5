package config

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// Store types, as ssl.truststore.type and ssl.keystore.type name them.
const (
	storeJKS    = "JKS"
	storePKCS12 = "PKCS12"
	storePEM    = "PEM"
)

var jksMagic = []byte{0xFE, 0xED, 0xFE, 0xED}

// storeType returns the declared type, or sniffs it from the content when
// none was declared.
func storeType(declared string, data []byte) (string, error) {
	switch t := strings.ToUpper(strings.TrimSpace(declared)); t {
	case storeJKS, storePKCS12, storePEM:
		return t, nil
	case "":
	default:
		return "", fmt.Errorf("store type %q is not JKS, PKCS12 or PEM", declared)
	}
	switch {
	case bytes.Contains(data, []byte("-----BEGIN")):
		return storePEM, nil
	case bytes.HasPrefix(data, jksMagic):
		return storeJKS, nil
	}
	return storePKCS12, nil
}

// parseCertificates reads every CERTIFICATE block of PEM data.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return certs, nil
}

// trustStore reads the certificates of a JKS, PKCS12 or PEM trust store.
func trustStore(data []byte, declared string, password Secret) ([]*x509.Certificate, error) {
	typ, err := storeType(declared, data)
	if err != nil {
		return nil, err
	}
	switch typ {
	case storePEM:
		return parseCertificates(data)
	case storePKCS12:
		certs, err := pkcs12.DecodeTrustStore(data, password.Reveal())
		if err != nil {
			return nil, fmt.Errorf("read PKCS12 trust store: %w", err)
		}
		if len(certs) == 0 {
			return nil, errors.New("the PKCS12 trust store holds no certificate")
		}
		return certs, nil
	}
	ks, err := loadJKS(data, password)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for _, alias := range ks.Aliases() {
		var raw []keystore.Certificate
		if ks.IsTrustedCertificateEntry(alias) {
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				return nil, fmt.Errorf("read JKS entry %q: %w", alias, err)
			}
			raw = append(raw, e.Certificate)
		} else if chain, err := ks.GetPrivateKeyEntryCertificateChain(alias); err == nil {
			raw = append(raw, chain...)
		}
		for _, r := range raw {
			c, err := x509.ParseCertificate(r.Content)
			if err != nil {
				return nil, fmt.Errorf("parse JKS certificate %q: %w", alias, err)
			}
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return nil, errors.New("the JKS trust store holds no certificate")
	}
	return certs, nil
}

func loadJKS(data []byte, password Secret) (keystore.KeyStore, error) {
	ks := keystore.New(keystore.WithMinPasswordLen(0), keystore.WithOrderedAliases())
	if err := ks.Load(bytes.NewReader(data), []byte(password.Reveal())); err != nil {
		return ks, fmt.Errorf("read JKS store (wrong password?): %w", err)
	}
	return ks, nil
}

// keyStore reads the first private key and its chain from a JKS, PKCS12 or
// PEM key store. keyPassword protects the key inside a JKS store; when empty
// the store password is used, as Java does.
func keyStore(data []byte, declared string, password, keyPassword Secret) (*tls.Certificate, error) {
	typ, err := storeType(declared, data)
	if err != nil {
		return nil, err
	}
	switch typ {
	case storePEM:
		c, err := tls.X509KeyPair(data, data)
		if err != nil {
			return nil, fmt.Errorf("read PEM key store: %w", err)
		}
		return &c, nil
	case storePKCS12:
		key, leaf, chain, err := pkcs12.DecodeChain(data, password.Reveal())
		if err != nil {
			return nil, fmt.Errorf("read PKCS12 key store: %w", err)
		}
		c := &tls.Certificate{PrivateKey: key, Leaf: leaf, Certificate: [][]byte{leaf.Raw}}
		for _, ca := range chain {
			c.Certificate = append(c.Certificate, ca.Raw)
		}
		return c, nil
	}
	ks, err := loadJKS(data, password)
	if err != nil {
		return nil, err
	}
	if keyPassword.IsZero() {
		keyPassword = password
	}
	for _, alias := range ks.Aliases() {
		if !ks.IsPrivateKeyEntry(alias) {
			continue
		}
		e, err := ks.GetPrivateKeyEntry(alias, []byte(keyPassword.Reveal()))
		if err != nil {
			return nil, fmt.Errorf("read JKS key %q (wrong ssl.key.password?): %w", alias, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("parse JKS key %q: %w", alias, err)
		}
		c := &tls.Certificate{PrivateKey: key}
		for _, cc := range e.CertificateChain {
			c.Certificate = append(c.Certificate, cc.Content)
		}
		if len(c.Certificate) == 0 {
			return nil, fmt.Errorf("JKS key %q has no certificate", alias)
		}
		return c, nil
	}
	return nil, errors.New("the JKS key store holds no private key")
}

// keyPair joins a PEM certificate (chain) and a PEM private key.
func keyPair(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate and key do not form a pair: %w", err)
	}
	return &c, nil
}

// newTLS builds TLS settings from trusted certificates (nil: system roots)
// and an optional client certificate.
func newTLS(cas []*x509.Certificate, from []string) *TLS {
	t := &TLS{CAs: from}
	if len(cas) > 0 {
		t.RootCAs = x509.NewCertPool()
		for _, c := range cas {
			t.RootCAs.AddCert(c)
		}
	}
	return t
}
