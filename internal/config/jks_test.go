package config

import (
	"bytes"
	"crypto/x509"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"

	"github.com/kmirror/kmirror/internal/pki"
)

func jksTrustStore(t *testing.T, ca *x509.Certificate, password string) []byte {
	t.Helper()
	ks := keystore.New()
	err := ks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{
		CreationTime: time.Now(),
		Certificate:  keystore.Certificate{Type: "X509", Content: ca.Raw},
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(password)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jksKeyStore(t *testing.T, p *pki.Pair, storePassword, keyPassword string) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(p.Key())
	if err != nil {
		t.Fatal(err)
	}
	ks := keystore.New()
	err = ks.SetPrivateKeyEntry("client", keystore.PrivateKeyEntry{
		CreationTime:     time.Now(),
		PrivateKey:       der,
		CertificateChain: []keystore.Certificate{{Type: "X509", Content: p.Cert.Raw}},
	}, []byte(keyPassword))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(storePassword)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
