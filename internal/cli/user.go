package cli

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rookery/rookery/internal/app"
	"github.com/rookery/rookery/internal/auth"
)

// readPassword takes the password from ROOKERY_PASSWORD or one line of
// standard input, never from an argument (which would sit in shell history).
func readPassword(cmd *cobra.Command) (string, error) {
	if p := os.Getenv("ROOKERY_PASSWORD"); p != "" {
		return p, nil
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "password (one line on standard input):")
	p, err := readLine(cmd.InOrStdin())
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", fmt.Errorf("no password given: set ROOKERY_PASSWORD or pipe it to standard input")
	}
	return p, nil
}

func (cl *CLI) newUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users (admin, maintainer, viewer)"}
	var role string
	create := &cobra.Command{
		Use:   "create EMAIL",
		Short: "Create a user; the password comes from ROOKERY_PASSWORD or standard input",
		Args:  cobra.ExactArgs(1),
		RunE: cl.withCore(func(cmd *cobra.Command, args []string, core *app.Core) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return err
			}
			pw, err := readPassword(cmd)
			if err != nil {
				return err
			}
			u, err := core.Auth.Create(cmd.Context(), args[0], pw, r)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s (%s)\n", u.Email, u.Role)
			return nil
		}),
	}
	create.Flags().StringVar(&role, "role", "viewer", "admin, maintainer or viewer")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: cl.withCore(func(cmd *cobra.Command, _ []string, core *app.Core) error {
			users, err := core.Auth.List(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEMAIL\tROLE\tSTATE\tCREATED")
			for _, u := range users {
				state := "active"
				if u.Disabled {
					state = "disabled"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Role, state, u.CreatedAt.Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		}),
	}

	setPassword := &cobra.Command{
		Use:   "set-password EMAIL",
		Short: "Replace a user's password (ends their sessions)",
		Args:  cobra.ExactArgs(1),
		RunE: cl.withCore(func(cmd *cobra.Command, args []string, core *app.Core) error {
			pw, err := readPassword(cmd)
			if err != nil {
				return err
			}
			if err := core.Auth.SetPassword(cmd.Context(), args[0], pw); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "password of %s replaced\n", args[0])
			return nil
		}),
	}

	setRole := &cobra.Command{
		Use:   "set-role EMAIL ROLE",
		Short: "Change a user's role (ends their sessions)",
		Args:  cobra.ExactArgs(2),
		RunE: cl.withCore(func(cmd *cobra.Command, args []string, core *app.Core) error {
			r, err := auth.ParseRole(args[1])
			if err != nil {
				return err
			}
			if err := core.Auth.SetRole(cmd.Context(), args[0], r); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is now %s\n", args[0], r)
			return nil
		}),
	}
	setDisabled := func(use, short string, disabled bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " EMAIL",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: cl.withCore(func(cmd *cobra.Command, args []string, core *app.Core) error {
				if err := core.Auth.SetDisabled(cmd.Context(), args[0], disabled); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is now %sd\n", args[0], use)
				return nil
			}),
		}
	}
	del := &cobra.Command{
		Use:   "delete EMAIL",
		Short: "Delete a user with their sessions and API keys (never the last active admin)",
		Args:  cobra.ExactArgs(1),
		RunE: cl.withCore(func(cmd *cobra.Command, args []string, core *app.Core) error {
			u, err := core.Auth.ByEmail(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if _, err := core.Auth.Delete(cmd.Context(), u.ID); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", u.Email)
			return nil
		}),
	}
	cmd.AddCommand(create, list, setPassword, setRole,
		setDisabled("disable", "Disable a user: sign-in refused, sessions ended, API keys revoked", true),
		setDisabled("enable", "Enable a disabled user again", false), del)
	return cmd
}
