package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/app"
)

// codeExitError carries the exit code of apply and restore, as decK's
// diff does: 2 when a dry run finds changes, 1 on any error.
type codeExitError struct {
	code int
	err  error
}

func (e *codeExitError) Error() string { return e.err.Error() }
func (e *codeExitError) Unwrap() error { return e.err }
func (e *codeExitError) ExitCode() int { return e.code }

// errChangesFound is what a dry run that found changes ends with.
var errChangesFound = &codeExitError{code: 2, err: errors.New("changes found (dry run: nothing was written)")}

// configCodeCmds are the configuration as code commands under config:
// export, apply, restore and schema.
func (cl *CLI) configCodeCmds() []*cobra.Command {
	var (
		format, category, output string
		all, includeSecrets      bool
		file, actor, at          string
		dryRun, prune            bool
		version                  int64
	)
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the stored configuration as a YAML or JSON document (secrets left out unless --include-secrets)",
		Long: `Writes every stored value as a document that rookery config apply reads,
headed by its kind and schema version. Keys on their defaults are left out
unless --all. Sensitive values are left out unless --include-secrets, which
writes them sealed (enc:v1:...): they apply only where the same
CONFIG_ENCRYPTION_KEY is configured, and never appear in clear.`,
		Args: cobra.NoArgs,
		RunE: cl.withCore(func(cmd *cobra.Command, _ []string, core *app.Core) error {
			doc, skipped, err := core.Store.Export(cmd.Context(), config.ExportOptions{
				Category: config.Category(category), All: all, IncludeSecrets: includeSecrets})
			if err != nil {
				return err
			}
			for _, k := range skipped {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s left out: %s\n", k, unreadableNote(k))
			}
			b, err := doc.Encode(config.Format(format))
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			// The file may hold sealed secrets: readable by its owner only.
			if err := os.WriteFile(output, b, 0o600); err != nil {
				return fmt.Errorf("write %s: %w", output, err)
			}
			return nil
		}),
	}
	export.Flags().StringVar(&format, "format", "yaml", "yaml or json")
	export.Flags().StringVar(&category, "category", "", "only this category (a prune of the file then touches only it)")
	export.Flags().BoolVar(&all, "all", false, "also write the keys that are not stored, with their environment or default value")
	export.Flags().BoolVar(&includeSecrets, "include-secrets", false, "write sensitive values, sealed with this server's encryption key")
	export.Flags().StringVarP(&output, "output", "o", "", "write to this file (mode 0600) instead of standard output")

	apply := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Make the stored configuration match a document: check all, show the changes, write them in one transaction",
		Long: `Reads a document (YAML or JSON, - for standard input), checks every key and
value first (all problems reported at once, nothing written), prints the
changes key by key (secrets as changed only), then writes them in one
transaction with one audit record per key sharing a change id.

--prune also removes the stored values the document does not name (only in
the document's category when it names one). --dry-run only prints.

Exit codes: 0 nothing to do or applied, 2 changes found with --dry-run,
1 error.`,
		Args: cobra.NoArgs,
		RunE: cl.withCore(func(cmd *cobra.Command, _ []string, core *app.Core) error {
			if file == "" {
				return &codeExitError{1, errors.New("give the document with -f FILE (- for standard input)")}
			}
			data, err := readDocument(cmd, file)
			if err != nil {
				return &codeExitError{1, err}
			}
			doc, err := config.ParseDocument(data)
			if err != nil {
				return &codeExitError{1, err}
			}
			plan, err := core.Store.PlanDocument(cmd.Context(), doc, prune)
			if err != nil {
				return &codeExitError{1, refusal(err)}
			}
			return commitPlan(cmd, core, plan, dryRun, actor)
		}),
	}
	apply.Flags().StringVarP(&file, "file", "f", "", "the document (- for standard input)")
	apply.Flags().BoolVar(&dryRun, "dry-run", false, "print the changes only; exit 2 when there are some")
	apply.Flags().BoolVar(&prune, "prune", false, "remove stored values the document does not name")
	apply.Flags().StringVar(&actor, "actor", "cli", "name recorded in the audit trail")

	restore := &cobra.Command{
		Use:   "restore [KEY --version N | --at TIME]",
		Short: "Put back a key's value at a version of its history, or every key's value at an instant",
		Long: `rookery config restore KEY --version N puts back the value KEY had at version N
of its history (rookery config history KEY) as a new change: audited, its
version rising. rookery config restore --at 2026-11-30T10:00:00Z puts every
key back to its value at that instant, as one change set: keys stored since
are removed, keys removed since come back.

Sensitive values are not kept in the history and cannot be restored: a
secret that changed since is named and left alone; set it again.

Exit codes as apply: 0 done or nothing to do, 2 changes found with
--dry-run, 1 error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: cl.withCore(func(cmd *cobra.Command, args []string, core *app.Core) error {
			var plan config.Plan
			var err error
			switch {
			case len(args) == 1 && version > 0 && at == "":
				plan, err = core.Store.PlanRestoreVersion(cmd.Context(), args[0], version)
			case len(args) == 0 && at != "" && version == 0:
				when, perr := time.Parse(time.RFC3339Nano, at)
				if perr != nil {
					return &codeExitError{1, fmt.Errorf("--at must be an RFC 3339 time such as 2026-11-30T10:00:00Z")}
				}
				plan, err = core.Store.PlanRestoreAt(cmd.Context(), when)
			default:
				return &codeExitError{1, errors.New("give KEY --version N, or --at TIME alone")}
			}
			if err != nil {
				return &codeExitError{1, refusal(err)}
			}
			return commitPlan(cmd, core, plan, dryRun, actor)
		}),
	}
	restore.Flags().Int64Var(&version, "version", 0, "the version of KEY to put back")
	restore.Flags().StringVar(&at, "at", "", "put every key back to its value at this instant (RFC 3339)")
	restore.Flags().BoolVar(&dryRun, "dry-run", false, "print the changes only; exit 2 when there are some")
	restore.Flags().StringVar(&actor, "actor", "cli", "name recorded in the audit trail")

	schema := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema (2020-12) of a configuration document, for editors and CI",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := cl.registry()
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(config.Schema(reg))
		},
	}
	return []*cobra.Command{export, apply, restore, schema}
}

// readDocument reads FILE, or standard input for -.
func readDocument(cmd *cobra.Command, file string) ([]byte, error) {
	var r io.Reader = cmd.InOrStdin()
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("open the document: %w", err)
		}
		defer f.Close()
		r = f
	}
	// One byte past the limit, so ParseDocument can say it is too large.
	b, err := io.ReadAll(io.LimitReader(r, 8<<20+1))
	if err != nil {
		return nil, fmt.Errorf("read the document: %w", err)
	}
	return b, nil
}

// refusal spells out every refused key of a plan, one a line.
func refusal(err error) error {
	var be *config.BatchError
	if !errors.As(err, &be) {
		return explain(err)
	}
	keys := be.Keys()
	sort.Strings(keys)
	msg := fmt.Sprintf("%d setting(s) refused, nothing was written:", len(keys))
	for _, k := range keys {
		msg += "\n  " + k + ": " + be.Problems[k]
	}
	return errors.New(msg)
}

// commitPlan prints a plan and, unless dryRun, writes it.
func commitPlan(cmd *cobra.Command, core *app.Core, plan config.Plan, dryRun bool, actor string) error {
	out := cmd.OutOrStdout()
	fmt.Fprint(out, plan.String())
	skipped := make([]string, 0, len(plan.Skipped))
	for k := range plan.Skipped {
		skipped = append(skipped, k)
	}
	sort.Strings(skipped)
	for _, k := range skipped {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s left alone: it %s\n", k, plan.Skipped[k])
	}
	if len(plan.Changes) == 0 {
		return nil
	}
	if dryRun {
		return errChangesFound
	}
	id := config.NewChangeID()
	res, err := core.Store.Commit(cmd.Context(), plan, config.Origin{Actor: actor, RequestID: id})
	if err != nil {
		var rc *config.RevisionConflictError
		if errors.As(err, &rc) {
			return &codeExitError{1, errors.New("the configuration changed while the plan was made; nothing was written, run the command again")}
		}
		return &codeExitError{1, explain(err)}
	}
	fmt.Fprintf(out, "applied %d change(s) as change %s (revision %d)\n", len(res.Applied), id, res.Revision)
	return nil
}
