package triggers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ReaderStats counts what a Reader has seen so far.
type ReaderStats struct {
	// Lines is the number of lines read, blank ones included.
	Lines int
	// Events is the number of events returned.
	Events int
	// Blank is the number of empty or all-whitespace lines skipped.
	Blank int
	// Tombstones is the number of Debezium tombstones (null lines, or a
	// null payload in the schema wrapper) skipped.
	Tombstones int
	// SnapshotsSkipped is the number of snapshot reads (op "r") dropped
	// because DecodeOptions.SkipSnapshotReads is set.
	SnapshotsSkipped int
	// OpsSkipped is the number of Debezium truncate ("t") and message
	// ("m") events skipped, since they name no record.
	OpsSkipped int
	// Malformed is the number of lines reported as a LineError.
	Malformed int
}

// Reader reads record events from JSONL input, one JSON value per line.
// Each line may be a platform record event or a Debezium change event, with
// or without the schema wrapper; the format is detected per line. Lines may
// end in "\n" or "\r\n" and may be as long as DecodeOptions.MaxLineBytes.
// A Reader is not safe for concurrent use.
type Reader struct {
	in    *bufio.Reader
	opts  DecodeOptions
	buf   []byte
	line  int
	stats ReaderStats
	err   error
}

// NewReader returns a Reader over in that decodes with opts.
func NewReader(in io.Reader, opts DecodeOptions) *Reader {
	return &Reader{in: bufio.NewReaderSize(in, 64<<10), opts: opts}
}

// Next returns the next event. Blank lines, tombstones and skipped
// operations produce no event and are only counted in Stats.
//
// A malformed line yields a *LineError naming the line; the caller logs it
// and calls Next again, which goes on with the following line. At the end
// of the input Next returns io.EOF. Any other error comes from the
// underlying reader and is returned again by every later call.
func (r *Reader) Next() (RecordEvent, error) {
	for {
		if r.err != nil {
			return RecordEvent{}, r.err
		}
		line, err := r.readLine()
		if err != nil && !errors.Is(err, ErrLineTooLong) {
			r.err = err
			return RecordEvent{}, err
		}
		r.line++
		r.stats.Lines++
		if err != nil {
			r.stats.Malformed++
			return RecordEvent{}, &LineError{Line: r.line, Err: err}
		}

		if r.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(bytes.TrimSpace(line)) == 0 {
			r.stats.Blank++
			continue
		}

		ev, out, err := decodeObject(line, &r.opts)
		if err != nil {
			r.stats.Malformed++
			return RecordEvent{}, &LineError{Line: r.line, Err: err}
		}
		switch out {
		case outcomeTombstone:
			r.stats.Tombstones++
		case outcomeSnapshotSkipped:
			r.stats.SnapshotsSkipped++
		case outcomeOpSkipped:
			r.stats.OpsSkipped++
		case outcomeEvent:
			r.stats.Events++
			return ev, nil
		}
	}
}

// Line returns the 1-based number of the line that the last call to Next
// read, or 0 before the first call.
func (r *Reader) Line() int { return r.line }

// Stats returns the counts so far.
func (r *Reader) Stats() ReaderStats { return r.stats }

// readLine returns the next line without its ending, valid until the next
// call. It returns io.EOF only when no byte is left, and ErrLineTooLong,
// after consuming the whole line, when the line exceeds the limit.
func (r *Reader) readLine() ([]byte, error) {
	limit := r.opts.maxLineBytes()
	r.buf = r.buf[:0]
	tooLong := false
	read := false
	for {
		chunk, err := r.in.ReadSlice('\n')
		if len(chunk) > 0 {
			read = true
		}
		// Two extra bytes leave room for the "\r\n" ending.
		if !tooLong && len(r.buf)+len(chunk) > limit+2 {
			tooLong = true
			r.buf = r.buf[:0]
		}
		if !tooLong {
			r.buf = append(r.buf, chunk...)
		}

		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if !read {
				return nil, io.EOF
			}
		default:
			return nil, fmt.Errorf("read events: %w", err)
		}
		break
	}

	line := bytes.TrimSuffix(r.buf, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if tooLong || len(line) > limit {
		return nil, fmt.Errorf("%w: longer than %d bytes: raise the line limit or split the record", ErrLineTooLong, limit)
	}
	return line, nil
}

// DecodeBody decodes a request body that holds one event object, a JSON
// array of them, or one object per line as in a JSONL file, in either
// format that Reader accepts. It returns the events in body order. Items
// that yield no event (a Debezium truncate or message, or a snapshot read
// when SkipSnapshotReads is set) are left out.
//
// Each bad item yields an *ItemError naming its index: its position in
// the array, or among the body's non-blank lines. The returned error joins
// them (use errors.As or the Unwrap() []error method), and the events
// returned are the good items only. Any other body returns an error
// wrapping ErrInvalidEvent and no events. For a body of several JSON
// values one after another, such as JSONL whose line breaks were
// stripped, the error names that cause and how to send the events.
func DecodeBody(body []byte, opts DecodeOptions) ([]RecordEvent, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		if lines, ok := objectLines(body); ok {
			return decodeItems(lines, &opts)
		}
		ev, out, err := decodeObject(body, &opts)
		if err != nil {
			if err := severalValuesError(body); err != nil {
				return nil, err
			}
			return nil, &ItemError{Index: 0, Err: err}
		}
		if out != outcomeEvent {
			return nil, nil
		}
		return []RecordEvent{ev}, nil
	}
	if len(body) == 0 {
		return nil, fmt.Errorf("decode events body: %w: the body is empty: send one event object, a JSON array of them, or one object per line", ErrInvalidEvent)
	}
	if body[0] != '[' {
		return nil, fmt.Errorf("decode events body: %w: expected a JSON object, an array of them, or one object per line", ErrInvalidEvent)
	}

	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		if err := severalValuesError(body); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("decode events body: %w: %v", ErrInvalidEvent, err)
	}
	return decodeItems(items, &opts)
}

// severalValuesError describes a body that is several JSON values one
// after another, or returns nil for any other body. A JSONL file sent with
// curl --data arrives with its values on one line, because --data strips
// line breaks. Pretty-printed objects arrive spread over lines.
func severalValuesError(body []byte) error {
	several, lineBreak := severalValues(body)
	switch {
	case !several:
		return nil
	case lineBreak:
		return fmt.Errorf("decode events body: %w: the body contains several JSON values that span lines; "+
			"send one event per line (JSONL; jq -c writes it) or a JSON array", ErrInvalidEvent)
	default:
		return fmt.Errorf("decode events body: %w: the body contains several JSON values on one line; "+
			"send JSONL with its line breaks kept, one event per line (curl --data-binary @FILE, not --data, which strips them), or a JSON array", ErrInvalidEvent)
	}
}

// objectLines splits body into its non-blank lines when its first line is
// a JSON value of its own and more lines follow: one event per line. Such
// a body cannot be one JSON value. It reports false for any other body,
// such as a single object spread over several lines.
func objectLines(body []byte) ([]json.RawMessage, bool) {
	first, _, more := bytes.Cut(body, []byte("\n"))
	if !more || !json.Valid(first) {
		return nil, false
	}
	var lines []json.RawMessage
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			lines = append(lines, line)
		}
	}
	return lines, true
}

// decodeItems decodes each item of a body with several events, as
// DecodeBody describes.
func decodeItems(items []json.RawMessage, opts *DecodeOptions) ([]RecordEvent, error) {
	events := make([]RecordEvent, 0, len(items))
	var errs []error
	for i, item := range items {
		if isNull(item) {
			errs = append(errs, &ItemError{Index: i, Err: fmt.Errorf("%w: null instead of an event object", ErrInvalidEvent)})
			continue
		}
		ev, out, err := decodeObject(item, opts)
		if err != nil {
			errs = append(errs, &ItemError{Index: i, Err: err})
			continue
		}
		if out == outcomeEvent {
			events = append(events, ev)
		}
	}
	return events, errors.Join(errs...)
}
