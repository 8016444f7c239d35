package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/runtime"
	"github.com/execvault/execvault/secrets"
	"github.com/execvault/execvault/triggers"
	"github.com/execvault/execvault/webhook"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func init() { commandAdders = append(commandAdders, addReplayCommand) }

type replayOptions struct {
	runtimeFlags
	deliveryFlags
	dryRun        bool
	skipSnapshots bool
	typeMap       []string
	workspaceID   string
	namespace     string
}

// urlOverrideUsage is the help text of --url-override.
const urlOverrideUsage = "FROM=TO: send webhooks whose URL starts with FROM to TO instead, keeping the rest of the URL. FROM matches up to a /, ? or # and both are http or https URLs (repeatable)"

// deliveryFlags override where and how webhooks are delivered.
type deliveryFlags struct {
	urlOverrides []string
	maxAttempts  int
	backoff      time.Duration
	timeout      time.Duration
	// changed reports whether the flag name was given.
	changed func(name string) bool
}

func (d *deliveryFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	d.changed = f.Changed
	f.StringArrayVar(&d.urlOverrides, "url-override", nil, urlOverrideUsage)
	f.IntVar(&d.maxAttempts, "max-attempts", 0, "delivery attempts per webhook (default the executor's policy, 10)")
	f.DurationVar(&d.backoff, "backoff", 0, "delay after the first failed attempt, doubling after each (default the executor's policy, 10s)")
	f.DurationVar(&d.timeout, "attempt-timeout", 0, "timeout of one delivery attempt (default the executor's policy, 60s)")
}

// options returns the dispatch options the flags select.
func (d *deliveryFlags) options(wait bool) (runtime.DispatchOptions, error) {
	rewrites, err := parseRewrites(d.urlOverrides)
	if err != nil {
		return runtime.DispatchOptions{}, err
	}
	if err := d.checkPolicy(); err != nil {
		return runtime.DispatchOptions{}, err
	}
	policy := webhook.Policy{MaxAttempts: d.maxAttempts, BackoffBase: d.backoff, AttemptTimeout: d.timeout}
	return runtime.DispatchOptions{Wait: wait, Rewrites: rewrites, Policy: policy}, nil
}

// checkPolicy rejects each given delivery flag whose value would make
// every job invalid at enqueue, naming it. A zero policy field keeps the
// executor's policy, so a flag given as 0 is rejected too, rather than
// silently meaning the default.
func (d *deliveryFlags) checkPolicy() error {
	check := func(name, value string, set func(*webhook.Policy)) error {
		if !d.changed(name) {
			return nil
		}
		p := webhook.DefaultPolicy()
		set(&p)
		if p.BackoffBase > p.BackoffMax {
			return &usageError{fmt.Errorf("invalid --%s %s: it is above the longest delay between attempts, %s; use at most that", name, value, p.BackoffMax)}
		}
		if err := p.Validate(); err != nil {
			return &usageError{fmt.Errorf("invalid --%s %s: %w", name, value, err)}
		}
		return nil
	}
	return cmp.Or(
		check("max-attempts", strconv.Itoa(d.maxAttempts), func(p *webhook.Policy) { p.MaxAttempts = d.maxAttempts }),
		check("backoff", d.backoff.String(), func(p *webhook.Policy) { p.BackoffBase = d.backoff }),
		check("attempt-timeout", d.timeout.String(), func(p *webhook.Policy) { p.AttemptTimeout = d.timeout }),
	)
}

func addReplayCommand(a *app, root *cobra.Command) {
	var o replayOptions
	cmd := &cobra.Command{
		Use:   "replay --plugins DIR FILE",
		Short: "Fire executors on the record events of a JSONL file",
		Long: `Fire executors on the record events of a JSONL file and deliver their webhooks.

Each line is one record event, either in the platform's raw format
({"eventType":"tailordb.type_record.created","typeName":...,"newRecord":...})
or a Debezium change event (with or without the schema wrapper). FILE "-"
reads standard input.

One line is printed per executor firing: delivered with the HTTP status,
skipped by condition, or failed with the reason; then a summary. An event
of a type that no executor has a record trigger on prints no line, and a
note after the summary names such types and the types the executors take.
A malformed line is reported with its number and the other lines still run.
Webhook job ids derive from the event id, so a firing on an event id seen
on an earlier line is reported as a duplicate of that line and not sent.
Webhook jobs are kept in memory and each is waited for, retries included:
with the default policy, a receiver that is down holds each firing for
about 72 minutes. The first failed attempt of a firing prints a notice on
standard error with the time of the next attempt; --max-attempts and
--backoff shorten the wait. Unlike execvault run, replay does not pause a
destination after repeated failures (the circuit breaker is off), so
these two flags alone set how long a receiver that is down holds each
firing.

With --dry-run, each request is printed instead of sent, with every
header it would carry and the values of secret and signature headers
masked. A firing whose webhook references a secret that does not exist
is reported as failed, as the real run would fail it; the dry run checks
only that each secret exists and reads no value.

Each failure is shown once: in its row, and for a failed attempt that is
retried, in the notice. --log-level debug adds the log of every attempt,
with its job id, URL, status and duration.

Interrupted (Ctrl-C), replay stops waiting, prints the summary of the
lines replayed so far and exits 1; interrupted while the plugins load,
it says so and exits 1.

Exit status: 0 when every firing was delivered or skipped, 1 when a
firing failed, a line was malformed or replay was interrupted, 2 on a
usage error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.replay(cmd.Context(), &o, args[0])
		},
	}
	o.runtimeFlags.register(cmd, "warn")
	o.deliveryFlags.register(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "print each request with its headers, secret and signature values masked, instead of sending it, and report referenced secrets that do not exist")
	f.BoolVar(&o.skipSnapshots, "skip-snapshot", false, "skip Debezium snapshot reads (op \"r\") instead of treating them as created")
	f.StringArrayVar(&o.typeMap, "type-map", nil, "TABLE=TYPE: type name for a Debezium source table or MongoDB collection, as table, schema.table or db.table (repeatable; default the table name)")
	f.StringVar(&o.workspaceID, "workspace-id", triggers.DefaultWorkspaceID, "workspaceId for Debezium events")
	f.StringVar(&o.namespace, "namespace", triggers.DefaultNamespaceName, "appNamespace for Debezium events")
	root.AddCommand(cmd)
}

func (a *app) replay(ctx context.Context, o *replayOptions, file string) error {
	// The dispatcher's workers write retry notices and logs while replay
	// writes its own messages.
	a.stderr = &lockedWriter{w: a.stderr}
	opts, err := o.deliveryFlags.options(!o.dryRun)
	if err != nil {
		return err
	}
	typeNames, err := parsePairs("--type-map", o.typeMap)
	if err != nil {
		return err
	}
	if err := checkPluginDir(o.pluginDir); err != nil {
		return err
	}

	in := a.stdin
	var bar *progressbar.ProgressBar
	if file != "-" {
		fh, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("open event file: %w", err)
		}
		defer fh.Close()
		in = fh
		if bar = a.progressBar(fh); bar != nil {
			reader := progressbar.NewReader(fh, bar)
			in = &reader
			defer bar.Close()
		}
	}

	notices := &retryNotices{out: a.stderr, now: time.Now, command: "Replay", hint: o.deliveryFlags.waitHint()}
	env, err := a.openRuntimeEnv(ctx, &o.runtimeFlags, envOptions{
		memoryState:  true,
		adminSecrets: true,
		webhook:      waitingWebhookConfig(notices.attempt),
	})
	if errors.Is(err, errLoadInterrupted) {
		fmt.Fprintf(a.stderr, "Replay interrupted while loading the plugins of %s; no line was replayed.\n", o.pluginDir)
		return &exitCodeError{code: exitError}
	}
	if err != nil {
		return err
	}
	defer env.close(ctx)

	if err := checkUnmatchedRewrites(a.stderr, env.rt.Executors(), opts.Rewrites); err != nil {
		return err
	}
	if !slices.ContainsFunc(env.rt.Executors(), func(e *runtime.Executor) bool { return e.Trigger.Kind == plugins.TriggerRecord }) {
		fmt.Fprintf(a.stderr, "Note: no executor in %s has a record trigger, so replay fires none; 'execvault executor trigger NAME' fires schedule and incoming webhook triggers.\n", o.pluginDir)
	}

	var deliverer runtime.Deliverer = env.dispatcher
	var dry *dryRunDeliverer
	if o.dryRun {
		dry = &dryRunDeliverer{out: a.stdout, headers: env.dispatcher.RequestHeaders, secretExists: env.secretExists}
		deliverer = dry
	} else if err := env.dispatcher.Start(ctx); err != nil {
		return fmt.Errorf("start webhook dispatcher: %w", err)
	}

	reader := triggers.NewReader(in, triggers.DecodeOptions{
		WorkspaceID:       o.workspaceID,
		NamespaceName:     o.namespace,
		TypeNames:         typeNames,
		SkipSnapshotReads: o.skipSnapshots,
	})

	out, isFile := a.stdout.(*os.File)
	stdoutTerminal := isFile && term.IsTerminal(int(out.Fd()))

	sum := replaySummary{dryRun: o.dryRun}
	// jobLines maps each webhook job id to the line that created it. Job
	// ids derive from the event id and executor, so a repeated event id
	// yields the stored job again and nothing is sent for it.
	jobLines := map[string]int{}
	// lastLine is the number of the last line whose event was fired.
	lastLine := 0
	rows := newResultRows(a.stdout, env.rt.Executors())
	unknown := newUnknownTypes(env.rt.Executors())
	for {
		ev, err := reader.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var lineErr *triggers.LineError
		if errors.As(err, &lineErr) {
			sum.malformed++
			fmt.Fprintf(a.stderr, "line %d: skipped: %v\n", lineErr.Line, lineErr.Err)
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", file, err)
		}
		if ctx.Err() != nil {
			break
		}

		sum.events++
		notices.setLine(reader.Line())
		firings := env.rt.HandleRecordEvent(ctx, deliverer, &ev, opts)
		unknown.see(ev.TypeName)
		if bar != nil && len(firings) > 0 && stdoutTerminal {
			// The lines share the terminal with the bar, which redraws
			// itself below them.
			_ = bar.Clear()
		}
		for _, f := range firings {
			if dry != nil {
				f = dry.result(f)
			}
			status := firingText(f)
			if interruptedFiring(ctx, f) {
				sum.firings++
				sum.interrupted++
				status = "interrupted before its webhook was delivered"
			} else if first, ok := jobLines[f.JobID]; ok && f.JobID != "" {
				sum.firings++
				sum.duplicates++
				status = fmt.Sprintf("duplicate of line %d (same event id), not sent", first)
			} else {
				if f.JobID != "" {
					jobLines[f.JobID] = reader.Line()
				}
				sum.add(f)
			}
			rows.write(fmt.Sprintf("line %d", reader.Line()), eventLabel(ev), ev.TypeName+" "+ev.Kind(), f.Executor, status)
		}
		lastLine = reader.Line()
	}
	fmt.Fprintln(a.stdout, sum.String())
	unknown.note(a.stderr)
	if ctx.Err() != nil {
		fmt.Fprintf(a.stderr, "Replay interrupted after line %d: the summary covers the lines up to it, and later lines were not replayed. "+
			"A webhook in flight may have reached its receiver.\n", lastLine)
		return &exitCodeError{code: exitError}
	}
	if sum.failed > 0 || sum.malformed > 0 {
		return &exitCodeError{code: exitError}
	}
	return nil
}

// unknownTypes counts the events of types that no enabled executor has a
// record trigger on. replay prints no row for them, so a misspelt typeName
// or an unmapped Debezium table would otherwise pass without a word.
type unknownTypes struct {
	// known is the set of type names of the enabled record triggers.
	known  map[string]bool
	counts map[string]int
}

func newUnknownTypes(execs []*runtime.Executor) *unknownTypes {
	u := &unknownTypes{known: map[string]bool{}, counts: map[string]int{}}
	for _, e := range execs {
		if !e.Disabled && e.Trigger.Kind == plugins.TriggerRecord {
			u.known[e.Trigger.TypeName] = true
		}
	}
	return u
}

func (u *unknownTypes) see(typeName string) {
	if !u.known[typeName] {
		u.counts[typeName]++
	}
}

// maxUnknownTypes is how many unknown type names the note lists.
const maxUnknownTypes = 5

// note writes which event types matched no executor, with the types the
// executors take. It writes nothing when every type matched, or when no
// executor has a record trigger, which replay notes before it starts.
func (u *unknownTypes) note(w io.Writer) {
	if len(u.counts) == 0 || len(u.known) == 0 {
		return
	}
	names := slices.Sorted(maps.Keys(u.counts))
	var listed []string
	for _, name := range names[:min(len(names), maxUnknownTypes)] {
		listed = append(listed, fmt.Sprintf("%q (%s)", name, plural(u.counts[name], "event")))
	}
	if more := len(names) - len(listed); more > 0 {
		listed = append(listed, fmt.Sprintf("%d more", more))
	}
	kind := "type"
	if len(names) > 1 {
		kind = "types"
	}
	fmt.Fprintf(w, "Note: no executor has a record trigger on %s %s, so those events fired nothing. "+
		"The executors take %s: check the typeName of the events, or map a Debezium table with --type-map TABLE=TYPE.\n",
		kind, strings.Join(listed, ", "), strings.Join(slices.Sorted(maps.Keys(u.known)), ", "))
}

// interruptedFiring reports whether the end of ctx, not the executor or
// the receiver, failed f. The dispatcher stops when ctx ends too, so a
// wait for the job can end with either error.
func interruptedFiring(ctx context.Context, f runtime.Firing) bool {
	return ctx.Err() != nil && f.State == runtime.FiringFailed &&
		(errors.Is(f.Err, ctx.Err()) || errors.Is(f.Err, webhook.ErrClosed))
}

// waitingWebhookConfig returns the dispatcher settings of replay and of
// executor trigger without run, which wait for each firing's webhook
// before they go on. The circuit breaker is off: no backlog builds up,
// and a pause would hold each firing longer than --max-attempts and
// --backoff set. Failed attempts are logged at debug level only, because
// the command reports each in a retry notice (onAttempt) or in the
// firing's row.
func waitingWebhookConfig(onAttempt func(webhook.Job)) func(*webhook.Config) {
	return func(c *webhook.Config) {
		c.DisableBreaker = true
		c.QuietAttempts = true
		c.OnAttempt = onAttempt
	}
}

// retryNotices prints a notice, once per webhook job, that a delivery
// attempt failed and the command is waiting for the next one, because with
// the default policy the wait for one firing can last about 72 minutes.
// It is safe for concurrent use.
type retryNotices struct {
	out io.Writer
	now func() time.Time
	// command names the command that waits, such as "Replay".
	command string
	// hint ends each notice: how to shorten the wait, or nothing.
	hint string

	mu sync.Mutex
	// line, when above 0, is the line number of the event being fired.
	// Replay fires one event at a time and waits for its jobs, so every
	// attempt reported belongs to it.
	line     int
	reported map[string]bool // by job id
}

func (n *retryNotices) setLine(line int) {
	n.mu.Lock()
	n.line = line
	n.mu.Unlock()
}

// attempt is the dispatcher's OnAttempt callback.
func (n *retryNotices) attempt(j webhook.Job) {
	if j.Status != webhook.StatusPending || j.NextAttemptAt.IsZero() {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.reported[j.ID] {
		return
	}
	if n.reported == nil {
		n.reported = map[string]bool{}
	}
	n.reported[j.ID] = true

	wait := max(j.NextAttemptAt.Sub(n.now()), 0)
	if wait >= time.Second {
		wait = wait.Round(time.Second)
	} else {
		wait = wait.Round(time.Millisecond)
	}
	if n.line > 0 {
		fmt.Fprintf(n.out, "line %d: ", n.line)
	}
	fmt.Fprintf(n.out, "%s: attempt %d of %d failed: %s. Next attempt at %s (in %s). "+
		"%s waits for every attempt of each webhook%s.\n",
		j.Executor, j.AttemptsInRound(), j.Policy.MaxAttempts, oneLine(j.LastError),
		j.NextAttemptAt.Local().Format(time.TimeOnly), wait, n.command, n.hint)
}

// waitHint returns the end of a retry notice: which of --max-attempts and
// --backoff would shorten the wait, leaving out those already given.
func (d *deliveryFlags) waitHint() string {
	switch {
	case d.maxAttempts == 0 && d.backoff == 0:
		return "; --max-attempts and --backoff shorten this, such as --max-attempts 2 --backoff 1s"
	case d.maxAttempts == 0:
		return "; --max-attempts shortens this, such as --max-attempts 2"
	case d.backoff == 0:
		return "; --backoff shortens this, such as --backoff 1s"
	default:
		return ""
	}
}

// resultRows writes one aligned row per firing as soon as its result is
// final, so that a slow receiver does not hold back the rows before it.
// Columns are padded to the widest value seen so far, and start at the
// widths the loaded executors call for, so that the rows of a usual file
// align from the first one. The last column, the status, is not padded.
type resultRows struct {
	out    io.Writer
	widths [4]int
}

// firstLineColumn is the initial width of the line number column, which
// fits "line 9999".
const firstLineColumn = len("line 9999")

func newResultRows(out io.Writer, execs []*runtime.Executor) *resultRows {
	r := &resultRows{out: out}
	r.widths[0] = firstLineColumn
	for _, e := range execs {
		if e.Trigger.Kind != plugins.TriggerRecord {
			continue
		}
		r.widths[2] = max(r.widths[2], len(e.Trigger.TypeName)+len(" created"))
		r.widths[3] = max(r.widths[3], len(e.Name))
	}
	return r
}

// write prints the row of columns line, event, record, executor and status.
func (r *resultRows) write(cols ...string) {
	var b strings.Builder
	for i, col := range cols {
		if i < len(r.widths) {
			r.widths[i] = max(r.widths[i], len(col))
			fmt.Fprintf(&b, "%-*s  ", r.widths[i], col)
			continue
		}
		b.WriteString(col)
	}
	b.WriteByte('\n')
	io.WriteString(r.out, b.String())
}

// lockedWriter serializes the writes to w, for a writer that goroutines
// share.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// checkPluginDir fails when dir exists but holds no .wasm file, because
// replay would then fire nothing and report success. A missing or
// unreadable dir is left for the runtime to report.
func checkPluginDir(dir string) error {
	if dir == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".wasm") {
			return nil
		}
	}
	return fmt.Errorf("no plugins in %s: --plugins expects a directory of .wasm files built with \"execvault plugin build SOURCE -o %s\"",
		dir, filepath.Join(dir, "NAME.wasm"))
}

// progressMinBytes is the file size from which replay shows a progress bar.
const progressMinBytes = 1 << 20

// progressBar returns a bar on standard error that tracks reading f. It
// returns nil unless standard error is a terminal and f is large enough to
// take a while.
func (a *app) progressBar(f *os.File) *progressbar.ProgressBar {
	out, ok := a.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(out.Fd())) {
		return nil
	}
	info, err := f.Stat()
	if err != nil || info.Size() < progressMinBytes {
		return nil
	}
	return progressbar.NewOptions64(info.Size(),
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription("replay"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

func eventLabel(ev triggers.RecordEvent) string {
	if ev.ID == "" {
		return "-"
	}
	return ev.ID
}

// firingText describes a firing's outcome on one line. Errors name vaults
// and keys, never values.
func firingText(f runtime.Firing) string {
	switch f.State {
	case runtime.FiringSkipped:
		return "skipped by condition"
	case runtime.FiringDelivered:
		return fmt.Sprintf("delivered (HTTP %d, %s)", f.HTTPStatus, plural(f.Attempts, "attempt"))
	case runtime.FiringQueued:
		return "would send as job " + f.JobID + " (dry run)"
	default:
		// A job's error starts with "job ID failed" or ends with "was
		// canceled", so it needs no prefix.
		var jobErr *runtime.JobError
		if errors.As(f.Err, &jobErr) {
			return oneLine(f.Err.Error())
		}
		return "failed: " + oneLine(f.Err.Error())
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

type replaySummary struct {
	events, firings, delivered, queued, skipped, failed, malformed int
	// duplicates counts firings whose job an earlier line with the same
	// event id already created.
	duplicates int
	// interrupted counts firings that the interruption of replay ended.
	interrupted int
	// dryRun makes the summary count webhooks as would be sent, not delivered.
	dryRun bool
}

func (s *replaySummary) add(f runtime.Firing) {
	s.firings++
	switch f.State {
	case runtime.FiringDelivered:
		s.delivered++
	case runtime.FiringQueued:
		s.queued++
	case runtime.FiringSkipped:
		s.skipped++
	default:
		s.failed++
	}
}

func (s replaySummary) String() string {
	sent := fmt.Sprintf("%d delivered", s.delivered)
	if s.dryRun {
		sent = fmt.Sprintf("%d would be sent (dry run)", s.queued)
	}
	if s.duplicates > 0 {
		sent += ", " + plural(s.duplicates, "duplicate") + " not sent"
	}
	failed := fmt.Sprintf("%d failed", s.failed)
	if s.interrupted > 0 {
		failed += fmt.Sprintf(", %d interrupted", s.interrupted)
	}
	return fmt.Sprintf("%s, %s: %s, %d skipped by condition, %s; %s",
		plural(s.events, "event"), plural(s.firings, "firing"), sent, s.skipped, failed, plural(s.malformed, "malformed line"))
}

// rewriteExample is the expected form of --url-override, shown in its errors.
const rewriteExample = "use FROM=TO, both http or https URLs with a host, for example https://api.example.com=http://127.0.0.1:8080"

// parseRewrites parses --url-override FROM=TO flags. FROM and TO must
// both be http or https URLs with a host, so that a typo fails here
// instead of at delivery, or by sending a request to the real host.
func parseRewrites(flags []string) ([]runtime.URLRewrite, error) {
	var out []runtime.URLRewrite
	for _, f := range flags {
		from, to, ok := strings.Cut(f, "=")
		if !ok || from == "" || to == "" {
			return nil, &usageError{fmt.Errorf("invalid --url-override %q: %s", f, rewriteExample)}
		}
		for _, part := range []struct{ name, value string }{{"FROM", from}, {"TO", to}} {
			if !isHTTPURL(part.value) {
				return nil, &usageError{fmt.Errorf("invalid --url-override %q: %s %q is not an http or https URL with a host: %s", f, part.name, part.value, rewriteExample)}
			}
		}
		out = append(out, runtime.URLRewrite{From: from, To: to})
	}
	return out, nil
}

// unmatchedRewrites checks rewrites against the static webhook URL of each
// executor in execs. It returns the FROM of every rewrite that matches none
// of them, the sorted origins (scheme and host) of those URLs, and the
// names of the executors that compute their URL per firing, which a
// rewrite may still match.
func unmatchedRewrites(execs []*runtime.Executor, rewrites []runtime.URLRewrite) (unmatched, origins, dynamic []string) {
	seen := map[string]bool{}
	for _, e := range execs {
		if e.Operation.URL == "" {
			dynamic = append(dynamic, e.Name)
			continue
		}
		origin := e.Operation.URL
		if u, err := url.Parse(origin); err == nil && u.Host != "" {
			origin = u.Scheme + "://" + u.Host
		}
		if !seen[origin] {
			seen[origin] = true
			origins = append(origins, origin)
		}
	}
	sort.Strings(origins)

	for _, rw := range rewrites {
		if !slices.ContainsFunc(execs, func(e *runtime.Executor) bool {
			return e.Operation.URL != "" && rw.Matches(e.Operation.URL)
		}) {
			unmatched = append(unmatched, rw.From)
		}
	}
	return unmatched, origins, dynamic
}

// checkUnmatchedRewrites rejects a rewrite that no executor's static
// webhook URL matches. Such a FROM is most likely misspelt, so the webhooks
// it was meant to redirect would go, with their secret headers, to the
// real host. When some executors compute their URL per firing, which the
// rewrite may still match, it writes a warning to w instead.
func checkUnmatchedRewrites(w io.Writer, execs []*runtime.Executor, rewrites []runtime.URLRewrite) error {
	unmatched, origins, dynamic := unmatchedRewrites(execs, rewrites)
	for _, from := range unmatched {
		if len(dynamic) == 0 {
			return &usageError{fmt.Errorf("--url-override FROM %q matches no loaded executor's webhook URL, so the webhooks would go to the executors' own URLs, on %s; correct FROM or drop the override",
				from, listOrNone(origins))}
		}
		fmt.Fprintf(w, "Warning: --url-override FROM %q matches no loaded executor's webhook URL; the executors send to %s. Executors %s compute their URL per firing and may still match.\n",
			from, listOrNone(origins), strings.Join(dynamic, ", "))
	}
	return nil
}

func listOrNone(list []string) string {
	if len(list) == 0 {
		return "no fixed URL"
	}
	return strings.Join(list, ", ")
}

// isHTTPURL reports whether s parses as an absolute http or https URL
// with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// parsePairs parses repeated KEY=VALUE flags into a map.
func parsePairs(flag string, flags []string) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(flags))
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" || v == "" {
			return nil, &usageError{fmt.Errorf("invalid %s %q: use KEY=VALUE", flag, f)}
		}
		out[k] = v
	}
	return out, nil
}

// dryRunDeliverer prints each webhook instead of sending it, and checks
// that the secrets it references exist. Like the dispatcher, it prints a
// job id only once.
type dryRunDeliverer struct {
	out io.Writer
	// headers lists the headers a job would be sent with, secret values
	// masked.
	headers func(webhook.Job) []string
	// secretExists reports whether a secret that executor references
	// exists for it, without reading its value.
	secretExists func(ctx context.Context, executor string, ref plugins.SecretRef) error

	n    int
	seen map[string]bool
	// missing maps each job id to the reason its delivery would fail.
	missing map[string]error
	// checked caches the result of secretExists.
	checked map[secretUse]error
}

// secretUse is an executor's reference to a secret.
type secretUse struct {
	executor string
	ref      plugins.SecretRef
}

func (d *dryRunDeliverer) Enqueue(ctx context.Context, job webhook.Job) (webhook.Job, error) {
	d.n++
	if job.ID == "" {
		job.ID = fmt.Sprintf("dry-run-%d", d.n)
	}
	job.Status = webhook.StatusSuccess
	if d.seen[job.ID] {
		return job, nil
	}
	if d.seen == nil {
		d.seen = map[string]bool{}
	}
	d.seen[job.ID] = true
	if err := d.checkSecrets(ctx, job); err != nil {
		if d.missing == nil {
			d.missing = map[string]error{}
		}
		d.missing[job.ID] = err
	}
	fmt.Fprintf(d.out, "POST %s\n", job.URL)
	for _, h := range d.headers(job) {
		fmt.Fprintf(d.out, "  %s\n", h)
	}
	fmt.Fprintf(d.out, "  body: %s\n", job.Body)
	return job, nil
}

// checkSecrets returns the configuration error that the first attempt of
// job would fail with because a secret it references does not exist, or
// cannot be checked. It names every missing secret, but stops at the
// first other error, such as a denial that applies to all of them. It
// never reads a value.
func (d *dryRunDeliverer) checkSecrets(ctx context.Context, job webhook.Job) error {
	type secretRef struct {
		use string
		ref plugins.SecretRef
	}
	var refs []secretRef
	for _, h := range job.Headers {
		if h.Secret != nil {
			refs = append(refs, secretRef{fmt.Sprintf("header %q", h.Name), *h.Secret})
		}
	}
	if job.Signing != nil {
		refs = append(refs, secretRef{"signing", job.Signing.Secret})
	}

	var missing []string
	denied := ""
	for _, r := range refs {
		err := d.exists(ctx, job.Executor, r.ref)
		if err == nil {
			continue
		}
		prefix := fmt.Sprintf("%s: resolve secret %s: ", r.use, r.ref)
		var se *secrets.SecretError
		if errors.Is(err, secrets.ErrVaultNotFound) {
			missing = append(missing, prefix+secrets.ErrVaultNotFound.Error())
			continue
		}
		if errors.Is(err, secrets.ErrSecretNotFound) {
			missing = append(missing, prefix+secrets.ErrSecretNotFound.Error())
			continue
		}
		if errors.As(err, &se) {
			denied = prefix + se.Reason()
		} else {
			denied = prefix + err.Error()
		}
		break
	}

	var problems []string
	switch len(missing) {
	case 0:
	case 1:
		problems = append(problems, missing[0]+"; create it first or check the vault and name")
	default:
		problems = append(problems, strings.Join(missing, "; ")+"; create them first or check the vault and secret names")
	}
	if denied != "" {
		problems = append(problems, denied)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("job %s would fail at its first attempt: %w: %s", job.ID, webhook.ErrConfiguration, strings.Join(problems, "; "))
}

// exists calls secretExists once per executor and secret.
func (d *dryRunDeliverer) exists(ctx context.Context, executor string, ref plugins.SecretRef) error {
	key := secretUse{executor, ref}
	if err, ok := d.checked[key]; ok {
		return err
	}
	err := d.secretExists(ctx, executor, ref)
	if d.checked == nil {
		d.checked = map[secretUse]error{}
	}
	d.checked[key] = err
	return err
}

// result turns the queued firing f into a failed one when its webhook
// references a secret that is missing, as the real run would report it.
func (d *dryRunDeliverer) result(f runtime.Firing) runtime.Firing {
	if err := d.missing[f.JobID]; err != nil && f.State == runtime.FiringQueued {
		f.State, f.Err = runtime.FiringFailed, err
	}
	return f
}

func (d *dryRunDeliverer) Wait(_ context.Context, id string) (webhook.Job, error) {
	return webhook.Job{ID: id, Status: webhook.StatusSuccess}, nil
}
