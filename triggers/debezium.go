package triggers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// debeziumIDPrefix starts every id derived from a Debezium source position.
const debeziumIDPrefix = "dbz-"

// positionKeys are the source fields that locate a change in the database
// log. PostgreSQL sets lsn, txId and sequence. MySQL sets file, pos, row,
// gtid and server_id. SQL Server sets change_lsn, commit_lsn and
// event_serial_no, Oracle scn, commit_scn, rs_id and ssn, and MongoDB ord,
// h, txnNumber and lsid. The id hash visits them in this order.
var positionKeys = []string{
	"change_lsn", "commit_lsn", "commit_scn", "event_serial_no", "file", "gtid", "h",
	"lsid", "lsn", "ord", "pos", "row", "rs_id", "scn", "sequence", "server_id", "ssn",
	"txId", "txnNumber",
}

// debeziumSource holds the naming fields of a Debezium source block, and
// for MongoDB the two fields that name the event's oplog position.
type debeziumSource struct {
	Connector  string          `json:"connector"`
	Name       string          `json:"name"`
	DB         string          `json:"db"`
	Schema     string          `json:"schema"`
	Table      string          `json:"table"`
	Collection string          `json:"collection"`
	TsMs       json.RawMessage `json:"ts_ms"`
	Ord        json.RawMessage `json:"ord"`
}

// isMongoDB reports whether the event comes from the MongoDB connector,
// which names a collection instead of a table and sends documents as
// Extended JSON strings.
func (s *debeziumSource) isMongoDB() bool {
	return s.Connector == "mongodb" || (s.Table == "" && s.Collection != "")
}

func debeziumEvent(doc *document, opts *DecodeOptions) (RecordEvent, outcome, error) {
	op := *doc.Op
	ev := RecordEvent{
		WorkspaceID:   opts.workspaceID(),
		NamespaceName: opts.namespaceName(),
	}
	switch op {
	case "c":
		ev.EventType = EventTypeCreated
	case "r":
		if opts.SkipSnapshotReads {
			return RecordEvent{}, outcomeSnapshotSkipped, nil
		}
		ev.EventType = EventTypeCreated
	case "u":
		ev.EventType = EventTypeUpdated
	case "d":
		ev.EventType = EventTypeDeleted
	case "t", "m":
		// Truncates and logical decoding messages name no record.
		return RecordEvent{}, outcomeOpSkipped, nil
	default:
		return RecordEvent{}, 0, fmt.Errorf("%w: op %q: expected c, u, d, r, t or m", ErrUnsupportedOp, op)
	}

	if len(doc.Source) == 0 || isNull(doc.Source) {
		return RecordEvent{}, 0, fmt.Errorf("%w: debezium %q event has no source block", ErrInvalidEvent, op)
	}
	var src debeziumSource
	if err := json.Unmarshal(doc.Source, &src); err != nil {
		return RecordEvent{}, 0, fmt.Errorf("%w: debezium source: %v", ErrInvalidEvent, err)
	}
	mongo := src.isMongoDB()
	table := src.Table
	if mongo {
		table = src.Collection
	}
	if table == "" {
		field := "source.table"
		if mongo {
			field = "source.collection"
		}
		return RecordEvent{}, 0, fmt.Errorf("%w: debezium %q event has no %s: set it in the connector output", ErrInvalidEvent, op, field)
	}
	ev.TypeName = typeNameFor(&src, table, opts.TypeNames)

	if mongo {
		if err := mongoRecords(&ev, doc, op); err != nil {
			return RecordEvent{}, 0, fmt.Errorf("%s: %w", mongoEventName(op, &src), err)
		}
		if err := ev.Validate(); err != nil {
			return RecordEvent{}, 0, fmt.Errorf("%s: %w", mongoEventName(op, &src), err)
		}
	} else {
		switch op {
		case "c", "r":
			ev.NewRecord = doc.After
		case "u":
			ev.NewRecord = doc.After
			ev.OldRecord = nullIfAbsent(doc.Before)
		case "d":
			ev.OldRecord = nullIfAbsent(doc.Before)
		}
		if err := ev.Validate(); err != nil {
			return RecordEvent{}, 0, fmt.Errorf("debezium %q event on table %q: %w", op, table, err)
		}
	}

	id, err := debeziumID(doc, &src, table, op, mongo)
	if err != nil {
		return RecordEvent{}, 0, err
	}
	ev.ID = id
	return ev, outcomeEvent, nil
}

// nullIfAbsent turns a missing before-image into an explicit null, so the
// callback receives oldRecord: null rather than no field.
func nullIfAbsent(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

func typeNameFor(src *debeziumSource, table string, names map[string]string) string {
	if len(names) == 0 {
		return table
	}
	for _, prefix := range []string{src.Schema, src.DB} {
		if prefix == "" {
			continue
		}
		if name, ok := names[prefix+"."+table]; ok {
			return name
		}
	}
	if name, ok := names[table]; ok {
		return name
	}
	return table
}

// debeziumID derives the event id from where the change sits in the
// database log, so a replayed or redelivered change gets the same id. The
// hash covers the logical server name, database, schema, table, op, every
// position field present in source, and the row image (after, or before
// for a delete). The row image distinguishes rows that share one position,
// such as the rows of one snapshot.
//
// A MongoDB position is an oplog timestamp: source.ts_ms holds its
// seconds and ord the order within that second, so for MongoDB the hash
// also covers source.ts_ms. Its image is every document field present:
// after, before, updateDescription, patch and filter, and the transaction
// block, which distinguishes the changes of one transaction.
func debeziumID(doc *document, src *debeziumSource, table, op string, mongo bool) (string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(doc.Source, &fields); err != nil {
		return "", fmt.Errorf("%w: debezium source: %v", ErrInvalidEvent, err)
	}

	h := sha256.New()
	write := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
	}
	write("v1", src.Name, src.DB, src.Schema, table, op)
	for _, key := range positionKeys {
		if value, ok := fields[key]; ok {
			write(key, string(value))
		}
	}

	if mongo {
		if value, ok := fields["ts_ms"]; ok {
			write("ts_ms", string(value))
		}
		for _, part := range []struct {
			name  string
			value json.RawMessage
		}{
			{"after", doc.After}, {"before", doc.Before}, {"updateDescription", doc.UpdateDescription},
			{"patch", doc.Patch}, {"filter", doc.Filter}, {"transaction", doc.Transaction},
		} {
			if len(part.value) > 0 {
				write(part.name, string(part.value))
			}
		}
	} else {
		image := doc.After
		if op == "d" || len(image) == 0 || isNull(image) {
			image = doc.Before
		}
		h.Write(image)
	}

	sum := h.Sum(nil)
	return debeziumIDPrefix + hex.EncodeToString(sum[:16]), nil
}
