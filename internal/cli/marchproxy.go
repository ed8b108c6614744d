package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rookery/rookery/marchproxy"
)

// marchproxyExitError carries the process exit code: diff exits 2 when the
// cluster differs, every failure exits 1. main honours ExitCode.
type marchproxyExitError struct {
	code int
	err  error
}

func (e *marchproxyExitError) Error() string { return e.err.Error() }
func (e *marchproxyExitError) Unwrap() error { return e.err }
func (e *marchproxyExitError) ExitCode() int { return e.code }

func mpFail(err error) error { return &marchproxyExitError{code: 1, err: err} }

// mpOptions are the flags shared by the marchproxy subcommands; a flag that
// is given wins over the environment, which wins over the config database.
type mpOptions struct {
	load      func(ctx context.Context) (mpConfig, error)
	getenv    func(string) string
	otlp      string     // OTLP endpoint read with the settings
	tracing   *mpTracing // the command's exporter, while it runs
	api       string
	clusterID int
	username  string
	totp      string
	appName   string
}

func (cl *CLI) newMarchProxyCmd(load func(ctx context.Context) (mpConfig, error)) *cobra.Command {
	o := &mpOptions{load: load, getenv: os.Getenv}
	cmd := &cobra.Command{
		Use:   "marchproxy",
		Short: "Generate, check and import the MarchProxy gateway configuration",
		Long: `Generate config/marchproxy/{services,mappings,import-config}.json as the PenguinTech
integration standards describe them, and bring a real MarchProxy API server in line with them.

Settings come from rookery's configuration (marchproxy_api, marchproxy_cluster_id,
marchproxy_username, marchproxy_password, cluster_api_key, app_name, marchproxy_extras), overridden by
MARCHPROXY_API, MARCHPROXY_CLUSTER_ID, MARCHPROXY_USERNAME, MARCHPROXY_PASSWORD,
CLUSTER_API_KEY and APP_VERSION, overridden by flags. Passwords and keys are not taken
as flags, so that they stay out of the process list and shell history.

The real server has no bulk import and no mappings API: services are created (POST),
updated (PATCH) or reactivated one by one as a user, and mappings are reported as not
importable.`,
		SilenceUsage:  true,
		SilenceErrors: true, // main prints the error once, with its exit code
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.api, "api", "", "MarchProxy API address (default from marchproxy_api, then "+marchproxy.DefaultAPI+")")
	pf.IntVar(&o.clusterID, "cluster-id", 0, "target MarchProxy cluster id")
	pf.StringVar(&o.username, "username", "", "MarchProxy user")
	pf.StringVar(&o.totp, "totp", "", "current two-factor code, when the MarchProxy user has 2FA")
	pf.StringVar(&o.appName, "app", "", "application name that prefixes service names (default from app_name)")

	cmd.AddCommand(o.generateCmd(), o.validateCmd(), o.diffCmd(), o.importCmd(), o.configCmd())
	return cmd
}

// settings resolves the settings: database, then environment, then flags.
func (o *mpOptions) settings(cmd *cobra.Command) (marchproxy.Settings, error) {
	var s marchproxy.Settings
	if o.load != nil {
		loaded, err := o.load(cmd.Context())
		if err != nil {
			return s, fmt.Errorf("load MarchProxy settings: %w", err)
		}
		s, o.otlp = loaded.Settings, loaded.OTLPEndpoint
	} else {
		o.otlp = o.getenv(envOTLPEndpoint)
	}
	if err := applyMarchProxyEnv(&s, o.getenv); err != nil {
		return s, err
	}
	f := cmd.Flags()
	if f.Changed("api") {
		s.API = o.api
	}
	if f.Changed("cluster-id") {
		if o.clusterID < 1 {
			return s, fmt.Errorf("--cluster-id %d: want a positive integer", o.clusterID)
		}
		s.ClusterID = o.clusterID
	}
	if f.Changed("username") {
		s.Username = o.username
	}
	if f.Changed("app") {
		s.App.AppName = o.appName
	}
	if s.App.AppName == "" {
		s.App.AppName = "rookery"
	}
	s.App = s.App.WithDefaults()
	return s, nil
}

func (o *mpOptions) generateCmd() *cobra.Command {
	var out, extra string
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write services.json, mappings.json and import-config.json",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := o.settings(cmd)
			if err != nil {
				return mpFail(err)
			}
			g, err := marchproxy.GenerateFrom(s.App, s.Extras, extra)
			if err != nil {
				return mpReportInvalid(cmd.ErrOrStderr(), err)
			}
			if err := g.Write(out); err != nil {
				return mpFail(err)
			}
			w := cmd.OutOrStdout()
			for _, name := range []string{marchproxy.ServicesFileName, marchproxy.MappingsFileName, marchproxy.ImportFileName} {
				fmt.Fprintf(w, "wrote %s\n", filepath.Join(out, name))
			}
			fmt.Fprintf(w, "%d services, %d mappings for %s (version %s)\n",
				len(g.Services.Services), len(g.Mappings.Mappings), g.Import.Metadata.AppName, g.Import.Metadata.Version)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", marchproxy.DefaultOutputDir, "output directory")
	cmd.Flags().StringVar(&extra, "extra", "", "JSON file with the application's other services and mappings (instead of the marchproxy_extras setting)")
	return cmd
}

// mpReportInvalid prints every validation problem on its own line and
// returns a short exit error; other errors pass through.
func mpReportInvalid(w io.Writer, err error) error {
	var ve *marchproxy.ValidationError
	if !errors.As(err, &ve) {
		return mpFail(err)
	}
	for _, p := range ve.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	return mpFail(fmt.Errorf("%d problems in the MarchProxy configuration", len(ve.Problems)))
}

func (o *mpOptions) validateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check services.json, mappings.json or import-config.json files, naming every problem",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			var files []marchproxy.File
			bad := 0
			for _, path := range args {
				f, err := marchproxy.ReadFile(path)
				if err != nil {
					bad++
					fmt.Fprintln(w, err) // "PATH: why"
					continue
				}
				files = append(files, f)
			}
			opts := o.validateOptions(cmd, files)
			for i, err := range marchproxy.CheckFiles(opts, files...) {
				f := files[i]
				if err == nil {
					fmt.Fprintf(w, "%s: ok (%d services, %d mappings)\n", f.Path, len(f.Services), len(f.Mappings))
					continue
				}
				bad++
				fmt.Fprintf(w, "%s: invalid\n", f.Path)
				var ve *marchproxy.ValidationError
				if errors.As(err, &ve) {
					for _, p := range ve.Problems {
						fmt.Fprintf(w, "  %s\n", p)
					}
				} else {
					fmt.Fprintf(w, "  %v\n", errors.Unwrap(err))
				}
			}
			if bad > 0 {
				return mpFail(fmt.Errorf("%d of %d files are not valid", bad, len(args)))
			}
			return nil
		},
	}
}

// validateOptions picks the app name for the naming rule: --app, then each
// file's metadata, then the configured app_name. validate must work without
// a database, so the settings are loaded only when a file needs them, and a
// failed load falls back to the generic "<app>-<service>" rule.
func (o *mpOptions) validateOptions(cmd *cobra.Command, files []marchproxy.File) marchproxy.ValidateOptions {
	if cmd.Flags().Changed("app") {
		return marchproxy.ValidateOptions{AppName: o.appName}
	}
	need := false
	for _, f := range files {
		need = need || f.AppName() == ""
	}
	if !need || o.load == nil {
		return marchproxy.ValidateOptions{}
	}
	s, err := o.load(cmd.Context())
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: settings not loaded (%v); names are checked against the generic <app>-<service> rule\n", err)
		return marchproxy.ValidateOptions{}
	}
	return marchproxy.ValidateOptions{DefaultAppName: s.App.AppName}
}

// mpSource holds the flags that say where the desired configuration comes
// from.
type mpSource struct {
	from     string
	generate bool
	extra    string
}

func (src *mpSource) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&src.from, "from", marchproxy.DefaultOutputDir, "directory holding import-config.json (or services.json) and mappings.json")
	cmd.Flags().BoolVar(&src.generate, "generate", false, "use the configuration generated from the settings instead of the files")
	cmd.Flags().StringVar(&src.extra, "extra", "", "with --generate: JSON file with the application's other services and mappings (instead of the marchproxy_extras setting)")
}

// desired reads or generates the configuration and validates it.
func (src *mpSource) desired(s marchproxy.Settings) (marchproxy.Desired, error) {
	d, err := marchproxy.Source{Dir: src.from, Generate: src.generate, ExtrasFile: src.extra}.Desired(s.App, s.Extras)
	if errors.Is(err, marchproxy.ErrNoServicesFile) {
		return d, fmt.Errorf("%w: run `rookery marchproxy generate` first, or use --generate", err)
	}
	return d, err
}

// session validates the desired configuration, logs in and plans.
type mpSession struct {
	settings marchproxy.Settings
	desired  marchproxy.Desired
	client   *marchproxy.Client
	plan     marchproxy.ChangePlan
	opts     marchproxy.PlanOptions
}

func (o *mpOptions) openSession(cmd *cobra.Command, src *mpSource, prune bool) (*mpSession, error) {
	s, err := o.settings(cmd)
	if err != nil {
		return nil, mpFail(err)
	}
	d, err := src.desired(s)
	if err != nil {
		return nil, mpReportInvalid(cmd.ErrOrStderr(), err)
	}
	if s.ClusterID < 1 {
		return nil, mpFail(errors.New("no MarchProxy cluster: set marchproxy_cluster_id, MARCHPROXY_CLUSTER_ID or --cluster-id"))
	}
	if s.Username == "" || s.Password.IsZero() {
		return nil, mpFail(errors.New("the MarchProxy server takes services only from a user: set marchproxy_username and marchproxy_password " +
			"(or MARCHPROXY_USERNAME and MARCHPROXY_PASSWORD); the cluster API key only opens the proxies' config routes"))
	}
	client, err := o.newClient(cmd, s)
	if err != nil {
		return nil, mpFail(err)
	}
	ctx := cmd.Context()
	if _, err := client.Login(ctx, s.Username, s.Password, o.totp); err != nil {
		if errors.Is(err, marchproxy.ErrTOTPRequired) {
			err = fmt.Errorf("%w: pass --totp CODE", err)
		}
		return nil, mpFail(err)
	}
	sess := &mpSession{settings: s, desired: d, client: client, opts: d.PlanOptions(s.ClusterID, prune)}
	if err := sess.replan(ctx); err != nil {
		return nil, mpFail(err)
	}
	return sess, nil
}

func (s *mpSession) replan(ctx context.Context) error {
	actual, err := s.client.ListServices(ctx, s.settings.ClusterID, false)
	if err != nil {
		return err
	}
	s.plan = marchproxy.Plan(s.desired.Services, actual, s.opts)
	return nil
}

func (o *mpOptions) diffCmd() *cobra.Command {
	var src mpSource
	var asJSON, prune bool
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show what import would change; exit 0 in sync, 2 with changes, 1 on error",
		Args:  cobra.NoArgs,
		RunE: o.traced(func(cmd *cobra.Command, _ []string) error {
			sess, err := o.openSession(cmd, &src, prune)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(sess.plan); err != nil {
					return mpFail(err)
				}
			} else {
				fmt.Fprintf(w, "MarchProxy %s, ", sess.client.BaseURL())
				fmt.Fprint(w, sess.plan)
			}
			if !sess.plan.InSync() {
				return &marchproxyExitError{code: 2, err: fmt.Errorf("MarchProxy cluster %d differs from the configuration: %d changes", sess.settings.ClusterID, len(sess.plan.Steps))}
			}
			return nil
		}),
	}
	src.flags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	cmd.Flags().BoolVar(&prune, "prune", false, "also plan to (soft) delete the app's services that are no longer configured")
	return cmd
}

func (o *mpOptions) importCmd() *cobra.Command {
	var src mpSource
	var dryRun, prune, bulk bool
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Create, update or reactivate the configured services on the MarchProxy server",
		Args:  cobra.NoArgs,
		RunE: o.traced(func(cmd *cobra.Command, _ []string) error {
			sess, err := o.openSession(cmd, &src, prune)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			w, ew := cmd.OutOrStdout(), cmd.ErrOrStderr()
			fmt.Fprintf(w, "MarchProxy %s, ", sess.client.BaseURL())
			fmt.Fprint(w, sess.plan)
			if dryRun {
				fmt.Fprintln(w, "dry run: nothing was sent")
				return nil
			}
			if bulk && !sess.plan.InSync() {
				if err := sess.bulkImport(ctx, w, ew); err != nil {
					return mpFail(err)
				}
			}
			rep, err := marchproxy.Apply(ctx, sess.client, sess.plan)
			if len(rep.Applied)+len(rep.NotApplied) > 0 {
				fmt.Fprint(w, rep)
			}
			if err != nil {
				return mpFail(err)
			}
			sess.verify(ctx, w, ew)
			return nil
		}),
	}
	src.flags(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the plan without changing anything")
	cmd.Flags().BoolVar(&prune, "prune", false, "(soft) delete the app's services that are no longer configured")
	cmd.Flags().BoolVar(&bulk, "bulk", false, "use the standards' POST /api/v1/services/import when the server has it")
	return cmd
}

// bulkImport tries the standards' endpoint, then replans so that whatever
// it did not do (prune, or everything on a server without it) is applied
// service by service.
func (s *mpSession) bulkImport(ctx context.Context, w, ew io.Writer) error {
	cfg := s.desired.ImportConfig()
	err := s.client.ImportServices(ctx, s.settings.ClusterID, cfg)
	if errors.Is(err, marchproxy.ErrImportUnsupported) {
		fmt.Fprintln(ew, "note: the server has no bulk import endpoint; importing service by service")
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "bulk import accepted %d services\n", len(cfg.Services))
	return s.replan(ctx)
}

// verify reads the cluster config as a proxy would, when the cluster API
// key is known, and warns about configured services the proxies won't see.
func (s *mpSession) verify(ctx context.Context, w, ew io.Writer) {
	if s.settings.ClusterAPIKey.IsZero() {
		return
	}
	cfg, err := s.client.ClusterConfig(ctx, s.settings.ClusterID, s.settings.ClusterAPIKey)
	if err != nil {
		fmt.Fprintf(ew, "warning: could not verify with the cluster config: %v\n", err)
		return
	}
	if missing := cfg.MissingServices(s.desired.Services); len(missing) > 0 {
		fmt.Fprintf(ew, "warning: the cluster config does not list %s\n", strings.Join(missing, ", "))
		return
	}
	fmt.Fprintf(w, "verified: the cluster %d config lists all %d services\n", s.settings.ClusterID, len(s.desired.Services))
}

func (o *mpOptions) configCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Fetch the cluster config as a proxy does (with the cluster API key); secrets masked",
		Args:  cobra.NoArgs,
		RunE: o.traced(func(cmd *cobra.Command, _ []string) error {
			s, err := o.settings(cmd)
			if err != nil {
				return mpFail(err)
			}
			if s.ClusterID < 1 {
				return mpFail(errors.New("no MarchProxy cluster: set marchproxy_cluster_id, MARCHPROXY_CLUSTER_ID or --cluster-id"))
			}
			if s.ClusterAPIKey.IsZero() {
				return mpFail(errors.New("no cluster API key: set cluster_api_key or CLUSTER_API_KEY"))
			}
			client, err := o.newClient(cmd, s)
			if err != nil {
				return mpFail(err)
			}
			cfg, err := client.ClusterConfig(cmd.Context(), s.ClusterID, s.ClusterAPIKey)
			if err != nil {
				return mpFail(err)
			}
			out, err := json.MarshalIndent(cfg, "", "  ")
			if err != nil {
				return mpFail(err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", out)
			return err
		}),
	}
}
