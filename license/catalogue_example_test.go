package license_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/rookery/rookery/license"
	"github.com/rookery/rookery/license/licensetest"
)

func ExampleStandardCatalogue() {
	// A community licence whose server states only the tier and limits.
	lic := licensetest.Community(licensetest.KeyCommunity)
	lic.Features = nil
	srv := licensetest.NewServer(lic)
	defer srv.Close()

	// The standards' catalogue, plus one feature of this application.
	cat := license.StandardCatalogue()
	cat["exports"] = license.Community

	m, err := license.New(
		license.Settings{Key: licensetest.KeyCommunity, ServerURL: srv.URL, Product: "rookery", ReleaseMode: true},
		license.Options{FeatureTiers: cat, Logger: slog.New(slog.DiscardHandler)},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := m.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer m.Shutdown(context.Background())

	fmt.Println("exports:", m.HasFeature("exports"))
	fmt.Println("audit_logs:", m.HasFeature(license.FeatureAuditLogs))
	fmt.Println("max users:", m.MaxUsers())

	// A users service calls this before adding an active user.
	var le *license.LimitError
	if err := m.CheckUserLimit(context.Background(), 5); errors.As(err, &le) {
		fmt.Println(le.Limit, le.Max)
	}
	// Output:
	// exports: true
	// audit_logs: false
	// max users: 5
	// max_users 5
}
