package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fmtAll(s Secret) string {
	b, _ := json.Marshal(map[string]any{"s": s})
	var sb strings.Builder
	slog.New(slog.NewJSONHandler(&sb, nil)).Info("x", "s", s)
	return fmt.Sprintf("%v %s %q %+v %#v %x", s, s, s, s, s, s) + string(b) + sb.String()
}

func TestSealRoundTripAndBinding(t *testing.T) {
	k1, _ := NewKey()
	s, err := NewSealer(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("smtp_pass", "p@ss")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "p@ss") || !IsSealed(sealed) || SealedKeyID(sealed) != KeyID(k1) {
		t.Fatalf("bad sealed form %q", sealed)
	}
	if got, err := s.Open("smtp_pass", sealed); err != nil || got != "p@ss" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// A ciphertext moved to another key's row does not open.
	if _, err := s.Open("waddleai_api_key", sealed); err == nil {
		t.Fatal("ciphertext opened under another key name")
	}
	// Tampering is detected.
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := s.Open("smtp_pass", tampered); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
	// Another key cannot open it, and the error names the key id, not the value.
	k2, _ := NewKey()
	other, _ := NewSealer(k2)
	_, err = other.Open("smtp_pass", sealed)
	if err == nil || !strings.Contains(err.Error(), KeyID(k1)) {
		t.Fatalf("want unknown key error naming %s, got %v", KeyID(k1), err)
	}
	// After rotation the new sealer seals with k2 and still opens k1 values.
	rotated, _ := NewSealer(k2, k1)
	if got, err := rotated.Open("smtp_pass", sealed); err != nil || got != "p@ss" {
		t.Fatalf("rotated Open = %q, %v", got, err)
	}
	again, _ := rotated.Seal("smtp_pass", "p@ss")
	if SealedKeyID(again) != KeyID(k2) {
		t.Fatal("rotated sealer does not seal with the new key")
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "config.key")
	k, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created || len(k) != 32 {
		t.Fatalf("create: %v %v %d", err, created, len(k))
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode().Perm(), err)
	}
	k2, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || string(k2) != string(k) {
		t.Fatal("reloading the key file gave another key")
	}
	if _, err := DecodeKey("c2hvcnQ="); err == nil || !strings.Contains(err.Error(), "32") {
		t.Fatalf("short key accepted: %v", err)
	}
	if _, err := DecodeKey("!!!"); err == nil {
		t.Fatal("non-base64 key accepted")
	}
}
