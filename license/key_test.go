package license

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

const testKey = "PENG-AB12-CD34-EF56-GH78-WXYZ"

// keyRegexp is the contract's definition, kept here to check the hand-written
// matcher against it.
var keyRegexp = regexp.MustCompile(`^PENG-[A-Z0-9]{4}(-[A-Z0-9]{4}){4}$`)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		key  string
		ok   bool
		hint string
	}{
		{key: testKey, ok: true},
		{key: "PENG-0000-0000-0000-0000-0000", ok: true},
		{key: "", hint: "empty"},
		{key: "peng-ab12-cd34-ef56-gh78-wxyz", hint: "capitals"},
		{key: " " + testKey, hint: "capitals"},
		{key: "PENG-AB12-CD34-EF56-GH78", hint: "PENG-XXXX-XXXX-XXXX-XXXX-XXXX"},
		{key: "PENG-AB12-CD34-EF56-GH78-WXYZ-", hint: "PENG-XXXX"},
		{key: "PENX-AB12-CD34-EF56-GH78-WXYZ", hint: "PENG-XXXX"},
		{key: "PENG_AB12-CD34-EF56-GH78-WXYZ", hint: "PENG-XXXX"},
		{key: "PENG-AB12-CD34-EF56-GH78-WXY!", hint: "PENG-XXXX"},
		{key: "PENG-AB12-CD34-EF56-GH7Ö-WXY", hint: "PENG-XXXX"},
		{key: "PENG-AB12CD34-EF56-GH78-WXYZ-", hint: "PENG-XXXX"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", MaskKey(tt.key)), func(t *testing.T) {
			err := CheckKey(tt.key)
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckKey = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("CheckKey = %v, want ErrInvalidKey", err)
			}
			if !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("error %q does not mention %q", err, tt.hint)
			}
			if !strings.Contains(err.Error(), "PENG-XXXX-XXXX-XXXX-XXXX-XXXX") {
				t.Errorf("error %q does not state the expected shape", err)
			}
			if len(tt.key) > 8 && strings.Contains(err.Error(), tt.key) {
				t.Errorf("error contains the key")
			}
		})
	}
}

func FuzzKeyShape(f *testing.F) {
	for _, s := range []string{testKey, "", "PENG-", "PENG-AAAA-AAAA-AAAA-AAAA-AAA", "PENG-aaaa-AAAA-AAAA-AAAA-AAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validKeyShape(s), keyRegexp.MatchString(s); got != want {
			t.Fatalf("validKeyShape(%q) = %v, regexp says %v", s, got, want)
		}
	})
}

func TestMaskKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{testKey, "PENG-****-****-****-****-WXYZ"},
		{"", ""},
		{"not-a-key", "***SENSITIVE***"},
		{"peng-ab12-cd34-ef56-gh78-wxyz", "***SENSITIVE***"},
		{"sk-live-0123456789abcdef", "***SENSITIVE***"},
	}
	for _, tt := range tests {
		if got := MaskKey(tt.in); got != tt.want {
			t.Errorf("MaskKey(%d chars) = %q, want %q", len(tt.in), got, tt.want)
		}
	}
}

func TestKeyNeverPrintsClear(t *testing.T) {
	k := Key(testKey)
	type holder struct {
		Key Key `json:"key"`
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("msg", "key", k, "holder", holder{k})
	js, err := json.Marshal(holder{k})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", k),
		"%s":   fmt.Sprintf("[%s]", k),
		"%q":   fmt.Sprintf("%q", k),
		"%x":   fmt.Sprintf("%x", k),
		"%#v":  fmt.Sprintf("%#v", holder{k}),
		"%+v":  fmt.Sprintf("%+v", holder{k}),
		"json": string(js),
		"slog": logBuf.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, testKey) || strings.Contains(out, "AB12") {
			t.Errorf("%s output leaks the key", name)
		}
		if name != "%x" && !strings.Contains(out, "WXYZ") {
			t.Errorf("%s output %q does not show the masked key", name, out)
		}
	}
	// Decoding still takes the clear value: configuration can be read.
	var h holder
	if err := json.Unmarshal([]byte(`{"key":"`+testKey+`"}`), &h); err != nil || string(h.Key) != testKey {
		t.Errorf("decoding a key failed: err=%v", err)
	}
}
