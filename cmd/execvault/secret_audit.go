package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/execvault/execvault/secrets"
)

func (a *app) newSecretAuditCommand() *cobra.Command {
	var filter secrets.AuditFilter
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "audit [--vault-name VAULT] [--limit N] [--json]",
		Short: "Show the audit log of the store, oldest entry first",
		Long: `Show the audit log: who read or changed which secret, and the outcome.
Reads by executors are counted and written in batches, so one "read" line
with a count stands for several reads. Values never appear; valueMac is a
keyed hash that is equal for equal values.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if filter.Limit < 0 {
				return &usageError{fmt.Errorf("invalid --limit %d: use a positive number of entries, or 0 for all", filter.Limit)}
			}
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				entries, err := m.AuditLog(ctx, filter)
				if err != nil {
					return err
				}
				if asJSON {
					if entries == nil {
						entries = []secrets.AuditEntry{}
					}
					return writeJSONTo(a.stdout, entries)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "time\tactor\taction\tvault\tname\tversion\toutcome\tcount\tdetail")
				for _, e := range entries {
					version, count := "", ""
					if e.Version > 0 {
						version = fmt.Sprint(e.Version)
					}
					if e.Count > 0 {
						count = fmt.Sprint(e.Count)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", formatTime(e.Time), e.Actor, e.Action, e.Vault, e.Name, version, e.Outcome, count, e.Detail)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVarP(&filter.Vault, "vault-name", "V", "", "show only entries of this vault")
	cmd.Flags().IntVar(&filter.Limit, "limit", 0, "show only the newest N entries (0: all)")
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "print JSON instead of a table")
	return cmd
}
