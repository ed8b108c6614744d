package cli

import (
	"regexp"
	"testing"
)

// TestRotateSAMLKey: each rotation prints a new certificate.
func TestRotateSAMLKey(t *testing.T) {
	t.Setenv("DATA_DIR", t.TempDir())
	fingerprint := regexp.MustCompile(`SHA-256 ([0-9A-F]{64})`)
	var seen []string
	for range 2 {
		out, err := run(t, "", "sso", "rotate-saml-key")
		if err != nil {
			t.Fatal(err)
		}
		m := fingerprint.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no certificate fingerprint in %q", out)
		}
		seen = append(seen, m[1])
	}
	if seen[0] == seen[1] {
		t.Fatal("the second rotation printed the same certificate")
	}
}
