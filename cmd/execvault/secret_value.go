package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/execvault/execvault/secrets"
)

// secretRef is the pair of -V and -n flags every secret command takes.
type secretRef struct {
	vault string
	name  string
}

func (r *secretRef) register(cmd *cobra.Command, withName bool) {
	cmd.Flags().StringVarP(&r.vault, "vault-name", "V", "", "vault name (required)")
	_ = cmd.MarkFlagRequired("vault-name")
	if withName {
		cmd.Flags().StringVarP(&r.name, "name", "n", "", "secret name (required)")
		_ = cmd.MarkFlagRequired("name")
	}
}

func (a *app) newSecretCreateCommand() *cobra.Command {
	var ref secretRef
	var vf valueFlags
	cmd := &cobra.Command{
		Use:   "create -V VAULT -n NAME [--value-stdin | --value-file FILE | -v VALUE]",
		Short: "Create a secret; without a value flag, prompt for it on a terminal",
		Args:  valueArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			value, err := a.readValue(cmd, &vf, ref.name)
			if err != nil {
				return err
			}
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				if _, err := m.CreateSecret(ctx, ref.vault, ref.name, value); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "Secret: %s created in vault: %s\n", ref.name, ref.vault)
				return nil
			})
		},
	}
	ref.register(cmd, true)
	vf.register(cmd)
	return cmd
}

func (a *app) newSecretUpdateCommand() *cobra.Command {
	var ref secretRef
	var vf valueFlags
	var ifVersion uint64
	cmd := &cobra.Command{
		Use:   "update -V VAULT -n NAME [--value-stdin | --value-file FILE | -v VALUE] [--if-version N]",
		Short: "Store a new version of a secret, keeping the previous ones",
		Args:  valueArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			value, err := a.readValue(cmd, &vf, ref.name)
			if err != nil {
				return err
			}
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				if _, err := m.UpdateSecret(ctx, ref.vault, ref.name, value, secrets.UpdateOptions{IfVersion: ifVersion}); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "Secret: %s updated in vault: %s\n", ref.name, ref.vault)
				return nil
			})
		},
	}
	ref.register(cmd, true)
	vf.register(cmd)
	cmd.Flags().Uint64Var(&ifVersion, "if-version", 0, "update only if the current version is N (0: always)")
	return cmd
}

func (a *app) newSecretListCommand() *cobra.Command {
	var ref secretRef
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list -V VAULT [--json]",
		Short: "List the secrets of a vault, never their values",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				list, err := m.ListSecrets(ctx, ref.vault)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSONTo(a.stdout, list)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "name\tversion\tcreatedAt\tupdatedAt")
				for _, s := range list {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", s.Name, s.Version, formatTime(s.CreatedAt), formatTime(s.UpdatedAt))
				}
				return tw.Flush()
			})
		},
	}
	ref.register(cmd, false)
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "print JSON instead of a table")
	return cmd
}

func (a *app) newSecretDeleteCommand() *cobra.Command {
	var ref secretRef
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete -V VAULT -n NAME [--yes]",
		Short: "Delete a secret with all its versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !yes {
				if err := a.confirmDeletion(cmd.Context(), "secret", ref.name); err != nil {
					return err
				}
			}
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				if err := m.DeleteSecret(ctx, ref.vault, ref.name); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "Secret: %s deleted from vault: %s\n", ref.name, ref.vault)
				return nil
			})
		},
	}
	ref.register(cmd, true)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking for confirmation")
	return cmd
}

func (a *app) newSecretGetCommand() *cobra.Command {
	var ref secretRef
	var reveal, asJSON bool
	var version uint64
	cmd := &cobra.Command{
		Use:   "get -V VAULT -n NAME [--reveal [--version N]] [--json]",
		Short: "Show a secret's metadata, or its value with --reveal (audited)",
		Long: `Show a secret's metadata. With --reveal, print the value followed by one
newline on stdout; the read is recorded in the audit log.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("version") && !reveal {
				return &usageError{errors.New("--version selects the value to print, so it needs --reveal; 'secret versions' lists the kept versions")}
			}
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				if !reveal {
					info, err := m.GetSecret(ctx, ref.vault, ref.name)
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSONTo(a.stdout, info)
					}
					tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "name\tvault\tversion\tcreatedAt\tupdatedAt")
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", info.Name, info.Vault, info.Version, formatTime(info.CreatedAt), formatTime(info.UpdatedAt))
					return tw.Flush()
				}

				info, value, err := m.RevealSecret(ctx, ref.vault, ref.name, version)
				if err != nil {
					return err
				}
				if asJSON {
					// encoding/json replaces invalid UTF-8 with U+FFFD, so
					// the printed value would differ from the stored one.
					if !utf8.ValidString(value.Reveal()) {
						return fmt.Errorf("reveal secret %q in vault %q as JSON: the value is not valid UTF-8, so JSON cannot carry it unchanged; use --reveal without --json", ref.name, ref.vault)
					}
					return writeJSONTo(a.stdout, revealedSecret{
						Vault: info.Vault, Name: info.Name, Version: revealed(version, info.Version),
						CurrentVersion: info.Version, CreatedAt: info.CreatedAt, UpdatedAt: info.UpdatedAt,
						Value: value.Reveal(),
					})
				}
				_, err = fmt.Fprintln(a.stdout, value.Reveal())
				return err
			})
		},
	}
	ref.register(cmd, true)
	cmd.Flags().BoolVar(&reveal, "reveal", false, "print the value (audited)")
	cmd.Flags().Uint64Var(&version, "version", 0, "with --reveal, the version to print (0: current)")
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "print JSON")
	return cmd
}

// revealedSecret is the JSON output of get --reveal. Version is the version
// whose value is shown.
type revealedSecret struct {
	Vault          string    `json:"vault"`
	Name           string    `json:"name"`
	Version        uint64    `json:"version"`
	CurrentVersion uint64    `json:"currentVersion"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	Value          string    `json:"value"`
}

// revealed returns the version a reveal showed: the requested one, or the
// current one for 0.
func revealed(requested, current uint64) uint64 {
	if requested == 0 {
		return current
	}
	return requested
}

func (a *app) newSecretVersionsCommand() *cobra.Command {
	var ref secretRef
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "versions -V VAULT -n NAME [--json]",
		Short: "List the kept versions of a secret",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				versions, err := m.ListVersions(ctx, ref.vault, ref.name)
				if err != nil {
					return err
				}
				if asJSON {
					if versions == nil {
						versions = []secrets.VersionInfo{}
					}
					return writeJSONTo(a.stdout, versions)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "version\tcreatedAt\tdataKey\tcurrent")
				for _, v := range versions {
					current := ""
					if v.Current {
						current = "*"
					}
					fmt.Fprintf(tw, "%d\t%s\t%d\t%s\n", v.Version, formatTime(v.CreatedAt), v.DataKey, current)
				}
				return tw.Flush()
			})
		},
	}
	ref.register(cmd, true)
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "print JSON instead of a table")
	return cmd
}

func (a *app) newSecretRollbackCommand() *cobra.Command {
	var ref secretRef
	var to uint64
	cmd := &cobra.Command{
		Use:   "rollback -V VAULT -n NAME --to N",
		Short: "Store the value of version N as a new current version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				info, err := m.Rollback(ctx, ref.vault, ref.name, to)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "Secret: %s rolled back to version %d in vault: %s (now version %d)\n", ref.name, to, ref.vault, info.Version)
				return nil
			})
		},
	}
	ref.register(cmd, true)
	cmd.Flags().Uint64Var(&to, "to", 0, "version whose value to restore (required)")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}
