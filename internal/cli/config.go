package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rookery/rookery/config"
	"github.com/rookery/rookery/internal/app"
)

func (cl *CLI) newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Read and change configuration in the database (sensitive values stay masked)",
	}
	var category string
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List every key with its effective value and where it comes from",
		Args:  cobra.NoArgs,
		RunE: cl.withCore(func(cmd *cobra.Command, _ []string, core *app.Core) error {
			var rows []*config.Value
			for _, v := range core.Config.Snapshot().All(core.Config.Registry()) {
				if category == "" || string(v.Key.Category) == category {
					rows = append(rows, v)
				}
			}
			if asJSON {
				out := make([]map[string]any, 0, len(rows))
				for _, v := range rows {
					row := map[string]any{"key": v.Key.Name, "value": v.Shown(), "type": v.Key.Type,
						"category": v.Key.Category, "source": v.Source, "is_sensitive": v.Key.Sensitive}
					if v.Unreadable() {
						row["unreadable"] = true
						row["problem"] = unreadableNote(v.Key.Name)
					}
					out = append(out, row)
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"configs": out})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CATEGORY\tKEY\tVALUE\tSOURCE\tUPDATED BY")
			var broken []string
			for _, v := range rows {
				by := ""
				if v.Entry != nil {
					by = v.Entry.UpdatedBy
				}
				source := string(v.Source)
				if v.Unreadable() {
					source += " (stored value unreadable)"
					broken = append(broken, v.Key.Name)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Key.Category, v.Key.Name, oneLine(v.Shown()), source, by)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, k := range broken {
				fmt.Fprintln(cmd.OutOrStdout(), "warning: "+unreadableNote(k))
			}
			return nil
		}),
	}
	list.Flags().StringVar(&category, "category", "", "only this category")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	get := &cobra.Command{
		Use:   "get KEY",
		Short: "Print one key's effective value (masked when sensitive)",
		Args:  cobra.ExactArgs(1),
		RunE: cl.withCore(func(cmd *cobra.Command, args []string, core *app.Core) error {
			v, ok := core.Config.Snapshot().Get(args[0])
			if !ok {
				e, err := core.Store.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if e.Unreadable != "" {
					return errors.New(unreadableNote(e.Key))
				}
				fmt.Fprintln(cmd.OutOrStdout(), e.Shown())
				return nil
			}
			// The value still prints (scripts read one line); the warning
			// goes to standard error.
			fmt.Fprintln(cmd.OutOrStdout(), v.Shown())
			if v.Unreadable() {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s; the value above is its %s value\n", unreadableNote(v.Key.Name), v.Source)
			}
			return nil
		}),
	}

	var actor string
	var remove []string
	set := &cobra.Command{
		Use:   "set KEY VALUE [KEY VALUE ...]",
		Short: "Validate and store values, all in one transaction (VALUE - reads one line from standard input, for secrets)",
		Long: `Validates every KEY VALUE pair (and every --remove KEY), then applies them all
in one transaction, or nothing when one is refused.

Changing a setting that says where a secret is sent (waddleai_url,
license_server_url, smtp_host...) while that secret is set needs the secret
in the same command, for example:

  rookery config set waddleai_url https://ai.example.com waddleai_api_key -

Each VALUE given as - reads one line from standard input, in order.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args)%2 != 0 || len(args) == 0 && len(remove) == 0 {
				return errors.New("give KEY VALUE pairs (and/or --remove KEY)")
			}
			return nil
		},
		RunE: cl.withCore(func(cmd *cobra.Command, args []string, core *app.Core) error {
			in := bufio.NewReader(cmd.InOrStdin())
			var edits []config.Edit
			for i := 0; i < len(args); i += 2 {
				value := args[i+1]
				if value == "-" {
					line, err := readLine(in)
					if err != nil {
						return err
					}
					value = line
				}
				edits = append(edits, config.Edit{Key: args[i], Value: value})
			}
			for _, k := range remove {
				edits = append(edits, config.Edit{Key: k, Remove: true})
			}
			res, err := core.Store.Apply(cmd.Context(), edits, config.AnyRevision, config.Origin{Actor: actor})
			if err != nil {
				return explain(err)
			}
			for _, a := range res.Applied {
				if a.Removed {
					fmt.Fprintf(cmd.OutOrStdout(), "%s removed\n", a.Key)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s = %s (version %d)\n", a.Key, a.Entry.Shown(), a.Entry.Version)
			}
			return nil
		}),
	}
	set.Flags().StringVar(&actor, "actor", "cli", "name recorded in the audit trail")
	set.Flags().StringArrayVar(&remove, "remove", nil, "also remove this stored key in the same transaction (repeatable)")

	var force bool
	del := &cobra.Command{
		Use:   "delete KEY",
		Short: "Remove a stored key (its value falls back to the environment, then the default)",
		Long: `Removes a stored key; its value falls back to the environment, then the default.

A stored value that cannot be decrypted (tampered, or sealed with a key that
is no longer given) is only deleted with --force: it is lost for good, and
the audit trail records the old value as unreadable.`,
		Args: cobra.ExactArgs(1),
		RunE: cl.withCore(func(cmd *cobra.Command, args []string, core *app.Core) error {
			del := core.Store.Delete
			if force {
				del = core.Store.ForceDelete
			}
			if err := del(cmd.Context(), args[0], config.AnyVersion, config.Origin{Actor: actor}); err != nil {
				var re *config.SecretReentryError
				if errors.As(err, &re) {
					return fmt.Errorf("%w\nremove it and give the secrets in one command: rookery config set %s --remove %s",
						err, pairs(re.Secrets), args[0])
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s deleted\n", args[0])
			return nil
		}),
	}
	del.Flags().StringVar(&actor, "actor", "cli", "name recorded in the audit trail")
	del.Flags().BoolVar(&force, "force", false, "delete even a stored value that cannot be decrypted")

	var limit int
	history := &cobra.Command{
		Use:   "history KEY",
		Short: "Show a key's audit trail, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: cl.withCore(func(cmd *cobra.Command, args []string, core *app.Core) error {
			h, err := core.Store.History(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tACTION\tACTOR\tOLD\tNEW\tVERSION\tREQUEST")
			for _, a := range h {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", a.At.Format("2006-01-02 15:04:05Z07:00"), a.Action, a.Actor,
					deref(a.OldValue), deref(a.NewValue), a.Version, a.RequestID)
			}
			return tw.Flush()
		}),
	}
	history.Flags().IntVar(&limit, "limit", 50, "how many records")

	keys := &cobra.Command{
		Use:   "keys",
		Short: "List the declared keys: environment variable, type, category, rule, default",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tENV\tTYPE\tCATEGORY\tSENSITIVE\tRULE\tDEFAULT\tDESCRIPTION")
			reg, err := cl.registry()
			if err != nil {
				return err
			}
			for _, k := range reg.Keys() {
				rule := ""
				if k.Rule != nil {
					rule = k.Rule.Describe()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\t%s\t%s\n", k.Name, k.Env(), k.Type, k.Category, k.Sensitive, rule, k.Default, k.Description)
			}
			return tw.Flush()
		},
	}

	var newKey string
	rotate := &cobra.Command{
		Use:   "rotate-key",
		Short: "Re-encrypt every sensitive value with a new key",
		Long: `Re-encrypts every sensitive value with a new AES-256 key in one transaction.

With CONFIG_ENCRYPTION_KEY set, pass the new key with --new-key (or let one
be generated and printed), then set CONFIG_ENCRYPTION_KEY to it on every
replica; until they restart, give them the old key in
CONFIG_ENCRYPTION_OLD_KEYS. With the generated key file, the file is
replaced after the database commit.`,
		Args: cobra.NoArgs,
		RunE: cl.withCore(func(cmd *cobra.Command, _ []string, core *app.Core) error {
			return rotateKey(cmd, core, newKey)
		}),
	}
	rotate.Flags().StringVar(&newKey, "new-key", "", "the new key, base64 of 32 bytes (default: generate one)")

	cmd.AddCommand(list, get, set, del, history, keys, rotate)
	cmd.AddCommand(cl.configCodeCmds()...)
	return cmd
}

func rotateKey(cmd *cobra.Command, core *app.Core, newKey string) error {
	var k []byte
	var err error
	generated := newKey == ""
	if generated {
		k, err = config.NewKey()
	} else {
		k, err = config.DecodeKey(newKey)
	}
	if err != nil {
		return err
	}
	s := core.Settings
	usesFile := s.EncryptionKey == ""
	if usesFile {
		// Keep the new key on disk before the commit: if the process dies
		// after it, the key that opens the data is still there.
		if err := config.WriteKeyFile(s.KeyFile()+".new", k); err != nil {
			return err
		}
	}
	// The next sealer seals with the new key and still opens the old ones.
	oldKeys := append([]string{}, s.OldKeys...)
	curText := s.EncryptionKey
	if usesFile {
		b, _, err := config.LoadOrCreateKeyFile(s.KeyFile())
		if err != nil {
			return err
		}
		curText = config.EncodeKey(b)
	}
	var openers [][]byte
	for _, t := range append([]string{curText}, oldKeys...) {
		b, err := config.DecodeKey(t)
		if err != nil {
			return err
		}
		openers = append(openers, b)
	}
	next, err := config.NewSealer(k, openers...)
	if err != nil {
		return err
	}
	// One transaction re-seals the config values and the app secrets (the
	// token signing key): a failure leaves everything under the old key.
	res, err := core.Store.RotateKey(cmd.Context(), next, config.Origin{Actor: "cli"})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "re-encrypted %d sensitive value(s) and %d app secret(s) with key %s\n", res.Values, res.AppSecrets, config.KeyID(k))
	if usesFile {
		if err := os.Rename(s.KeyFile(), s.KeyFile()+".old"); err != nil {
			return fmt.Errorf("keep the old key file: %w", err)
		}
		if err := os.Rename(s.KeyFile()+".new", s.KeyFile()); err != nil {
			return fmt.Errorf("install the new key file: %w", err)
		}
		fmt.Fprintf(out, "the key file now holds the new key; the old one is in %s.old (delete it once no replica needs it)\n", s.KeyFile())
		return nil
	}
	if generated {
		fmt.Fprintf(out, "new key (store it safely, it is shown once):\n%s\n", config.EncodeKey(k))
	}
	fmt.Fprintln(out, "set CONFIG_ENCRYPTION_KEY to the new key on every replica; until they restart, add the old key to CONFIG_ENCRYPTION_OLD_KEYS")
	return nil
}

// unreadableNote tells the operator what an unreadable stored value means
// and how to clear it.
func unreadableNote(key string) string {
	return fmt.Sprintf("%s: the stored value cannot be decrypted with the configured keys, so the environment or default value is used; "+
		"set a new value, give the old key in CONFIG_ENCRYPTION_OLD_KEYS, or delete it with: rookery config delete %s --force", key, key)
}

// explain adds to a refused change the command that would do it.
func explain(err error) error {
	var re *config.SecretReentryError
	if errors.As(err, &re) {
		return fmt.Errorf("%w\nsend them along in the same command, for example: rookery config set %s %s",
			err, pairs(re.Changed[:1]), pairs(re.Secrets))
	}
	return err
}

// pairs renders keys as "KEY - KEY -" for a config set example.
func pairs(keys []string) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + " -")
	}
	return b.String()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return oneLine(*s)
}

// readLine reads one line. Pass the same *bufio.Reader to several reads
// (bufio.NewReader hands it back as it is) so that buffering does not
// swallow the lines meant for the next VALUE -.
func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
