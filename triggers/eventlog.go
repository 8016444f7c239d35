package triggers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/execvault/execvault/runtime/statedb"
)

// Key layout of the event log. Sequence numbers are 8-byte big-endian, so
// keys sort in acceptance order.
//
//	event/next           the next sequence number
//	event/q/<seq>        a pending event
//	eventid/k/<id>       seq and accept time of a remembered id
//	eventid/s/<seq>      accept time and id, to drop ids oldest first
var (
	keyNextSeq     = []byte("event/next")
	prefixQueue    = []byte("event/q/")
	prefixIDByKey  = []byte("eventid/k/")
	prefixIDBySeq  = []byte("eventid/s/")
	storedEventTag = byte(1)
)

// Defaults for EventLogConfig.
const (
	// DefaultMaxDedupeIDs is how many event ids the log remembers when
	// EventLogConfig.MaxDedupeIDs is 0.
	DefaultMaxDedupeIDs = 100_000

	// DefaultDedupeWindow is how long the log remembers an event id when
	// EventLogConfig.DedupeWindow is 0: seven days.
	DefaultDedupeWindow = 7 * 24 * time.Hour

	// MaxEventIDBytes is the longest event id Append accepts.
	MaxEventIDBytes = 256

	// pruneBatch bounds the ids one prune pass drops, to keep its
	// transaction small.
	pruneBatch = 1000
)

// EventLogConfig configures an EventLog.
type EventLogConfig struct {
	// MaxDedupeIDs is how many of the most recent event ids are kept for
	// deduplication. Default DefaultMaxDedupeIDs.
	MaxDedupeIDs int
	// DedupeWindow is how long an event id is kept for deduplication.
	// An id is dropped once it is older than this or falls out of the
	// newest MaxDedupeIDs, whichever comes first. A negative value turns
	// the age limit off. Default DefaultDedupeWindow.
	DedupeWindow time.Duration
	// Clock stamps accept times. Default SystemClock.
	Clock Clock
	// Logger receives records about pruning failures. Default
	// slog.Default().
	Logger *slog.Logger
}

// Validate reports a negative MaxDedupeIDs. Errors wrap ErrInvalidConfig.
func (c EventLogConfig) Validate() error {
	if c.MaxDedupeIDs < 0 {
		return fmt.Errorf("%w: MaxDedupeIDs is %d: use 0 for the default or a positive count", ErrInvalidConfig, c.MaxDedupeIDs)
	}
	return nil
}

// LoggedEvent is an event as the log stores it.
type LoggedEvent struct {
	// Seq is the sequence number, starting at 1 and increasing by one per
	// accepted event.
	Seq uint64
	// AcceptedAt is when Append accepted the event.
	AcceptedAt time.Time
	// Event is the event, with its ID filled in.
	Event RecordEvent
}

// Duplicate names an event that Append dropped because its id was seen
// before.
type Duplicate struct {
	// Index is the event's position in the slice given to Append.
	Index int
	// ID is the event's id.
	ID string
	// Seq is the sequence number of the earlier event with that id, or 0
	// when the earlier event came in the same call and was itself a
	// duplicate.
	Seq uint64
}

// AppendResult reports what Append did with each event.
type AppendResult struct {
	// Accepted lists the events written, in input order.
	Accepted []LoggedEvent
	// Duplicates lists the events dropped, in input order.
	Duplicates []Duplicate
}

// EventLog is a durable queue of accepted record events on a Badger
// database. It writes only keys under "event/" and "eventid/". It is safe
// for concurrent use.
//
// Deduplication: an event whose id the log still remembers is dropped. The
// log remembers an id until it is older than DedupeWindow or falls out of
// the newest MaxDedupeIDs ids, but never while the event with that id is
// still pending. A redelivery after that is accepted again.
type EventLog struct {
	db     *badger.DB
	syncer *statedb.Syncer
	cfg    EventLogConfig
	logger *slog.Logger

	mu      sync.Mutex
	nextSeq uint64
}

// OpenEventLog returns an EventLog on db. The caller opens db, normally
// with statedb.Open, and closes it after the last use of the log. Errors
// wrap ErrInvalidConfig for a bad config.
func OpenEventLog(ctx context.Context, db *badger.DB, cfg EventLogConfig) (*EventLog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open event log: %w", err)
	}
	if cfg.MaxDedupeIDs == 0 {
		cfg.MaxDedupeIDs = DefaultMaxDedupeIDs
	}
	if cfg.DedupeWindow == 0 {
		cfg.DedupeWindow = DefaultDedupeWindow
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	l := &EventLog{db: db, syncer: statedb.NewSyncer(db), cfg: cfg, logger: cfg.Logger.With("component", "event_log"), nextSeq: 1}
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(keyNextSeq)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("invalid value under key %s: %d bytes, expected 8", keyNextSeq, len(v))
			}
			l.nextSeq = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("open event log: %w", err)
	}
	return l, nil
}

// Append writes the events to the log in one transaction and returns once
// they are on disk, after a flush it shares with concurrent calls, so they
// survive a crash or a power failure.
// Events without an ID get a random one ("evt-" and 26 base32
// characters). An event whose id was seen before, in the log or earlier in
// the same call, is dropped and listed in Duplicates. Append returns only
// after a flush even then, so that the first copy is on disk as well.
//
// Every event must pass Validate and have an id of at most MaxEventIDBytes
// bytes, or Append writes nothing and returns an *ItemError naming the
// first bad index. A batch too large for one Badger transaction returns an
// error wrapping ErrBatchTooLarge and writes nothing.
func (l *EventLog) Append(ctx context.Context, events []RecordEvent) (AppendResult, error) {
	for i := range events {
		if err := events[i].Validate(); err != nil {
			return AppendResult{}, fmt.Errorf("append events: %w", &ItemError{Index: i, Err: err})
		}
		if len(events[i].ID) > MaxEventIDBytes {
			return AppendResult{}, fmt.Errorf("append events: %w", &ItemError{Index: i, Err: fmt.Errorf("%w: id of %d bytes, limit %d", ErrInvalidEvent, len(events[i].ID), MaxEventIDBytes)})
		}
	}
	if err := ctx.Err(); err != nil {
		return AppendResult{}, err
	}

	l.mu.Lock()
	result, err := l.appendLocked(events)
	l.mu.Unlock()
	if err != nil || len(events) == 0 {
		return result, err
	}
	// A duplicate waits for the flush too, because its first copy may have
	// been committed by an Append whose flush is still running or failed.
	if err := l.syncer.Sync(ctx); err != nil {
		// The events are committed and will be fired, but the caller must
		// not report them accepted: a power failure could lose them.
		return AppendResult{}, fmt.Errorf("append events: %w", err)
	}
	return result, nil
}

// appendLocked commits the events of Append. l.mu must be held.
func (l *EventLog) appendLocked(events []RecordEvent) (AppendResult, error) {
	now := l.cfg.Clock.Now()
	var result AppendResult
	seq := l.nextSeq
	seen := make(map[string]struct{}, len(events))

	txn := l.db.NewTransaction(true)
	defer txn.Discard()
	for i := range events {
		ev := events[i]
		if ev.ID == "" {
			ev.ID = "evt-" + rand.Text()
		}
		if _, dup := seen[ev.ID]; dup {
			result.Duplicates = append(result.Duplicates, Duplicate{Index: i, ID: ev.ID})
			continue
		}
		seen[ev.ID] = struct{}{}

		earlier, found, err := lookupID(txn, ev.ID)
		if err != nil {
			return AppendResult{}, fmt.Errorf("append events: look up id %q: %w", ev.ID, err)
		}
		if found {
			result.Duplicates = append(result.Duplicates, Duplicate{Index: i, ID: ev.ID, Seq: earlier})
			continue
		}

		logged := LoggedEvent{Seq: seq, AcceptedAt: now, Event: ev}
		if err := putEvent(txn, &logged); err != nil {
			return AppendResult{}, batchError(err)
		}
		result.Accepted = append(result.Accepted, logged)
		seq++
	}

	if err := txn.Set(keyNextSeq, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
		return AppendResult{}, batchError(err)
	}
	if err := txn.Commit(); err != nil {
		return AppendResult{}, batchError(err)
	}
	l.nextSeq = seq

	if err := l.pruneLocked(now); err != nil {
		l.logger.Warn("prune event ids failed: they are dropped on a later append", "error", err)
	}
	return result, nil
}

func batchError(err error) error {
	if errors.Is(err, badger.ErrTxnTooBig) {
		return fmt.Errorf("append events: %w: split it into smaller batches", ErrBatchTooLarge)
	}
	return fmt.Errorf("append events: %w", err)
}

func lookupID(txn *badger.Txn, id string) (uint64, bool, error) {
	item, err := txn.Get(idKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	var seq uint64
	err = item.Value(func(v []byte) error {
		if len(v) < 8 {
			return fmt.Errorf("invalid value under key %s: %d bytes, expected 16", idKey(id), len(v))
		}
		seq = binary.BigEndian.Uint64(v)
		return nil
	})
	return seq, true, err
}

func putEvent(txn *badger.Txn, logged *LoggedEvent) error {
	accepted := logged.AcceptedAt.UnixNano()
	if err := txn.Set(queueKey(logged.Seq), encodeEvent(logged)); err != nil {
		return err
	}

	byKey := binary.BigEndian.AppendUint64(nil, logged.Seq)
	byKey = binary.BigEndian.AppendUint64(byKey, uint64(accepted))
	if err := txn.Set(idKey(logged.Event.ID), byKey); err != nil {
		return err
	}

	bySeq := binary.BigEndian.AppendUint64(nil, uint64(accepted))
	bySeq = append(bySeq, logged.Event.ID...)
	return txn.Set(seqKey(prefixIDBySeq, logged.Seq), bySeq)
}

// Pending returns every event not yet marked done, in sequence order. For
// a large backlog, PendingPage reads it in bounded pages.
func (l *EventLog) Pending(ctx context.Context) ([]LoggedEvent, error) {
	return l.PendingPage(ctx, 0, 0)
}

// PendingPage returns up to limit pending events with a sequence number
// above afterSeq, in sequence order. A limit of 0 or less means no limit.
// Pass the last Seq of one page as afterSeq to read the next.
func (l *EventLog) PendingPage(ctx context.Context, afterSeq uint64, limit int) ([]LoggedEvent, error) {
	var events []LoggedEvent
	err := l.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefixQueue
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(queueKey(afterSeq + 1)); it.Valid(); it.Next() {
			if limit > 0 && len(events) >= limit {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			err := item.Value(func(v []byte) error {
				logged, err := decodeEvent(v)
				if err != nil {
					return fmt.Errorf("key %q: %w", item.Key(), err)
				}
				events = append(events, logged)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list pending events: %w", err)
	}
	return events, nil
}

// MarkDone removes the pending events seqs from the log, in one
// transaction. Their ids stay remembered for deduplication. It does not
// wait for a flush to disk: when a crash loses the removal, the events are
// fired again at the next start, which at-least-once delivery allows. A
// sequence number with no pending event, for example because it was
// already marked done, is skipped, and MarkDone then returns an error
// wrapping ErrEventNotFound that names the first one, after removing the
// others.
func (l *EventLog) MarkDone(ctx context.Context, seqs ...uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()

	var missing []uint64
	err := l.db.Update(func(txn *badger.Txn) error {
		missing = missing[:0]
		for _, seq := range seqs {
			key := queueKey(seq)
			_, err := txn.Get(key)
			if errors.Is(err, badger.ErrKeyNotFound) {
				missing = append(missing, seq)
				continue
			}
			if err != nil {
				return err
			}
			if err := txn.Delete(key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark %d events done: %w", len(seqs), err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("mark event %d done: %w: it is not pending (%d of %d events were not)", missing[0], ErrEventNotFound, len(missing), len(seqs))
	}
	return nil
}

// pruneLocked drops remembered ids, oldest first, that are beyond the
// count or age limit, stopping at the first id to keep or whose event is
// still pending. l.mu must be held.
func (l *EventLog) pruneLocked(now time.Time) error {
	return l.db.Update(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefixIDBySeq
		it := txn.NewIterator(opts)
		defer it.Close()

		var drop [][]byte
		for it.Rewind(); it.Valid() && len(drop) < pruneBatch; it.Next() {
			item := it.Item()
			seq := binary.BigEndian.Uint64(item.Key()[len(prefixIDBySeq):])
			value, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(value) < 8 {
				return fmt.Errorf("invalid value under key %q: %d bytes, expected at least 8", item.Key(), len(value))
			}
			accepted := time.Unix(0, int64(binary.BigEndian.Uint64(value)))

			tooMany := seq+uint64(l.cfg.MaxDedupeIDs) < l.nextSeq
			tooOld := l.cfg.DedupeWindow > 0 && now.Sub(accepted) > l.cfg.DedupeWindow
			if !tooMany && !tooOld {
				break
			}
			if _, err := txn.Get(queueKey(seq)); err == nil {
				break
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			drop = append(drop, item.KeyCopy(nil), idKey(string(value[8:])))
		}
		for _, key := range drop {
			if err := txn.Delete(key); err != nil {
				return err
			}
		}
		return nil
	})
}

func seqKey(prefix []byte, seq uint64) []byte {
	key := make([]byte, 0, len(prefix)+8)
	key = append(key, prefix...)
	return binary.BigEndian.AppendUint64(key, seq)
}

func queueKey(seq uint64) []byte { return seqKey(prefixQueue, seq) }

func idKey(id string) []byte {
	key := make([]byte, 0, len(prefixIDByKey)+len(id))
	key = append(key, prefixIDByKey...)
	return append(key, id...)
}

// encodeEvent writes a LoggedEvent as a tag byte, seq, accept time in Unix
// nanoseconds, then each field as a uvarint length and its bytes. Records
// keep their exact bytes, which a round trip through encoding/json would
// not promise. An absent record is stored with length 0, a JSON null as
// the four bytes "null".
func encodeEvent(logged *LoggedEvent) []byte {
	e := &logged.Event
	fields := [][]byte{
		[]byte(e.ID), []byte(e.EventType), []byte(e.WorkspaceID), []byte(e.NamespaceName),
		[]byte(e.TypeName), e.NewRecord, e.OldRecord,
	}
	size := 17
	for _, f := range fields {
		size += binary.MaxVarintLen64 + len(f)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, storedEventTag)
	buf = binary.BigEndian.AppendUint64(buf, logged.Seq)
	buf = binary.BigEndian.AppendUint64(buf, uint64(logged.AcceptedAt.UnixNano()))
	for _, f := range fields {
		buf = binary.AppendUvarint(buf, uint64(len(f)))
		buf = append(buf, f...)
	}
	return buf
}

func decodeEvent(v []byte) (LoggedEvent, error) {
	if len(v) < 17 || v[0] != storedEventTag {
		return LoggedEvent{}, ErrCorruptLog
	}
	logged := LoggedEvent{
		Seq:        binary.BigEndian.Uint64(v[1:9]),
		AcceptedAt: time.Unix(0, int64(binary.BigEndian.Uint64(v[9:17]))),
	}
	rest := v[17:]
	var fields [7][]byte
	for i := range fields {
		n, read := binary.Uvarint(rest)
		if read <= 0 || n > uint64(len(rest)-read) {
			return LoggedEvent{}, ErrCorruptLog
		}
		rest = rest[read:]
		fields[i] = bytes.Clone(rest[:n])
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return LoggedEvent{}, ErrCorruptLog
	}

	e := &logged.Event
	e.ID = string(fields[0])
	e.EventType = string(fields[1])
	e.WorkspaceID = string(fields[2])
	e.NamespaceName = string(fields[3])
	e.TypeName = string(fields[4])
	if len(fields[5]) > 0 {
		e.NewRecord = fields[5]
	}
	if len(fields[6]) > 0 {
		e.OldRecord = fields[6]
	}
	return logged, nil
}
