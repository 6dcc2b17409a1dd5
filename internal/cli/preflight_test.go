package cli

import (
	"context"
	"testing"

	"github.com/kmirror/kmirror/internal/testbed"
)

func TestPreflightKafkaUserSeed(t *testing.T) {
	secrets, _ := testbed.SeedSecrets(t)
	code, out, errOut := execute(t, context.Background(), "preflight", "-c", "../config/testdata/seed-kmm2.yaml", "--secrets-dir", secrets, "--kafkauser",
		"--quota-consumer-byte-rate", "52428800", "--quota-producer-byte-rate", "52428800", "--quota-request-percentage", "50")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "preflight-kafkauser-seed", out)
}
