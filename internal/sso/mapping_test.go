package sso

import (
	"testing"

	"github.com/rookery/rookery/internal/auth"
)

func TestMapRole(t *testing.T) {
	for _, c := range []struct {
		values []string
		want   auth.Role
	}{
		{nil, auth.Viewer},
		{[]string{"staff"}, auth.Viewer},
		{[]string{"devs"}, auth.Maintainer},
		{[]string{"ops"}, auth.Maintainer},
		{[]string{"devs", "admins"}, auth.Admin},
		{[]string{"Admins"}, auth.Viewer}, // exact comparison
		{[]string{""}, auth.Viewer},
	} {
		if got := MapRole(c.values, " admins ,", "devs, ops"); got != c.want {
			t.Errorf("MapRole(%q) = %s, want %s", c.values, got, c.want)
		}
	}
	if got := MapRole([]string{"admins"}, "", ""); got != auth.Viewer {
		t.Errorf("no admin values configured: %s", got)
	}
}

func TestDomainAllowed(t *testing.T) {
	for _, c := range []struct {
		email, allowed string
		want           bool
	}{
		{"a@example.com", "", true},
		{"a@example.com", "example.com", true},
		{"a@EXAMPLE.com", "example.org, Example.com", true},
		{"a@sub.example.com", "example.com", false},
		{"a@example.com.evil.test", "example.com", false},
		{"a@evil.test", "example.com", false},
		{"no-at-sign", "example.com", false},
	} {
		if got := DomainAllowed(c.email, c.allowed); got != c.want {
			t.Errorf("DomainAllowed(%q, %q) = %v", c.email, c.allowed, got)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "/",
		"/":                    "/",
		"/settings?tab=email":  "/settings?tab=email",
		"//evil.example/":      "/",
		"/\\evil.example":      "/",
		"https://evil.example": "/",
		"settings":             "/",
		"javascript:alert(1)":  "/",
		"/a\r\nSet-Cookie: x":  "/",
	} {
		if got := SafeNext(in); got != want {
			t.Errorf("SafeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClaimValues(t *testing.T) {
	if got := claimValues([]any{"a", 1.0, "b"}); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("list: %q", got)
	}
	if got := claimValues("admins"); len(got) != 1 || got[0] != "admins" {
		t.Errorf("string: %q", got)
	}
	if got := claimValues(true); got != nil {
		t.Errorf("bool: %q", got)
	}
}
