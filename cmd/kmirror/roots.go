package main

// The container image holds the binary alone, without a CA bundle: these
// roots (Mozilla's, as Go packages them) trust clusters behind publicly
// signed certificates there. Go uses them only where the system has no
// roots of its own; a cluster's own CA (tls.trustedCertificates) is trusted
// either way.
import _ "golang.org/x/crypto/x509roots/fallback"
