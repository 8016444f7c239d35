package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
	"sync"

	"github.com/execvault/execvault/triggers"
	"github.com/execvault/execvault/webhook"
)

// Deliverer takes a fired webhook and delivers it. *webhook.Dispatcher
// implements it.
type Deliverer interface {
	// Enqueue stores job durably and schedules its delivery.
	Enqueue(ctx context.Context, job webhook.Job) (webhook.Job, error)
	// Wait blocks until the job with id is finished. Its errors name
	// the job.
	Wait(ctx context.Context, id string) (webhook.Job, error)
}

// BatchDeliverer is a Deliverer that can store jobs without a flush to
// disk each, and flush them together. *webhook.Dispatcher implements it.
type BatchDeliverer interface {
	Deliverer
	// Submit stores job and schedules its delivery, like Enqueue, but
	// does not wait for the flush.
	Submit(ctx context.Context, job webhook.Job) (webhook.Job, error)
	// Sync returns once every job stored before the call is on disk.
	Sync(ctx context.Context) error
}

// checkpointReporter is a Deliverer that reports when the checkpoints of
// its job journal into the state database keep failing. GET /healthz shows
// the failure of a *webhook.Dispatcher through it.
type checkpointReporter interface {
	CheckpointFailure() (webhook.CheckpointFailure, bool)
}

var _ checkpointReporter = (*webhook.Dispatcher)(nil)

// submitter is the Deliverer that Server.Process fires a batch of events
// with: Enqueue submits, and Process syncs once for the whole batch.
type submitter struct{ BatchDeliverer }

func (s submitter) Enqueue(ctx context.Context, job webhook.Job) (webhook.Job, error) {
	return s.Submit(ctx, job)
}

// URLRewrite replaces the prefix From of a webhook URL with To, so that
// recorded events can be replayed against a local receiver. From matches
// only at a boundary (see Matches), so https://crm.example.co does not
// rewrite https://crm.example.com/orders.
type URLRewrite struct {
	From string
	To   string
}

// Matches reports whether rw rewrites url: url equals From, or starts with
// From and either From ends with "/" or the character after From in url
// is "/", "?" or "#". The scheme and host ignore ASCII case, as in any URL,
// and the path, query and fragment compare exactly.
func (rw URLRewrite) Matches(url string) bool {
	if len(url) < len(rw.From) {
		return false
	}
	origin := originLen(rw.From)
	if !asciiEqualFold(url[:origin], rw.From[:origin]) || url[origin:len(rw.From)] != rw.From[origin:] {
		return false
	}
	rest := url[len(rw.From):]
	switch {
	case rest == "", strings.HasSuffix(rw.From, "/"):
		return true
	default:
		return strings.ContainsRune("/?#", rune(rest[0]))
	}
}

// FiringState is the outcome of one executor on one event.
type FiringState string

// Firing states.
const (
	// FiringSkipped: the condition returned false.
	FiringSkipped FiringState = "skipped"
	// FiringQueued: the webhook job was stored and will be delivered.
	FiringQueued FiringState = "queued"
	// FiringDelivered: the receiver responded with a 2xx status.
	FiringDelivered FiringState = "delivered"
	// FiringFailed: the guest failed, a limit stopped it, or delivery
	// failed for good.
	FiringFailed FiringState = "failed"
)

// Firing reports one executor's firing on one event.
type Firing struct {
	Executor string
	EventID  string
	State    FiringState
	// JobID is the delivery id of the webhook job, when one was created.
	JobID string
	// HTTPStatus is the receiver's status code of the last attempt, when
	// there was a response.
	HTTPStatus int
	// Attempts is the number of delivery attempts made, when waited for.
	Attempts int
	// Err is the reason of a failed firing. The runtime does not log it:
	// the caller reports it once, with the context it has.
	Err error
}

// DispatchOptions tune HandleRecordEvent.
type DispatchOptions struct {
	// Wait makes HandleRecordEvent wait until each webhook job finishes,
	// so that Firing reports delivered or failed instead of queued.
	Wait bool
	// Rewrites apply to every webhook URL, first match wins.
	Rewrites []URLRewrite
	// Policy overrides the fields it sets in every job's retry policy.
	Policy webhook.Policy
}

var argsPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// HandleRecordEvent fires every executor whose record trigger matches ev
// and hands each fired webhook to d. It returns one Firing per matching
// executor, in executor name order; an executor's failure never stops the
// others.
func (rt *Runtime) HandleRecordEvent(ctx context.Context, d Deliverer, ev *triggers.RecordEvent, opts DispatchOptions) []Firing {
	execs := rt.Match(ev.TypeName, ev.Kind())
	if len(execs) == 0 {
		return nil
	}

	bufp := argsPool.Get().(*[]byte)
	args := triggers.AppendRecordArgs((*bufp)[:0], ev, rt.cfg.Env)
	defer func() {
		*bufp = args
		argsPool.Put(bufp)
	}()

	firings := make([]Firing, 0, len(execs))
	for _, exec := range execs {
		firings = append(firings, rt.fireAndDeliver(ctx, d, exec, ev.ID, args, opts))
	}
	return firings
}

// fireAndDeliver runs one executor and enqueues its webhook.
func (rt *Runtime) fireAndDeliver(ctx context.Context, d Deliverer, exec *Executor, eventID string, args []byte, opts DispatchOptions) Firing {
	f := Firing{Executor: exec.Name, EventID: eventID}

	out, err := rt.Fire(ctx, exec, args)
	if err != nil {
		f.State, f.Err = FiringFailed, err
		return f
	}
	if !out.Fired {
		f.State = FiringSkipped
		rt.log.Debug("executor skipped by condition", "executor", exec.Name, "event_id", eventID)
		return f
	}

	job := rt.newJob(exec, eventID, out, opts)
	job, err = d.Enqueue(ctx, job)
	if err != nil {
		f.State, f.Err = FiringFailed, fmt.Errorf("executor %q: %w: %w", exec.Name, errEnqueue, err)
		return f
	}
	f.JobID, f.State = job.ID, FiringQueued
	if !opts.Wait {
		return f
	}

	job, err = d.Wait(ctx, job.ID)
	if err != nil {
		f.State, f.Err = FiringFailed, fmt.Errorf("executor %q: %w", exec.Name, err) // err names the job
		return f
	}
	return withJobResult(f, job)
}

// withJobResult fills the delivery fields of f from a finished job.
func withJobResult(f Firing, job webhook.Job) Firing {
	f.Attempts = job.AttemptsInRound()
	if last, ok := job.LastAttempt(); ok {
		f.HTTPStatus = last.StatusCode
	}
	switch job.Status {
	case webhook.StatusSuccess:
		f.State = FiringDelivered
	default:
		f.State, f.Err = FiringFailed, &JobError{JobID: job.ID, Status: job.Status, after: afterAttempts(job, f.Attempts), lastError: job.LastError}
	}
	return f
}

// JobError is the error of a firing whose webhook job finished without a
// delivery, FAILED or CANCELED. Its text names the job and describes what
// happened: "job msg_x failed: HTTP 500 (attempt 10 of 10)" when the
// attempts ran out, "job msg_x failed after 1 attempt: ..." after an error
// that no retry fixes, or "job msg_x was canceled".
type JobError struct {
	// JobID is the id of the webhook job.
	JobID string
	// Status is the job's final status, StatusFailed or StatusCanceled.
	Status webhook.Status
	// after is " after N attempts", or "" when lastError counts them.
	after     string
	lastError string
}

func (e *JobError) Error() string {
	if e.Status == webhook.StatusCanceled {
		return fmt.Sprintf("job %s was canceled", e.JobID)
	}
	return fmt.Sprintf("job %s %s%s: %s", e.JobID, strings.ToLower(string(e.Status)), e.after, e.lastError)
}

// afterAttempts returns " after N attempts" for the error of a failed job,
// or "" when the job used up its attempts: the dispatcher's LastError then
// ends with "(attempt N of N)" already.
func afterAttempts(job webhook.Job, n int) string {
	if last, ok := job.LastAttempt(); ok && last.Retryable && n >= job.Policy.MaxAttempts {
		return ""
	}
	if n == 1 {
		return " after 1 attempt"
	}
	return fmt.Sprintf(" after %d attempts", n)
}

// newJob builds the webhook job for a fired executor.
func (rt *Runtime) newJob(exec *Executor, eventID string, out Outcome, opts DispatchOptions) webhook.Job {
	url := exec.Operation.URL
	if out.URL != "" {
		url = out.URL
	}
	url = rewriteURL(url, opts.Rewrites)

	policy := webhook.PolicyFromRetry(exec.Retry)
	if opts.Policy.MaxAttempts != 0 {
		policy.MaxAttempts = opts.Policy.MaxAttempts
	}
	if opts.Policy.AttemptTimeout != 0 {
		policy.AttemptTimeout = opts.Policy.AttemptTimeout
	}
	if opts.Policy.BackoffBase != 0 {
		policy.BackoffBase = opts.Policy.BackoffBase
	}
	if opts.Policy.BackoffMax != 0 {
		policy.BackoffMax = opts.Policy.BackoffMax
	}

	return webhook.Job{
		ID:       jobID(exec.Name, eventID),
		Executor: exec.Name,
		EventID:  eventID,
		URL:      url,
		Headers:  exec.Operation.Headers,
		Body:     out.Body,
		Policy:   policy,
		Signing:  exec.Signing,
	}
}

// jobID derives a stable delivery id from the event id and executor, so
// that an event delivered twice to the runtime makes one job. Without an
// event id the dispatcher generates a random one.
func jobID(executor, eventID string) string {
	if eventID == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(executor + "\x00" + eventID))
	return "msg_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
}

// originLen returns the length of the scheme and host part of url, which
// ends at the first "/", "?" or "#" after "://".
func originLen(url string) int {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return strings.IndexByte(url, ':') + 1
	}
	start := len(scheme) + len("://")
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		return start + end
	}
	return len(url)
}

// asciiEqualFold reports whether a and b are equal after folding ASCII
// letters to lower case. Other bytes compare exactly.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func rewriteURL(url string, rewrites []URLRewrite) string {
	for _, rw := range rewrites {
		if rw.Matches(url) {
			return rw.join(url[len(rw.From):])
		}
	}
	return url
}

// join appends rest, the part of a matched URL after From, to To. When
// From or To ends with "/", or rest starts with one, exactly one "/"
// separates them, so that "https://a.test/=http://127.0.0.1:9000" and
// "https://a.test=http://127.0.0.1:9000/" both keep the path whole.
func (rw URLRewrite) join(rest string) string {
	if rest == "" {
		return rw.To
	}
	if strings.HasSuffix(rw.From, "/") || strings.HasSuffix(rw.To, "/") || rest[0] == '/' {
		return strings.TrimSuffix(rw.To, "/") + "/" + strings.TrimPrefix(rest, "/")
	}
	return rw.To + rest
}
