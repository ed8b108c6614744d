package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rookery/rookery/internal/app"
	"github.com/rookery/rookery/license"
)

func (cl *CLI) newLicenseCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "license", Short: "Show and check the licence (settings come from the config database)"}
	status := &cobra.Command{
		Use:   "status",
		Short: "Validate the licence now (falling back to the cache) and print its state as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := cl.licenseStatus(cmd.Context())
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		},
	}
	check := &cobra.Command{
		Use:   "check",
		Short: "Exit 0 when the licence is valid, 1 otherwise, with a one-line reason",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := cl.licenseStatus(cmd.Context())
			if err != nil {
				return err
			}
			if !st.Valid {
				reason := st.LastError
				if reason == "" {
					reason = "no valid licence"
				}
				return fmt.Errorf("licence not valid: %s", reason)
			}
			exp := "no expiry"
			if !st.ExpiresAt.IsZero() {
				exp = "expires " + st.ExpiresAt.Format(time.DateOnly)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "licence valid: %s tier for %s (%s, %s, source %s)\n", st.Tier, st.Customer, st.KeyMasked, exp, st.Source)
			return nil
		},
	}
	cmd.AddCommand(status, check)
	return cmd
}

func (cl *CLI) licenseStatus(ctx context.Context) (license.Status, error) {
	core, err := cl.openCore(ctx)
	if err != nil {
		return license.Status{}, err
	}
	defer core.Close()
	m, err := app.NewLicenseManager(core, cl.version, nil)
	if err != nil {
		return license.Status{}, err
	}
	// In release mode Start fails on an invalid licence; the status still
	// says why, which is what an operator wants to see.
	startErr := m.Start(ctx)
	st := m.Status()
	if err := m.Shutdown(ctx); err != nil {
		return st, err
	}
	if startErr != nil && st.LastError == "" {
		st.LastError = startErr.Error()
	}
	return st, nil
}
