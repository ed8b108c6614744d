package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name     string
		password string
		wantErr  string // "" means accepted
	}{
		{name: "eleven characters", password: "abcdefghijk", wantErr: "password must be at least 12 characters"},
		{name: "ten characters (the old minimum)", password: "kq8-zv3-mwp", wantErr: "password must be at least 12 characters"},
		{name: "twelve letters a", password: "aaaaaaaaaaaa", wantErr: "password is one character repeated"},
		{name: "twelve spaces", password: strings.Repeat(" ", 12), wantErr: "password is one character repeated"},
		{name: "one accented letter repeated", password: strings.Repeat("é", 12), wantErr: "password is one character repeated"},
		{name: "leaked", password: "qwerty123456", wantErr: "password is too common: it is in a list of leaked passwords"},
		{name: "leaked with other case", password: "QwErTy123456", wantErr: "password is too common: it is in a list of leaked passwords"},
		{name: "leaked long one", password: "1qaz2wsx3edc4rfv", wantErr: "password is too common"},
		{name: "73 bytes", password: strings.Repeat("ab", 36) + "c", wantErr: "password must be at most 72 bytes"},
		{name: "twelve characters counted as characters, not bytes", password: "ĉĝĥĵŝŭĉĝĥĵŝŭ"},
		{name: "72 bytes", password: strings.Repeat("ab", 36)},
		{name: "twelve mixed", password: "kq8-zv3-mwp4"},
		{name: "two characters alternating", password: "abababababab"},
		{name: "passphrase", password: "correct-horse-battery"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.password)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckPassword(%q) = %v, want accepted", tt.password, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckPassword(%q) = %v, want %q", tt.password, err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("CheckPassword(%q) = %v, want it to wrap ErrInvalid (a 400)", tt.password, err)
			}
			if strings.Contains(err.Error(), tt.password) {
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
}

func TestCommonPasswordList(t *testing.T) {
	lines := strings.Count(commonPasswordList, "\n")
	if lines < 10000 {
		t.Fatalf("the embedded list has %d passwords, want at least 10,000", lines)
	}
	// Every entry that could pass the other rules must be in the set, and
	// be refused as common.
	checked := 0
	for line := range strings.Lines(commonPasswordList) {
		p := strings.TrimRight(line, "\n")
		if len([]rune(p)) < MinPasswordLength || len(p) > 72 || oneRepeated(p) {
			continue
		}
		checked++
		if err := CheckPassword(strings.ToUpper(p)); err == nil || !strings.Contains(err.Error(), "too common") {
			t.Errorf("CheckPassword(%q) = %v, want too common", strings.ToUpper(p), err)
		}
	}
	if checked < 100 {
		t.Errorf("only %d entries are long enough to matter; the list looks wrong", checked)
	}
}

// BenchmarkCommonPasswordsLoad measures what building the set costs: run
// with -benchmem to see the allocation.
func BenchmarkCommonPasswordsLoad(b *testing.B) {
	var n int
	for b.Loop() {
		n = len(loadCommonPasswords())
	}
	b.ReportMetric(float64(n), "entries")
}

func BenchmarkCheckPassword(b *testing.B) {
	_ = CheckPassword("warm-up-the-list")
	for b.Loop() {
		_ = CheckPassword("kq8-zv3-mwp4-x")
	}
}
