package secret_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/rookery/rookery/secret"
)

const value = "hunter2-very-private"

// holder is how a Secret usually travels: in an exported field of a
// settings or response struct.
type holder struct {
	Name string
	Key  secret.Secret
	Ptr  *secret.Secret
}

func TestEveryWayOfPrintingMasks(t *testing.T) {
	s := secret.New(value)
	h := holder{Name: "svc", Key: s, Ptr: &s}
	logText := func(args ...any) string {
		var b bytes.Buffer
		slog.New(slog.NewTextHandler(&b, nil)).Info("msg", args...)
		return b.String()
	}
	logJSON := func(args ...any) string {
		var b bytes.Buffer
		slog.New(slog.NewJSONHandler(&b, nil)).Info("msg", args...)
		return b.String()
	}
	js := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		return string(b)
	}
	wrapped := fmt.Errorf("call failed: %w", fmt.Errorf("bad key %v", s))
	tests := []struct {
		name string
		out  string
	}{
		{"%v", fmt.Sprintf("%v", s)},
		{"%+v", fmt.Sprintf("%+v", s)},
		{"%#v", fmt.Sprintf("%#v", s)},
		{"%s", fmt.Sprintf("%s", s)},
		{"%q", fmt.Sprintf("%q", s)},
		{"%x", fmt.Sprintf("%x", s)},
		{"%X", fmt.Sprintf("%X", s)},
		{"%d", fmt.Sprintf("%d", s)},
		{"%20s", fmt.Sprintf("%20s", s)},
		{"Sprint", fmt.Sprint(s)},
		{"Sprintln", fmt.Sprintln(s)},
		{"String", s.String()},
		{"GoString", s.GoString()},
		{"pointer %v", fmt.Sprintf("%v", &s)},
		{"struct %v", fmt.Sprintf("%v", h)},
		{"struct %+v", fmt.Sprintf("%+v", h)},
		{"struct %#v", fmt.Sprintf("%#v", h)},
		{"slice %v", fmt.Sprintf("%v", []secret.Secret{s, s})},
		{"map value %v", fmt.Sprintf("%v", map[string]secret.Secret{"k": s})},
		{"json", js(s)},
		{"json struct", js(h)},
		{"json map key", js(map[secret.Secret]int{s: 1})},
		{"json any", js(map[string]any{"k": s})},
		{"text", func() string { b, _ := s.MarshalText(); return string(b) }()},
		{"slog text", logText("key", s)},
		{"slog text struct", logText("holder", h)},
		{"slog text group", logText(slog.Group("g", slog.Any("key", s)))},
		{"slog JSON", logJSON("key", s)},
		{"slog JSON struct", logJSON("holder", h)},
		{"slog JSON pointer", logJSON("key", &s)},
		{"error %v", fmt.Errorf("bad key %v", s).Error()},
		{"error %s", fmt.Errorf("bad key %s", s).Error()},
		{"error %q", fmt.Errorf("bad key %q", s).Error()},
		{"error wrapped", wrapped.Error()},
		{"error joined", errors.Join(wrapped, fmt.Errorf("%+v", h)).Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.out, value) || strings.Contains(tt.out, fmt.Sprintf("%x", value)) {
				t.Fatalf("the value leaked: %s", tt.out)
			}
			if !strings.Contains(tt.out, secret.Masked) {
				t.Fatalf("no mask in %s", tt.out)
			}
		})
	}
}

func TestRevealAndZero(t *testing.T) {
	var zero secret.Secret
	if !zero.IsZero() || zero.IsSet() || zero.Reveal() != "" {
		t.Error("the zero value must be unset")
	}
	s := secret.New(value)
	if s.IsZero() || !s.IsSet() || s.Reveal() != value {
		t.Error("New must keep the value for Reveal")
	}
}

func TestDecodingKeepsTheValue(t *testing.T) {
	var r struct {
		Token secret.Secret  `json:"token"`
		Other *secret.Secret `json:"other"`
		Null  secret.Secret  `json:"null"`
	}
	r.Null = secret.New("kept")
	if err := json.Unmarshal([]byte(`{"token":"a\/b\u00e9","other":"x","null":null}`), &r); err != nil {
		t.Fatal(err)
	}
	if r.Token.Reveal() != "a/bé" || r.Other.Reveal() != "x" || r.Null.Reveal() != "kept" {
		t.Errorf("decoded %q %q %q", r.Token.Reveal(), r.Other.Reveal(), r.Null.Reveal())
	}
	var s secret.Secret
	if err := s.UnmarshalText([]byte(value)); err != nil || s.Reveal() != value {
		t.Errorf("UnmarshalText = %v, %q", err, s.Reveal())
	}
}

func TestDecodingErrorHidesTheInput(t *testing.T) {
	var s secret.Secret
	for _, in := range []string{`12345678`, `{"a":"hunter2-very-private"}`, `hunter2-very-private`} {
		err := s.UnmarshalJSON([]byte(in))
		if err == nil {
			t.Fatalf("UnmarshalJSON(%s) accepted a non-string", in)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "12345678") {
			t.Errorf("error quotes the input: %v", err)
		}
		if !s.IsZero() {
			t.Errorf("a failed decode changed the value")
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		secret, text, want string
	}{
		{value, "echo " + value + " and " + value, "echo ***SENSITIVE*** and ***SENSITIVE***"},
		{value, "nothing here", "nothing here"},
		{"abc", "abc is too short to hide", "abc is too short to hide"},
		{"", "empty hides nothing", "empty hides nothing"},
		{"abcd", "abcd", secret.Masked},
	}
	for _, tt := range tests {
		if got := secret.New(tt.secret).Redact(tt.text); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}
