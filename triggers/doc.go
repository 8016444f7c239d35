// Package triggers owns the events that make executors fire: record events
// in the platform's raw format and from Debezium change streams, cron
// schedules with time zones, incoming webhook requests, and the durable log
// of accepted events. It has no dependency on wazero or on the runtime
// package; the runtime calls into it.
//
// # Callback arguments
//
// Every trigger produces the JSON object that the guest's callbacks
// receive. AppendRecordArgs, AppendScheduleArgs and AppendWebhookArgs
// append it to a caller-owned buffer without reflection, copying records
// and request bodies byte for byte so that numbers keep their exact text.
//
// # Record events
//
// Reader reads JSONL files for replay and ingest, one event per line, and
// detects per line whether it holds a platform record event or a Debezium
// change event (with or without the schema wrapper). A malformed line is
// reported as a *LineError with its line number and the reader goes on.
// DecodeBody decodes the body of an ingest request: one event, an array of
// them, or one event per line.
//
// Debezium operations map to record events as follows: c and r (snapshot
// read) become created, u updated, d deleted. Truncates (t), messages (m)
// and tombstones produce no event. An update or delete without a
// before-image, as PostgreSQL sends under REPLICA IDENTITY DEFAULT, gives
// the callback oldRecord: null. Debezium events get the id "dbz-" plus a
// hash of the source position and the row image, so a redelivered change
// keeps its id.
//
// The MongoDB connector sends documents as JSON strings of MongoDB
// Extended JSON. They are decoded, and type wrappers such as {"$oid": …}
// and {"$date": …} become plain JSON, keeping every digit of a number. An
// update must carry the full document (capture.mode
// change_streams_update_full); one with only updateDescription is
// reported as malformed, naming the setting.
//
// # Schedules
//
// ParseSchedule parses five-field cron specs through robfig/cron v3 but
// computes fire times itself on the wall clock of the schedule's zone. A
// wall-clock time skipped when clocks go forward fires once at the change;
// one repeated when clocks go back fires once, at its first occurrence.
// Scheduler fires callbacks at due times on an injected Clock, persists
// last runs with their spec through a RunStore, and after downtime fires
// one catch-up run instead of a burst, unless the spec has changed since
// the last run.
//
// # Event log
//
// EventLog is a durable, deduplicating queue of accepted record events on
// a Badger database. Append commits a batch in one transaction and flushes
// it to disk, so the server may acknowledge the request once it returns.
// A pending entry that cannot be decoded is set aside with its stored
// bytes rather than blocking the events after it. SetAsideEvents lists
// such entries.
//
// The documentation page docs/triggers.md in the repository states these
// rules at length.
package triggers
