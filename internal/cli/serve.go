package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rookery/rookery/internal/app"
	"github.com/rookery/rookery/internal/db"
	"github.com/rookery/rookery/killkrill"
)

func (cl *CLI) newServeCmd() *cobra.Command {
	var fresh bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server (HTTP_PORT, default 8080; embedded SQLite under ./data unless DATABASE_URL or DB_TYPE say otherwise)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cl.Serve(cmd.Context(), fresh)
		},
	}
	cmd.Flags().BoolVar(&fresh, "init", false, initFlagHelp)
	return cmd
}

// Serve runs the server with the settings of the environment until ctx
// ends, then shuts down within 15 seconds. fresh is serve --init.
func (cl *CLI) Serve(ctx context.Context, fresh bool) error {
	// Logs go through the KillKrill handler from the first line: the
	// shipper starts disabled (local ECS JSON on stderr) and follows the
	// killkrill_* keys once the configuration is loaded.
	level := new(slog.LevelVar)
	sh, err := killkrill.New(killkrill.Config{ServiceName: cl.name, Fallback: os.Stderr})
	if err != nil {
		return err
	}
	log := slog.New(killkrill.NewHandler(sh, &killkrill.HandlerOptions{Level: level}))
	db.RouteDriverLogs(log)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sh.Shutdown(sctx)
	}()
	s, err := app.SettingsFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, s, log, app.Options{Level: level, Banner: os.Stdout, Version: cl.version, Shipper: sh, Init: fresh, Extension: cl.ext})
	if err != nil {
		return err
	}
	return a.Run(ctx, 15*time.Second)
}

// initFlagHelp describes --init on serve and migrate.
const initFlagHelp = "initialise an empty database even though the key file of an earlier install exists (a fresh install; the old data is not coming back)"

func (cl *CLI) newMigrateCmd() *cobra.Command {
	var fresh bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the embedded database migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			core, err := cl.openCoreWith(cmd.Context(), app.CoreOptions{Init: fresh})
			if err != nil {
				return err
			}
			defer core.Close()
			fmt.Fprintln(cmd.OutOrStdout(), "database is up to date")
			return nil
		},
	}
	cmd.Flags().BoolVar(&fresh, "init", false, initFlagHelp)
	return cmd
}

// openCore opens the database for operator commands, logging only
// warnings. Like serve, it refuses an empty database next to an earlier
// install's key file: only serve --init and migrate --init initialise one.
func (cl *CLI) openCore(ctx context.Context) (*app.Core, error) {
	return cl.openCoreWith(ctx, app.CoreOptions{})
}

func (cl *CLI) openCoreWith(ctx context.Context, o app.CoreOptions) (*app.Core, error) {
	log, level := newLogger()
	level.Set(4) // warn
	s, err := app.SettingsFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	o.Keys, o.Migrations = cl.ext.Keys, cl.ext.Migrations
	return app.OpenCoreWith(ctx, s, log, o)
}

func (cl *CLI) newHealthcheckCmd() *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the local server answers /healthz (for container HEALTHCHECK)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				port := os.Getenv("HTTP_PORT")
				if port == "" {
					port = "8080"
				}
				url = "http://127.0.0.1:" + port + "/healthz"
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return fmt.Errorf("healthcheck URL: %w", err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("server not answering: %s", strings.TrimSpace(err.Error()))
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("server unhealthy: %s", resp.Status)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "health URL (default http://127.0.0.1:$HTTP_PORT/healthz)")
	return cmd
}

// withCore opens the database for an operator command and closes it after.
func (cl *CLI) withCore(run func(cmd *cobra.Command, args []string, core *app.Core) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		core, err := cl.openCore(cmd.Context())
		if err != nil {
			return err
		}
		defer core.Close()
		return run(cmd, args, core)
	}
}
