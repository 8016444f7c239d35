package triggers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// Defaults for DecodeOptions.
const (
	// DefaultWorkspaceID is the workspaceId given to Debezium events, and
	// to platform events that lack one, when DecodeOptions leaves it empty.
	DefaultWorkspaceID = "local"

	// DefaultNamespaceName is the namespaceName given to Debezium events,
	// and to platform events that lack one, when DecodeOptions leaves it
	// empty.
	DefaultNamespaceName = "local"

	// DefaultMaxLineBytes is the longest JSONL line the Reader accepts
	// when DecodeOptions leaves MaxLineBytes at 0: 64 MiB.
	DefaultMaxLineBytes = 64 << 20
)

// DecodeOptions configure how JSONL lines and request bodies become
// RecordEvents. The zero value is ready to use. A DecodeOptions must not be
// changed while a Reader or DecodeBody call uses it.
type DecodeOptions struct {
	// WorkspaceID is the workspaceId of Debezium events and of platform
	// events that have none. Default DefaultWorkspaceID.
	WorkspaceID string

	// NamespaceName is the namespaceName of Debezium events and of
	// platform events that have none. Default DefaultNamespaceName.
	NamespaceName string

	// TypeNames maps a Debezium source table, or MongoDB collection, to a
	// type name. A key is "schema.table", "db.table" or "table" (for
	// MongoDB "db.collection" or "collection"); the first that matches, in
	// that order, wins. A table or collection with no entry keeps its name
	// as type name.
	TypeNames map[string]string

	// SkipSnapshotReads drops Debezium snapshot reads (op "r") instead of
	// turning them into created events. Default false.
	SkipSnapshotReads bool

	// MaxLineBytes is the longest line the Reader accepts, in bytes,
	// without the line ending. Longer lines are reported as a LineError
	// wrapping ErrLineTooLong and skipped. Default DefaultMaxLineBytes.
	MaxLineBytes int
}

func (o *DecodeOptions) workspaceID() string {
	if o.WorkspaceID == "" {
		return DefaultWorkspaceID
	}
	return o.WorkspaceID
}

func (o *DecodeOptions) namespaceName() string {
	if o.NamespaceName == "" {
		return DefaultNamespaceName
	}
	return o.NamespaceName
}

func (o *DecodeOptions) maxLineBytes() int {
	if o.MaxLineBytes <= 0 {
		return DefaultMaxLineBytes
	}
	return o.MaxLineBytes
}

// outcome is the kind of result decodeObject produced for one JSON value.
type outcome int

const (
	outcomeEvent outcome = iota
	outcomeTombstone
	outcomeSnapshotSkipped
	outcomeOpSkipped
)

// document holds the top-level fields of both accepted formats, so one
// json.Unmarshal call distinguishes them: a platform event has eventType, a
// Debezium envelope has op, and the schema wrapper has payload.
type document struct {
	ID            string          `json:"id"`
	EventType     string          `json:"eventType"`
	WorkspaceID   string          `json:"workspaceId"`
	NamespaceName string          `json:"namespaceName"`
	TypeName      string          `json:"typeName"`
	NewRecord     json.RawMessage `json:"newRecord"`
	OldRecord     json.RawMessage `json:"oldRecord"`

	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Op     *string         `json:"op"`
	Source json.RawMessage `json:"source"`

	// MongoDB change events: the change of an update, in the change
	// streams capture mode (updateDescription) or the oplog mode (patch),
	// the selector of an oplog-mode update or delete (filter), and the
	// transaction block.
	UpdateDescription json.RawMessage `json:"updateDescription"`
	Patch             json.RawMessage `json:"patch"`
	Filter            json.RawMessage `json:"filter"`
	Transaction       json.RawMessage `json:"transaction"`

	Schema  json.RawMessage `json:"schema"`
	Payload json.RawMessage `json:"payload"`
}

// decodeObject turns one JSON value into a RecordEvent, or returns the
// outcome that explains why it yields none. Errors wrap ErrInvalidEvent or ErrUnsupportedOp.
func decodeObject(data []byte, opts *DecodeOptions) (RecordEvent, outcome, error) {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		return RecordEvent{}, outcomeTombstone, nil
	}
	if len(data) == 0 || data[0] != '{' {
		return RecordEvent{}, 0, fmt.Errorf("%w: not a JSON object", ErrInvalidEvent)
	}

	var doc document
	if err := json.Unmarshal(data, &doc); err != nil {
		if several, _ := severalValues(data); several {
			return RecordEvent{}, 0, fmt.Errorf("%w: several JSON values on one line: put each event on a line of its own", ErrInvalidEvent)
		}
		return RecordEvent{}, 0, fmt.Errorf("%w: %s", ErrInvalidEvent, describeJSONError(err))
	}

	switch {
	case doc.EventType != "":
		return platformEvent(&doc, opts)
	case doc.Op != nil:
		return debeziumEvent(&doc, opts)
	case doc.Payload != nil:
		if isNull(doc.Payload) {
			return RecordEvent{}, outcomeTombstone, nil
		}
		var envelope document
		if err := json.Unmarshal(doc.Payload, &envelope); err != nil {
			return RecordEvent{}, 0, fmt.Errorf("%w: payload: %s", ErrInvalidEvent, describeJSONError(err))
		}
		if envelope.Op == nil {
			return RecordEvent{}, 0, fmt.Errorf("%w: payload has no op: expected a Debezium change event", ErrInvalidEvent)
		}
		return debeziumEvent(&envelope, opts)
	default:
		return RecordEvent{}, 0, fmt.Errorf("%w: no eventType and no op: expected a platform record event or a Debezium change event", ErrInvalidEvent)
	}
}

// describeJSONError formats a decoding error of one event in terms of its
// JSON fields. For a value of the wrong type, encoding/json names a Go
// struct field ("Go struct field document.id of type string"), so the
// message is rewritten to name the event's field and the type to use.
// Every typed field of document is a string, and the others are raw JSON.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" && typeErr.Type != nil && typeErr.Type.Kind() == reflect.String {
		got := typeErr.Value
		if got == "bool" {
			got = "boolean"
		}
		return fmt.Sprintf("field %q is a JSON %s; make it a JSON string", typeErr.Field, got)
	}
	return err.Error()
}

// severalValues reports whether data is a complete JSON value followed by
// an object or an array, as when JSONL lines are joined without their line
// breaks, and whether a line break lies between the two values.
func severalValues(data []byte) (several, lineBreak bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var first json.RawMessage
	if dec.Decode(&first) != nil {
		return false, false
	}
	gap := data[dec.InputOffset():]
	next := bytes.TrimLeft(gap, " \t\r\n")
	if len(next) == 0 || (next[0] != '{' && next[0] != '[') {
		return false, false
	}
	space := gap[:len(gap)-len(next)]
	return true, bytes.IndexByte(space, '\n') >= 0
}

func platformEvent(doc *document, opts *DecodeOptions) (RecordEvent, outcome, error) {
	ev := RecordEvent{
		ID:            doc.ID,
		EventType:     doc.EventType,
		WorkspaceID:   doc.WorkspaceID,
		NamespaceName: doc.NamespaceName,
		TypeName:      doc.TypeName,
		NewRecord:     doc.NewRecord,
		OldRecord:     doc.OldRecord,
	}
	if ev.WorkspaceID == "" {
		ev.WorkspaceID = opts.workspaceID()
	}
	if ev.NamespaceName == "" {
		ev.NamespaceName = opts.namespaceName()
	}
	if err := ev.Validate(); err != nil {
		return RecordEvent{}, 0, err
	}
	return ev, outcomeEvent, nil
}
