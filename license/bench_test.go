package license_test

import (
	"net/http"
	"testing"

	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

// benchManager runs a professional licence with the standard catalogue, as
// the server does.
func benchManager(b *testing.B) *license.Manager {
	return benchManagerFor(b, licensetest.Professional(licensetest.KeyProfessional))
}

func benchManagerFor(b *testing.B, lic licensetest.Licence) *license.Manager {
	b.Helper()
	srv := licensetest.NewServer(lic)
	b.Cleanup(srv.Close)
	m, err := license.New(
		license.Settings{Key: license.Key(lic.Key), ServerURL: srv.URL, Product: licensetest.Product, ReleaseMode: true},
		license.Options{Logger: discardLogger(), FeatureTiers: license.StandardCatalogue()},
	)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Shutdown(b.Context()) })
	return m
}

// BenchmarkHasFeature: the budget is 20 ns/op and no allocation.
func BenchmarkHasFeature(b *testing.B) {
	m := benchManager(b)
	for _, name := range []string{"audit_logs", "rookery.audit_logs", "custom_saml"} {
		b.Run(name, func(b *testing.B) {
			want := m.HasFeature(name)
			b.ReportAllocs()
			for b.Loop() {
				if m.HasFeature(name) != want {
					b.Fatal("answer changed")
				}
			}
		})
	}
}

// BenchmarkHasFeatureByTier: a licence whose server lists no features, so
// every grant comes from the catalogue; the same budget applies.
func BenchmarkHasFeatureByTier(b *testing.B) {
	lic := licensetest.Professional(licensetest.KeyProfessional)
	lic.Features = nil
	m := benchManagerFor(b, lic)
	for _, name := range []string{"audit_logs", "rookery.audit_logs", "custom_saml"} {
		b.Run(name, func(b *testing.B) {
			want := m.HasFeature(name)
			b.ReportAllocs()
			for b.Loop() {
				if m.HasFeature(name) != want {
					b.Fatal("answer changed")
				}
			}
		})
	}
}

func BenchmarkHasFeatureParallel(b *testing.B) {
	m := benchManager(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !m.HasFeature("audit_logs") {
				b.Error("denied")
				return
			}
		}
	})
}

// nopWriter is a ResponseWriter that keeps nothing, so the benchmark measures
// the middleware rather than a recorder.
type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header       { return w.h }
func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriter) WriteHeader(int)             {}

func BenchmarkRequireFeature(b *testing.B) {
	m := benchManager(b)
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	b.Run("allowed", func(b *testing.B) {
		h := m.RequireFeature("audit_logs")(next)
		w := nopWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
	})
	b.Run("denied", func(b *testing.B) {
		h := m.RequireFeature("custom_saml")(next)
		w := nopWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
	})
	b.Run("allowed-parallel", func(b *testing.B) {
		h := m.RequireFeature("audit_logs")(next)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := nopWriter{h: http.Header{}}
			for pb.Next() {
				h.ServeHTTP(w, req)
			}
		})
	})
}

func BenchmarkAtLeast(b *testing.B) {
	m := benchManager(b)
	b.ReportAllocs()
	for b.Loop() {
		if !m.AtLeast(license.Professional) {
			b.Fatal("denied")
		}
	}
}
