package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/kmirror/kmirror/internal/config"
)

// Hooks are given to every client Options makes. Only the benchmark's
// profiling build (bench/kmirrorprof) sets them, to count requests.
var Hooks []kgo.Hook

// Options are the franz-go options that reach and authenticate to c. A nil
// logger keeps franz-go quiet.
func Options(c *config.Cluster, logger *slog.Logger) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Bootstrap...), kgo.ClientID(c.ClientID),
		// New topics and partitions must start copying within seconds:
		// franz-go's default 5s between metadata refreshes would add up
		// with the discovery interval.
		kgo.MetadataMinAge(time.Second),
	}
	if len(Hooks) > 0 {
		opts = append(opts, kgo.WithHooks(Hooks...))
	}
	if logger != nil {
		opts = append(opts, kgo.WithLogger(clientLogger{kslog.New(logger.With("cluster", c.Alias))}))
	}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(TLSConfig(c.TLS)))
	}
	if c.SASL != nil {
		opts = append(opts, kgo.SASL(mechanism(c.SASL)))
	}
	if c.Rack != "" {
		opts = append(opts, kgo.Rack(c.Rack))
	}
	if c.ConnIdleTimeout > 0 {
		opts = append(opts, kgo.ConnIdleTimeout(c.ConnIdleTimeout))
	}
	if c.DialTimeout > 0 {
		opts = append(opts, kgo.DialTimeout(c.DialTimeout))
	}
	if c.MetadataMaxAge > 0 {
		opts = append(opts, kgo.MetadataMaxAge(c.MetadataMaxAge))
	}
	return opts
}

func mechanism(s *config.SASL) sasl.Mechanism {
	switch s.Mechanism {
	case config.MechanismOAuthBearer:
		return oauthMechanism(s.OAuth)
	case config.MechanismPlain:
		return plain.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsMechanism()
	case config.MechanismSCRAMSHA256:
		return scram.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsSha256Mechanism()
	}
	return scram.Auth{User: s.Username, Pass: s.Password.Reveal()}.AsSha512Mechanism()
}

// TLSConfig builds the client TLS configuration.
func TLSConfig(t *config.TLS) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: t.RootCAs, ServerName: t.ServerName}
	if t.Certificate != nil {
		cfg.Certificates = []tls.Certificate{*t.Certificate}
	}
	if t.SkipHostnameVerification {
		// Java's ssl.endpoint.identification.algorithm= (empty) keeps
		// verifying the chain and skips only the name: do the same.
		roots := t.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return cfg
}

// clientLogger passes franz-go's logs to kmirror's logger one level down
// for its info messages: franz-go logs every partition assignment and
// metadata refresh at info, which is detail for --log-level debug; its
// warnings and errors (a broker unreachable, a request refused) show at
// the level kmirror's logger has.
type clientLogger struct{ kgo.Logger }

func (l clientLogger) Level() kgo.LogLevel {
	if lv := l.Logger.Level(); lv != kgo.LogLevelInfo {
		return lv
	}
	return kgo.LogLevelWarn
}

func (l clientLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	if level == kgo.LogLevelInfo {
		level = kgo.LogLevelDebug
	}
	l.Logger.Log(level, msg, keyvals...)
}
