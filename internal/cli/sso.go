package cli

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rookery/rookery/internal/app"
	"github.com/rookery/rookery/internal/sso"
)

func (cl *CLI) newSSOCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "sso", Short: "Single sign-on maintenance"}
	rotate := &cobra.Command{
		Use:   "rotate-saml-key",
		Short: "Replace the SAML service provider's key and certificate (give the identity provider the new metadata afterwards)",
		Args:  cobra.NoArgs,
		RunE: cl.withCore(func(cmd *cobra.Command, _ []string, core *app.Core) error {
			cert, err := sso.RotateSPKey(cmd.Context(), core.DB, core.Sealer, time.Now())
			if err != nil {
				return err
			}
			sum := sha256.Sum256(cert.Raw)
			fmt.Fprintf(cmd.OutOrStdout(), "new SAML service provider certificate: SHA-256 %X, valid until %s\n",
				sum, cert.NotAfter.UTC().Format("2006-01-02"))
			fmt.Fprintln(cmd.OutOrStdout(), "every server uses it from its next SAML request; give the identity provider the new metadata from /api/v1/auth/saml/metadata")
			return nil
		}),
	}
	cmd.AddCommand(rotate)
	return cmd
}
