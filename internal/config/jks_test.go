package config

import (
	"bytes"
	"crypto/x509"
	"testing"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
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
