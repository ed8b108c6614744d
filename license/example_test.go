package license_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

func Example() {
	// A fake licence server stands in for https://license.penguintech.io.
	srv := licensetest.NewServer(licensetest.Professional(licensetest.KeyProfessional))
	defer srv.Close()
	dataDir, _ := os.MkdirTemp("", "rookery-example")
	defer os.RemoveAll(dataDir)

	// In a real service: settings, err := license.SettingsFromEnv(nil)
	settings := license.Settings{
		Key:         licensetest.KeyProfessional,
		ServerURL:   srv.URL,
		Product:     "rookery",
		ReleaseMode: true,
	}
	m, err := license.New(settings, license.Options{
		CacheFile: filepath.Join(dataDir, license.DefaultCacheFileName),
		Version:   "1.0.0",
		Logger:    slog.New(slog.DiscardHandler),
		Usage: func(ctx context.Context) (license.Usage, error) {
			return license.Usage{ActiveUsers: 3, TeamCount: 1}, nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		fmt.Println(err) // a real server exits non-zero here
		return
	}
	defer m.Shutdown(ctx)

	fmt.Println("tier:", m.Tier(), "key:", settings.Key)
	fmt.Println("audit_logs:", m.HasFeature("audit_logs"), "custom_saml:", m.HasFeature("rookery.custom_saml"))

	mux := http.NewServeMux()
	mux.Handle("GET /saml", m.RequireFeature("custom_saml")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/saml", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// tier: professional key: PENG-****-****-****-****-0001
	// audit_logs: true custom_saml: false
	// 403 {"error":"feature_not_entitled","feature":"custom_saml","required_tier":"enterprise","message":"The feature \"custom_saml\" is not included in the current licence; it is available from the Enterprise tier."}
}
