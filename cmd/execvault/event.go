package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/execvault/execvault/triggers"
	"github.com/spf13/cobra"
)

func init() { commandAdders = append(commandAdders, addEventCommands) }

func addEventCommands(a *app, root *cobra.Command) {
	event := &cobra.Command{Use: "event", Short: "Inspect the event log of execvault run"}

	var asJSON bool
	var out string
	aside := &cobra.Command{
		Use:   "aside [SEQ [-o FILE]] [--json]",
		Short: "List stored events set aside because they could not be decoded",
		Long: `List the pending events that execvault run set aside because their stored
bytes could not be decoded: damaged on disk, or written by a newer
execvault. The events after them run; these stay in the data directory as
they were stored. With SEQ, show one of them, and with -o FILE write its
stored bytes to FILE with mode 0600. --json prints JSON, with the stored
bytes as base64.

Send such an event again to process it: the event log no longer
remembers its id, so the resend is accepted.

While execvault run serves the data directory, this command reads
through its admin socket.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				if out != "" {
					return &usageError{errors.New("-o needs SEQ: execvault event aside SEQ -o FILE")}
				}
				entries, err := a.setAsideEvents(cmd.Context())
				if err != nil {
					return err
				}
				return a.listSetAside(entries, asJSON)
			}
			seq, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return &usageError{fmt.Errorf("invalid SEQ %q: use a sequence number that 'execvault event aside' lists", args[0])}
			}
			entries, err := a.setAsideEvents(cmd.Context())
			if err != nil {
				return err
			}
			for _, e := range entries {
				if e.Seq == seq {
					return a.showSetAside(e, out, asJSON)
				}
			}
			return fmt.Errorf("no event %d is set aside in %s: 'execvault event aside' lists those that are", seq, a.dataDir)
		},
	}
	aside.Flags().BoolVarP(&asJSON, "json", "j", false, "print JSON, with the stored bytes as base64")
	aside.Flags().StringVarP(&out, "output", "o", "", "write the stored bytes of event SEQ to this file")
	event.AddCommand(aside)
	root.AddCommand(event)
}

// setAsideEvents reads the set-aside events through the admin socket of
// the running execvault, or from the state database opened directly.
func (a *app) setAsideEvents(ctx context.Context) ([]triggers.SetAsideEvent, error) {
	var entries []triggers.SetAsideEvent
	socket := filepath.Join(a.dataDir, "admin.sock")
	if adminSocketLive(socket) {
		return entries, newJobsClient(socket).do(ctx, http.MethodGet, "/v1/events/aside", &entries)
	}
	if _, err := os.Stat(filepath.Join(a.dataDir, "state")); err != nil {
		return nil, fmt.Errorf("no event log in %s: execvault run has not stored events there yet", a.dataDir)
	}
	db, err := openState(a.dataDir, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	events, err := triggers.OpenEventLog(ctx, db, triggers.EventLogConfig{Logger: log})
	if err != nil {
		return nil, err
	}
	return events.SetAsideEvents(ctx)
}

func (a *app) listSetAside(entries []triggers.SetAsideEvent, asJSON bool) error {
	if asJSON {
		if entries == nil {
			entries = []triggers.SetAsideEvent{}
		}
		return writeIndentedJSON(a.stdout, entries)
	}
	if len(entries) == 0 {
		fmt.Fprintf(a.stderr, "No event is set aside in %s.\n", a.dataDir)
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tEVENT\tACCEPTED\tSET ASIDE\tBYTES\tERROR")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", e.Seq, orDash(e.EventID), timeOrDash(e.AcceptedAt), timeOrDash(e.SetAsideAt), len(e.Raw), oneLine(e.Error))
	}
	return tw.Flush()
}

// showSetAside prints one set-aside event, or with out writes its stored
// bytes to that file.
func (a *app) showSetAside(e triggers.SetAsideEvent, out string, asJSON bool) error {
	if out != "" {
		if err := os.WriteFile(out, e.Raw, 0o600); err != nil {
			return fmt.Errorf("write the stored bytes of event %d: %w", e.Seq, err)
		}
		fmt.Fprintf(a.stderr, "Wrote the %s of event %d to %s\n", plural(len(e.Raw), "stored byte"), e.Seq, out)
		return nil
	}
	if asJSON {
		return writeIndentedJSON(a.stdout, e)
	}
	fmt.Fprintf(a.stdout, "Event %d (id %s)\nAccepted: %s\nSet aside: %s\nError: %s\nStored bytes: %d (-o FILE writes them, --json prints them as base64)\n",
		e.Seq, orDash(e.EventID), timeOrDash(e.AcceptedAt), timeOrDash(e.SetAsideAt), e.Error, len(e.Raw))
	return nil
}

// setAsideHandler serves the set-aside events on the admin socket:
//
//	GET /v1/events/aside
func setAsideHandler(events *triggers.EventLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		entries, err := events.SetAsideEvents(r.Context())
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(entries)
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
