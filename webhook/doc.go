// Package webhook owns reliable delivery of executor webhooks: durable jobs
// in Badger, retries with exponential backoff, Standard Webhooks signatures,
// per-destination concurrency limits and circuit breakers, and an egress
// policy on the addresses dialed.
//
// # Jobs
//
// Each firing of an executor becomes a Job that the runtime hands to
// Dispatcher.Enqueue. The job is written to the database before its first
// attempt and moves through these statuses:
//
//	PENDING ──attempt starts──▶ RUNNING ──2xx──▶ SUCCESS
//	   ▲                          │
//	   └──retryable failure───────┤──last attempt, or configuration error──▶ FAILED
//	                              │
//	PENDING or RUNNING ──Cancel──▶ CANCELED
//	FAILED or CANCELED ──Retry──▶ PENDING (fresh attempt budget, same id)
//
// RUNNING is kept in memory: a job in flight stays PENDING in the database.
// Delivery is at least once. After a crash, Start resumes every PENDING
// job, and an attempt the crash interrupted is not counted. Every attempt
// of a job sends the same webhook-id header, so receivers deduplicate by
// it.
//
// # Attempts and retries
//
// A job is POSTed with its body byte for byte. A 2xx response succeeds. A
// redirect is never followed, because following it would send the job's
// secret headers to another host. It is a failed attempt whose record names
// the redirect target. Any other status, a timeout or a connection error is
// retried until Policy.MaxAttempts attempts were made in all. A
// configuration error fails the job at once: an invalid URL, a header name
// or value that cannot be sent, a secret that cannot be resolved, a signing
// secret that is not base64, or a destination the egress policy denies.
//
// The wait before the next attempt is described on Policy; a Retry-After
// header, in seconds or as an HTTP date, replaces it up to
// Config.RetryAfterMax.
//
// # Secrets
//
// A header may reference a secret by vault and key. The dispatcher resolves
// it through SecretResolver at each attempt and never stores, logs or puts
// the value in an error. Stored attempts and logs show such a header as
// "Authorization: [secret api-keys/crm-api-token]".
//
// # Destinations
//
// A destination is a scheme, host and port. At most
// Config.PerHostConcurrency attempts run against one destination at a time.
// After Config.BreakerFailures consecutive failed attempts its circuit
// breaker opens: the destination's due jobs stay PENDING, using no attempts,
// until Config.BreakerCooldown has passed. Then one probe attempt runs; its
// success closes the breaker and its failure reopens it. Breaker state lives
// in memory and starts closed after a restart.
//
// # Storage
//
// The caller opens the Badger database and may share it: this package uses
// only keys under "job/" and "jobidx/", and the "webhook-journal" directory
// inside the database's directory. Each change of a job is appended to the
// journal. A checkpoint then writes the latest state of the changed jobs
// to Badger in batches, each job with its index entries in one
// transaction, and drops the journal files it covered. Opening a
// dispatcher replays the journal.
package webhook
