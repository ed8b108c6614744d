// Package cli is the command line of an application built on rookery:
// serve, migrate, db, config, user, license, marchproxy, healthcheck and
// version, for the application's own binary.
package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/app"
)

// CLI builds the commands for one application.
type CLI struct {
	name, version string
	ext           app.Extension
}

// New returns the command line of the application named name (the binary's
// name) at version, with what it adds to rookery.
func New(name, version string, ext app.Extension) *CLI {
	if name == "" {
		name = "rookery"
	}
	if version == "" {
		version = "dev"
	}
	return &CLI{name: name, version: version, ext: ext}
}

// Execute runs the command line with the process's arguments until it
// ends or SIGINT/SIGTERM arrives, then exits: 0 on success, the command's
// own exit code where it has one (marchproxy diff exits 2 on changes),
// otherwise 1 with the error on stderr.
func (cl *CLI) Execute() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cl.Root().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, cl.name+":", err)
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

// Root is the root command, for tests and for embedding in a larger CLI.
func (cl *CLI) Root() *cobra.Command {
	root := &cobra.Command{
		Use:           cl.name,
		Short:         cl.name + ": configuration, licence, WaddleAI, KillKrill and MarchProxy after the PenguinTech standards",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		cl.newServeCmd(),
		cl.newMigrateCmd(),
		cl.newDBCmd(),
		cl.newConfigCmd(),
		cl.newUserCmd(),
		cl.newLicenseCmd(),
		cl.newSSOCmd(),
		cl.newMarchProxyCmd(cl.loadMarchProxySettings),
		cl.newHealthcheckCmd(),
		cl.newVersionCmd(),
	)
	return root
}

func (cl *CLI) newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), cl.name, cl.version)
		},
	}
}

// registry is every declared setting: rookery's and the application's.
func (cl *CLI) registry() (*config.Registry, error) {
	return config.NewRegistry(append(app.NewKeys().Decls(), cl.ext.Keys...)...)
}

// newLogger writes JSON logs to stderr at a level that can change at runtime.
func newLogger() (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})), level
}
