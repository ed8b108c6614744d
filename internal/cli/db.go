package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rookery/rookery/internal/app"
	"github.com/rookery/rookery/internal/db"
)

func (cl *CLI) newDBCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Inspect the database",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Check the database: SQLite's integrity_check, and the schema version against this build's (exit 0 healthy, 1 otherwise)",
		Long: "Check the database without changing it. On SQLite, PRAGMA integrity_check reads every page and\n" +
			"prints what it finds. On every database the applied schema version is compared with the one this\n" +
			"build carries. Exit status 0 when the database is healthy, 1 when it is damaged, unreachable,\n" +
			"empty or at another schema version.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := app.SettingsFromEnv(os.Getenv)
			if err != nil {
				return err
			}
			return checkDatabase(cmd.Context(), cmd.OutOrStdout(), s.DB)
		},
	})
	return cmd
}

// checkDatabase prints what it finds about the database s names and
// returns an error (exit 1) unless it is healthy. It never creates or
// migrates anything: a check that repaired by accident would hide damage.
func checkDatabase(ctx context.Context, out io.Writer, s db.Settings) error {
	if file := s.SQLiteFile(); file != "" {
		// Opening a missing SQLite file would create an empty one.
		if _, err := os.Stat(file); err != nil {
			return fmt.Errorf("there is no SQLite database at %s (DATA_DIR and DATABASE_URL say where it is): %w", file, errors.Unwrap(err))
		}
	}
	log, level := newLogger()
	level.Set(4)     // warn
	s.MaxRetries = 0 // report an unreachable database now, not after the start-up patience
	d, err := db.Open(ctx, s, log)
	if err != nil {
		if db.IsDamaged(err) {
			return fmt.Errorf("%w; restore the file from a backup", err)
		}
		return fmt.Errorf("the database is unreachable: %w", err)
	}
	defer d.Close()
	fmt.Fprintf(out, "database: %s (%s)\n", d.Where(), d.Dialect)

	var problems []string
	if d.Dialect == db.SQLite {
		findings, err := d.IntegrityCheck(ctx)
		if err != nil {
			return err
		}
		if len(findings) == 0 {
			fmt.Fprintln(out, "integrity_check: ok")
		} else {
			fmt.Fprintf(out, "integrity_check found %d problem(s):\n", len(findings))
			for _, f := range findings {
				fmt.Fprintln(out, "  "+f)
			}
			problems = append(problems, "the file is damaged: restore it from a backup")
		}
	}

	want, err := db.EmbeddedVersion(d.Dialect)
	if err != nil {
		return err
	}
	got, err := d.SchemaVersion(ctx)
	switch {
	case db.IsDamaged(err):
		fmt.Fprintln(out, "schema version: cannot be read, the file is damaged")
		if len(problems) == 0 {
			problems = append(problems, "the file is damaged: restore it from a backup")
		}
	case err != nil:
		return fmt.Errorf("the database answered but its schema version could not be read: %w", err)
	case got == want:
		fmt.Fprintf(out, "schema version: %d, the one this build carries\n", got)
	case got == 0:
		fmt.Fprintf(out, "schema version: none, the database is empty (this build carries %d)\n", want)
		problems = append(problems, "the database is empty: restore it from a backup, or initialise it with `rookery migrate --init`")
	case got < want:
		fmt.Fprintf(out, "schema version: %d, this build carries %d\n", got, want)
		problems = append(problems, "migrations are pending: `rookery migrate` applies them")
	default:
		fmt.Fprintf(out, "schema version: %d, newer than this build's %d\n", got, want)
		problems = append(problems, "the database was migrated by a newer rookery: run that version")
	}

	if len(problems) > 0 {
		return fmt.Errorf("the database is not healthy: %s", strings.Join(problems, "; "))
	}
	fmt.Fprintln(out, "the database is healthy")
	return nil
}
