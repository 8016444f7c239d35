package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/execvault/execvault/secrets"
)

func (a *app) newSecretVaultCommand() *cobra.Command {
	vault := &cobra.Command{Use: "vault", Short: "Manage vaults"}

	var name string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a vault (NAME may also be given with --name)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vaultName, err := nameFromArgs(args, name)
			if err != nil {
				return err
			}
			return a.withNewOrExistingManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				if _, err := m.CreateVault(ctx, vaultName); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "Vault: %s created\n", vaultName)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "vault name")

	var yes bool
	deleteCmd := &cobra.Command{
		Use:   "delete NAME [--yes]",
		Short: "Delete a vault with all its secrets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				if err := a.confirmDeletion(cmd.Context(), "vault", args[0]); err != nil {
					return err
				}
			}
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				if err := m.DeleteVault(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "Vault: %s deleted\n", args[0])
				return nil
			})
		},
	}
	deleteCmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking for confirmation")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list [--json]",
		Short: "List vaults with their creation and update times",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				vaults, err := m.ListVaults(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSONTo(a.stdout, vaults)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "name\tcreatedAt\tupdatedAt")
				for _, v := range vaults {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, formatTime(v.CreatedAt), formatTime(v.UpdatedAt))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVarP(&asJSON, "json", "j", false, "print JSON instead of a table")

	vault.AddCommand(create, deleteCmd, list)
	return vault
}

// nameFromArgs takes a name from the single argument or from --name.
func nameFromArgs(args []string, flag string) (string, error) {
	switch {
	case len(args) == 1 && flag != "" && flag != args[0]:
		return "", &usageError{fmt.Errorf("two names given, %q and --name %q: pass one", args[0], flag)}
	case len(args) == 1:
		return args[0], nil
	case flag != "":
		return flag, nil
	}
	return "", &usageError{errors.New("missing vault name: pass NAME or --name NAME")}
}

func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
