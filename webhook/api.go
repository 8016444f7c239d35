package webhook

import (
	"context"

	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Enqueue stores job as PENDING and schedules its first attempt now. It
// returns once the job is on disk, after a flush it shares with concurrent
// calls. When the flush fails, Enqueue returns the stored job with the
// error, and the journal stops (see Failed): the job is in the journal's
// file, and the next process delivers it unless the disk lost it. A job
// enqueued before Start waits in the database until Start. After Close,
// Enqueue returns an error wrapping ErrClosed. While the state database is
// far behind the journal, Enqueue waits for it, and returns the context's
// error if ctx ends first.
//
// An empty ID gets a generated one. When a job with the same ID exists,
// Enqueue stores nothing and returns the existing job, so that an event
// delivered twice does not make two jobs. Status, Round, Attempts, LastError
// and the timestamps are set by Enqueue; zero Policy fields take
// Config.Policy.
//
// It returns an error wrapping ErrInvalidJob for a missing executor, an
// invalid ID or policy, a URL with user info (which would store a password
// in plaintext), a body over 4 MiB, or a job too large for an in-memory
// database (about 1 MiB). Other problems with the URL, headers or
// secrets fail the stored job at its first attempt, so that they show up in
// its history.
func (d *Dispatcher) Enqueue(ctx context.Context, job Job) (Job, error) {
	stored, err := d.submit(ctx, job, "enqueue")
	if err != nil {
		return Job{}, err
	}
	if err := d.store.sync(ctx); err != nil {
		return stored, fmt.Errorf("enqueue job %q: stored, but not known to be on disk: %w", stored.ID, err)
	}
	return stored, nil
}

// Submit stores and schedules job as Enqueue does, but returns without
// waiting for the flush to disk. The job's record reaches the journal's
// file within microseconds, and always before its first attempt starts,
// so killing the process cannot lose a job that a receiver has seen. A
// power failure could lose the job until Sync returns. A caller that
// stores many jobs submits them all and then calls Sync once. Submit
// returns the errors of Enqueue except the flush's.
func (d *Dispatcher) Submit(ctx context.Context, job Job) (Job, error) {
	return d.submit(ctx, job, "submit")
}

// Sync returns once every job stored by Submit, Enqueue, Retry or Cancel
// before the call is on disk, after a flush it shares with concurrent
// calls. It returns the flush's error, or the context's error when ctx ends
// first.
func (d *Dispatcher) Sync(ctx context.Context) error {
	if err := d.store.sync(ctx); err != nil {
		return fmt.Errorf("sync jobs: %w", err)
	}
	return nil
}

// submit does the work of Submit and the first half of Enqueue. op names
// the operation in errors.
func (d *Dispatcher) submit(ctx context.Context, job Job, op string) (Job, error) {
	if err := ctx.Err(); err != nil {
		return Job{}, fmt.Errorf("%s job: %w", op, err)
	}
	if job.ID == "" {
		job.ID = newJobID()
	}
	job.Policy = job.Policy.WithDefaults(d.cfg.Policy)
	if err := validateJob(job); err != nil {
		return Job{}, err
	}

	now := d.cfg.Clock.Now()
	job = job.clone()
	job.Status = StatusPending
	job.Round = 1
	job.Attempts = nil
	job.LastError = ""
	job.CreatedAt = now
	job.UpdatedAt = now
	job.NextAttemptAt = now

	stored, created, err := d.store.insert(ctx, job)
	if err != nil {
		return Job{}, fmt.Errorf("%s job %q: %w", op, job.ID, err)
	}
	if !created {
		d.log.Debug("webhook job already enqueued", "job_id", stored.ID, "executor", stored.Executor, "status", stored.Status)
		return stored, nil
	}
	d.log.Debug("webhook job enqueued", "job_id", stored.ID, "executor", stored.Executor, "event_id", stored.EventID, "url", stored.URL)
	// The job is in the journal. When the flush fails, the dispatcher
	// stops and the next process delivers the job, and Enqueue reports
	// that the disk may have lost it.
	d.schedule(stored.ID, stored.URL, stored.NextAttemptAt)
	return stored.clone(), nil
}

func validateJob(j Job) error {
	if err := validateJobID(j.ID); err != nil {
		return err
	}
	if j.Executor == "" || strings.ContainsRune(j.Executor, 0) {
		return fmt.Errorf("job %q: executor %q: %w: set the name of the executor that fired", j.ID, j.Executor, ErrInvalidJob)
	}
	if err := j.Policy.Validate(); err != nil {
		return fmt.Errorf("job %q: %w: %w", j.ID, ErrInvalidJob, err)
	}
	if u, err := url.Parse(j.URL); err == nil && u.User != nil {
		return fmt.Errorf("job %q: URL %q: %w: user info is not allowed, so send credentials in a header that references a secret", j.ID, u.Redacted(), ErrInvalidJob)
	}
	if len(j.Body) > maxBodyBytes {
		return fmt.Errorf("job %q: body of %d bytes: %w: the limit is %d bytes", j.ID, len(j.Body), ErrInvalidJob, maxBodyBytes)
	}
	for _, h := range j.Headers {
		switch strings.ToLower(h.Name) {
		case HeaderID, HeaderTimestamp, HeaderSignature, "host", "content-length", "transfer-encoding", "connection":
			return fmt.Errorf("job %q: header %q: %w: the dispatcher sets this header itself", j.ID, h.Name, ErrInvalidJob)
		}
	}
	return nil
}

// validateJobID accepts 1 to 256 printable ASCII characters without spaces,
// which fit a header value and a database key.
func validateJobID(id string) error {
	if id == "" || len(id) > maxIDLength {
		return fmt.Errorf("job id of %d bytes: %w: use 1 to %d characters", len(id), ErrInvalidJob, maxIDLength)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("job id %q: %w: use printable ASCII without spaces", id, ErrInvalidJob)
		}
	}
	return nil
}

// Wait blocks until job id is SUCCESS, FAILED or CANCELED and returns it.
// It returns at once for a job already finished. Errors: ErrJobNotFound,
// the context's error, ErrClosed when the dispatcher stops first, or Err
// when the journal fails first.
func (d *Dispatcher) Wait(ctx context.Context, id string) (Job, error) {
	ch := make(chan Job, 1)
	d.mu.Lock()
	d.waiters[id] = append(d.waiters[id], ch)
	d.mu.Unlock()

	// A job that finished before the waiter was registered is read here;
	// one that finishes later is handed over by notify.
	j, shared, err := d.store.peek(id)
	if err != nil || j.Status.Finished() {
		d.dropWaiter(id, ch)
		if err != nil {
			return Job{}, fmt.Errorf("wait for job: %w", err)
		}
		if shared {
			j = j.clone()
		}
		return j, nil
	}

	select {
	case j := <-ch:
		return j, nil
	case <-ctx.Done():
		d.dropWaiter(id, ch)
		return Job{}, fmt.Errorf("wait for job %q: %w", id, ctx.Err())
	case <-d.stop:
		d.dropWaiter(id, ch)
		if err := d.Err(); err != nil {
			return Job{}, fmt.Errorf("wait for job %q: %w", id, err)
		}
		return Job{}, fmt.Errorf("wait for job %q: %w", id, ErrClosed)
	case <-d.Failed():
		d.dropWaiter(id, ch)
		return Job{}, fmt.Errorf("wait for job %q: %w", id, d.Err())
	}
}

func (d *Dispatcher) dropWaiter(id string, ch chan Job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	list := d.waiters[id]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(d.waiters, id)
	} else {
		d.waiters[id] = list
	}
}

// Jobs returns the jobs of executor, or of all executors when it is empty,
// that have status, or any status when it is empty, oldest first. It
// returns ErrInvalidState wrapped for an unknown status.
func (d *Dispatcher) Jobs(ctx context.Context, executor string, status Status) ([]Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	if status != "" && !status.Valid() {
		return nil, fmt.Errorf("list jobs: status %q: %w: use PENDING, RUNNING, SUCCESS, FAILED or CANCELED", status, ErrInvalidState)
	}
	stored := status
	if status == StatusRunning {
		// A job in flight is stored as PENDING.
		stored = StatusPending
	}
	jobs, err := d.store.list(executor, stored)
	if err != nil {
		return nil, fmt.Errorf("list jobs of executor %q: %w", executor, err)
	}
	d.showRunning(jobs)
	if status == StatusPending || status == StatusRunning {
		jobs = slices.DeleteFunc(jobs, func(j Job) bool { return j.Status != status })
	}
	return jobs, nil
}

// Executors returns the sorted names of the executors that have jobs of
// any status, so that a caller can tell an executor without jobs from a
// misspelt name.
func (d *Dispatcher) Executors(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list executors with jobs: %w", err)
	}
	names, err := d.store.executors()
	if err != nil {
		return nil, fmt.Errorf("list executors with jobs: %w", err)
	}
	return names, nil
}

// showRunning sets the status of the jobs in flight to RUNNING.
func (d *Dispatcher) showRunning(jobs []Job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range jobs {
		if _, ok := d.running[jobs[i].ID]; ok && jobs[i].Status == StatusPending {
			jobs[i].Status = StatusRunning
		}
	}
}

// Job returns one job with its attempts, or an error wrapping
// ErrJobNotFound.
func (d *Dispatcher) Job(ctx context.Context, id string) (Job, error) {
	if err := ctx.Err(); err != nil {
		return Job{}, fmt.Errorf("get job %q: %w", id, err)
	}
	j, err := d.store.get(id)
	if err != nil {
		return Job{}, fmt.Errorf("get job: %w", err)
	}
	jobs := []Job{j}
	d.showRunning(jobs)
	return jobs[0], nil
}

// Retry moves a FAILED or CANCELED job back to PENDING with a fresh budget
// of attempts, a new round, and the same ID, and schedules it now. Earlier
// attempts stay in its history. It returns an error wrapping
// ErrInvalidState for a job in any other status, or ErrJobNotFound.
func (d *Dispatcher) Retry(ctx context.Context, id string) (Job, error) {
	if err := ctx.Err(); err != nil {
		return Job{}, fmt.Errorf("retry job %q: %w", id, err)
	}
	now := d.cfg.Clock.Now()
	j, err := d.store.update(ctx, id, func(j *Job) error {
		if j.Status != StatusFailed && j.Status != StatusCanceled {
			return fmt.Errorf("job %q is %s: %w: only FAILED or CANCELED jobs can be retried", id, j.Status, ErrInvalidState)
		}
		j.Status = StatusPending
		j.Round++
		j.LastError = ""
		j.UpdatedAt = now
		j.NextAttemptAt = now
		return nil
	})
	if err != nil {
		return Job{}, fmt.Errorf("retry job: %w", err)
	}
	d.schedule(j.ID, j.URL, j.NextAttemptAt)
	if err := d.store.sync(ctx); err != nil {
		return j, fmt.Errorf("retry job %q: stored, but not known to be on disk: %w", j.ID, err)
	}
	d.log.Info("webhook job retried", "job_id", j.ID, "executor", j.Executor, "round", j.Round)
	return j, nil
}

// Cancel moves a PENDING or RUNNING job to CANCELED and aborts its attempt
// in flight, if any. The receiver may still have got the aborted request.
// It returns an error wrapping ErrInvalidState for a finished job, or
// ErrJobNotFound.
func (d *Dispatcher) Cancel(ctx context.Context, id string) (Job, error) {
	if err := ctx.Err(); err != nil {
		return Job{}, fmt.Errorf("cancel job %q: %w", id, err)
	}
	j, err := d.store.update(ctx, id, func(j *Job) error {
		if j.Status.Finished() {
			return fmt.Errorf("job %q is %s: %w: only PENDING or RUNNING jobs can be canceled", id, j.Status, ErrInvalidState)
		}
		j.Status = StatusCanceled
		j.UpdatedAt = d.cfg.Clock.Now()
		j.NextAttemptAt = time.Time{}
		return nil
	})
	if err != nil {
		return Job{}, fmt.Errorf("cancel job: %w", err)
	}

	d.mu.Lock()
	if cancel, ok := d.running[id]; ok {
		cancel(errCanceledByUser)
	}
	d.mu.Unlock()
	d.notify(j.clone())
	if err := d.store.sync(ctx); err != nil {
		return j, fmt.Errorf("cancel job %q: stored, but not known to be on disk: %w", j.ID, err)
	}
	d.log.Info("webhook job canceled", "job_id", j.ID, "executor", j.Executor)
	return j, nil
}

// DeleteFinished deletes SUCCESS, FAILED and CANCELED jobs last updated
// more than olderThan ago and returns how many it deleted. A started
// dispatcher also does this every Config.RetentionInterval with
// Config.Retention.
func (d *Dispatcher) DeleteFinished(ctx context.Context, olderThan time.Duration) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("delete finished jobs: %w", err)
	}
	if olderThan < 0 {
		return 0, fmt.Errorf("delete finished jobs older than %s: %w: use a duration of zero or more", olderThan, ErrInvalidConfig)
	}
	n, err := d.store.deleteFinished(d.cfg.Clock.Now().Add(-olderThan))
	if err != nil {
		return n, fmt.Errorf("delete finished jobs: %w", err)
	}
	return n, nil
}
