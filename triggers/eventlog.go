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
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/execvault/execvault/runtime/statedb"
)

// Key layout of the event log. Sequence numbers are 8-byte big-endian, so
// keys sort in acceptance order.
//
//	event/next           the next sequence number
//	event/q/<seq>        a pending event
//	event/aside/<seq>    a pending event that could not be decoded, set aside
//	eventid/k/<id>       seq and accept time of a remembered id
//	eventid/s/<seq>      accept time and id, to drop ids oldest first
var (
	keyNextSeq     = []byte("event/next")
	prefixQueue    = []byte("event/q/")
	prefixAside    = []byte("event/aside/")
	prefixIDByKey  = []byte("eventid/k/")
	prefixIDBySeq  = []byte("eventid/s/")
	storedEventTag = byte(1)
	setAsideTag    = byte(1)
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

	// setAside counts the entries under event/aside/.
	setAside atomic.Int64
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
		l.setAside.Store(int64(countKeys(txn, prefixAside)))
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

// countKeys returns the number of keys in txn that start with prefix,
// without reading their values.
func countKeys(txn *badger.Txn, prefix []byte) int {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	opts.PrefetchValues = false
	it := txn.NewIterator(opts)
	defer it.Close()
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		n++
	}
	return n
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
//
// A pending entry that cannot be decoded is not returned: PendingPage
// moves it aside with its stored bytes, so that it does not block the
// events after it, and logs an error naming it. SetAsideEvents lists such
// entries.
func (l *EventLog) PendingPage(ctx context.Context, afterSeq uint64, limit int) ([]LoggedEvent, error) {
	var events []LoggedEvent
	var undecodable []corruptEntry
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
			seq, err := keySeq(item.Key(), prefixQueue)
			if err != nil {
				return err
			}
			err = item.Value(func(v []byte) error {
				logged, err := decodeQueued(seq, v)
				if err != nil {
					undecodable = append(undecodable, corruptEntry{seq: seq, err: err})
					return nil
				}
				events = append(events, logged)
				return nil
			})
			if err != nil {
				return fmt.Errorf("key %q: %w", item.Key(), err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list pending events: %w", err)
	}
	for _, c := range undecodable {
		if err := l.setAsideEntry(ctx, c); err != nil {
			return nil, fmt.Errorf("list pending events: set aside event %d: %w", c.seq, err)
		}
	}
	return events, nil
}

// decodeQueued decodes the value stored under event/q/<seq> and checks
// that it contains that sequence number, because MarkDone removes events
// by it.
func decodeQueued(seq uint64, v []byte) (LoggedEvent, error) {
	logged, err := decodeEvent(v)
	if err != nil {
		return LoggedEvent{}, err
	}
	if logged.Seq != seq {
		return LoggedEvent{}, fmt.Errorf("%w: stored under sequence number %d but contains %d", ErrCorruptLog, seq, logged.Seq)
	}
	return logged, nil
}

// corruptEntry is a pending entry that PendingPage could not decode.
type corruptEntry struct {
	seq uint64
	err error
}

// SetAsideEvent is a pending entry of the log that could not be decoded
// and was moved aside, so that the events after it could run. Its stored
// bytes are kept as they were.
type SetAsideEvent struct {
	// Seq is the sequence number the entry was stored under.
	Seq uint64 `json:"seq"`
	// EventID is the event's id, read from the id index. It is empty when
	// the index had no entry for Seq.
	EventID string `json:"eventId,omitempty"`
	// AcceptedAt is when Append accepted the event, read from the id
	// index. It is zero when the index had no entry for Seq.
	AcceptedAt time.Time `json:"acceptedAt,omitzero"`
	// SetAsideAt is when the entry was moved aside.
	SetAsideAt time.Time `json:"setAsideAt,omitzero"`
	// Error is the decode error.
	Error string `json:"error"`
	// Raw is the stored value, byte for byte. JSON encodes it as base64.
	Raw []byte `json:"raw"`
}

// setAsideEntry moves the pending entry c.seq to event/aside/<seq>, in
// one transaction with its removal from the queue and from the id index,
// and logs it. An entry that is no longer pending is left alone, so an
// entry is logged once however many readers find it.
//
// The event's id is forgotten with the entry, so that a client that sends
// the event again has it accepted and processed: the set-aside copy never
// fired.
func (l *EventLog) setAsideEntry(ctx context.Context, c corruptEntry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()

	rec := SetAsideEvent{Seq: c.seq, SetAsideAt: l.cfg.Clock.Now(), Error: c.err.Error()}
	moved := false
	err := l.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(queueKey(c.seq))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if rec.Raw, err = item.ValueCopy(nil); err != nil {
			return err
		}
		if err := forgetSeq(txn, &rec); err != nil {
			return err
		}
		if err := txn.Set(asideKey(c.seq), encodeSetAside(&rec)); err != nil {
			return err
		}
		moved = true
		return txn.Delete(queueKey(c.seq))
	})
	if err != nil || !moved {
		return err
	}
	l.setAside.Add(1)

	attrs := []any{"seq", c.seq}
	if rec.EventID != "" {
		attrs = append(attrs, "event_id", rec.EventID)
	}
	attrs = append(attrs, "error", c.err, "bytes", len(rec.Raw))
	l.logger.Error("pending event cannot be decoded and was set aside, so that later events run. "+
		"Its stored bytes are kept: 'execvault event aside' lists them. "+
		"Send the event again to process it: its id is no longer remembered, so the resend is accepted",
		attrs...)
	return nil
}

// forgetSeq fills the id and accept time of rec from the id index and
// removes the index entries of rec.Seq. An index entry too short to hold
// an id is removed as well, and the id stays unknown.
func forgetSeq(txn *badger.Txn, rec *SetAsideEvent) error {
	bySeq := seqKey(prefixIDBySeq, rec.Seq)
	item, err := txn.Get(bySeq)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return err
	}
	if err := txn.Delete(bySeq); err != nil {
		return err
	}
	if len(v) <= 8 {
		return nil
	}
	rec.AcceptedAt = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
	rec.EventID = string(v[8:])

	item, err = txn.Get(idKey(rec.EventID))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	byKey, err := item.ValueCopy(nil)
	if err != nil {
		return err
	}
	if len(byKey) >= 8 && binary.BigEndian.Uint64(byKey) != rec.Seq {
		// The id belongs to another event.
		return nil
	}
	return txn.Delete(idKey(rec.EventID))
}

// SetAsideEvents returns the entries that PendingPage set aside because
// they could not be decoded, in sequence order. An entry whose own record
// is invalid is returned with the whole record in Raw and an Error that
// reports it.
func (l *EventLog) SetAsideEvents(ctx context.Context) ([]SetAsideEvent, error) {
	var out []SetAsideEvent
	err := l.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefixAside
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			seq, err := keySeq(it.Item().Key(), prefixAside)
			if err != nil {
				return err
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("key %q: %w", it.Item().Key(), err)
			}
			rec, err := decodeSetAside(seq, v)
			if err != nil {
				rec = SetAsideEvent{Seq: seq, Error: fmt.Sprintf("invalid set-aside record (%v): raw contains the whole record", err), Raw: v}
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list set-aside events: %w", err)
	}
	return out, nil
}

// SetAsideCount returns how many entries the log holds set aside. It
// counts them when the log opens and adds those PendingPage sets aside, so
// it reads no storage.
func (l *EventLog) SetAsideCount() int {
	return int(l.setAside.Load())
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

func asideKey(seq uint64) []byte { return seqKey(prefixAside, seq) }

// keySeq returns the sequence number of key, which starts with prefix.
func keySeq(key, prefix []byte) (uint64, error) {
	if len(key) != len(prefix)+8 {
		return 0, fmt.Errorf("invalid key %q: expected %s and an 8-byte sequence number", key, prefix)
	}
	return binary.BigEndian.Uint64(key[len(prefix):]), nil
}

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

// storedFieldNames name the fields of encodeEvent in order, for errors.
var storedFieldNames = [7]string{"id", "eventType", "workspaceId", "namespaceName", "typeName", "newRecord", "oldRecord"}

// decodeEvent reverses encodeEvent. Its errors wrap ErrCorruptLog and name
// the part of v that is wrong.
func decodeEvent(v []byte) (LoggedEvent, error) {
	if len(v) < 17 {
		return LoggedEvent{}, fmt.Errorf("%w: %d bytes, shorter than the 17-byte header", ErrCorruptLog, len(v))
	}
	if v[0] != storedEventTag {
		return LoggedEvent{}, fmt.Errorf("%w: format tag %#02x, this version reads %#02x (a newer execvault may have written it)", ErrCorruptLog, v[0], storedEventTag)
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
			return LoggedEvent{}, fmt.Errorf("%w: field %s at byte %d has a length that runs past the end", ErrCorruptLog, storedFieldNames[i], len(v)-len(rest))
		}
		rest = rest[read:]
		fields[i] = bytes.Clone(rest[:n])
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return LoggedEvent{}, fmt.Errorf("%w: %d bytes after the last field", ErrCorruptLog, len(rest))
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

// encodeSetAside writes a SetAsideEvent, without its Seq, which is in the
// key: a tag byte, the set-aside and accept times in Unix nanoseconds (0
// for an unknown accept time), the event id and the error each as a
// uvarint length and its bytes, then the raw bytes to the end.
func encodeSetAside(rec *SetAsideEvent) []byte {
	buf := make([]byte, 0, 17+2*binary.MaxVarintLen64+len(rec.EventID)+len(rec.Error)+len(rec.Raw))
	buf = append(buf, setAsideTag)
	buf = binary.BigEndian.AppendUint64(buf, uint64(rec.SetAsideAt.UnixNano()))
	var accepted int64
	if !rec.AcceptedAt.IsZero() {
		accepted = rec.AcceptedAt.UnixNano()
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(accepted))
	for _, f := range []string{rec.EventID, rec.Error} {
		buf = binary.AppendUvarint(buf, uint64(len(f)))
		buf = append(buf, f...)
	}
	return append(buf, rec.Raw...)
}

// decodeSetAside reverses encodeSetAside for the record under
// event/aside/<seq>. The result's Raw shares memory with v.
func decodeSetAside(seq uint64, v []byte) (SetAsideEvent, error) {
	if len(v) < 17 || v[0] != setAsideTag {
		return SetAsideEvent{}, fmt.Errorf("%d bytes without the %#02x header", len(v), setAsideTag)
	}
	rec := SetAsideEvent{Seq: seq, SetAsideAt: time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9])))}
	if accepted := int64(binary.BigEndian.Uint64(v[9:17])); accepted != 0 {
		rec.AcceptedAt = time.Unix(0, accepted)
	}
	rest := v[17:]
	var fields [2]string
	for i := range fields {
		n, read := binary.Uvarint(rest)
		if read <= 0 || n > uint64(len(rest)-read) {
			return SetAsideEvent{}, fmt.Errorf("field %d at byte %d has a length that runs past the end", i, len(v)-len(rest))
		}
		fields[i] = string(rest[read : read+int(n)])
		rest = rest[read+int(n):]
	}
	rec.EventID, rec.Error = fields[0], fields[1]
	rec.Raw = rest
	return rec, nil
}
