package sso

import (
	"bytes"
	"testing"
	"time"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/internal/dbtest"
)

// Two replicas share the service provider key; after a rotation both use
// the new one from their next request, without a restart.
func TestSPKeyRotation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, set db.Settings) {
		d := dbtest.OpenSettings(t, set)
		k, err := config.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		sealer, err := config.NewSealer(k)
		if err != nil {
			t.Fatal(err)
		}
		keys := config.NewStandard()
		one := New(d, keys, Options{Sealer: sealer}).SAML
		two := New(d, keys, Options{Sealer: sealer}).SAML
		ctx := t.Context()

		_, first, err := one.spKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, same, err := two.spKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.Raw, same.Raw) {
			t.Fatal("two replicas made different service provider keys")
		}

		rotated, err := RotateSPKey(ctx, d, sealer, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(rotated.Raw, first.Raw) {
			t.Fatal("rotation kept the old certificate")
		}
		for name, s := range map[string]*SAML{"first replica": one, "second replica": two} {
			key, cert, err := s.spKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(cert.Raw, rotated.Raw) {
				t.Errorf("%s still uses the old certificate after the rotation", name)
			}
			if !key.PublicKey.Equal(cert.PublicKey) {
				t.Errorf("%s: key and certificate do not belong together", name)
			}
		}

		// The stored key is sealed: its text never holds the PEM.
		var stored string
		if err := d.QueryRowContext(ctx, d.Rebind(`SELECT secret_value FROM app_secrets WHERE name = ?`), spKeyName).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains([]byte(stored), []byte("PRIVATE KEY")) {
			t.Fatal("the service provider key is stored in clear")
		}
	})
}
