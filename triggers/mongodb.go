package triggers

import (
	"encoding/json"
	"fmt"
	"strings"
)

// mongoRecords sets the records of ev, for op, from a change event of the
// Debezium MongoDB connector. The connector sends each document (after,
// before, and filter in the oplog capture mode) as a JSON string containing
// MongoDB Extended JSON, and the records get the plain JSON that
// appendPlainJSON makes of it.
//
// An update must carry the full document in after: with only the changed
// fields (updateDescription or patch) the record after the update is
// unknown, and the error names the capture.mode that adds it. A delete
// gets before, or else the filter of the oplog capture mode, which holds
// the _id, or else oldRecord: null.
func mongoRecords(ev *RecordEvent, doc *document, op string) error {
	var err error
	switch op {
	case "c", "r":
		ev.NewRecord, err = mongoDocument("after", doc.After)
	case "u":
		if len(doc.After) == 0 || isNull(doc.After) {
			return errNoFullDocument(doc)
		}
		if ev.NewRecord, err = mongoDocument("after", doc.After); err != nil {
			return err
		}
		ev.OldRecord, err = mongoDocument("before", doc.Before)
		ev.OldRecord = nullIfAbsent(ev.OldRecord)
	case "d":
		field, raw := "before", doc.Before
		if len(raw) == 0 || isNull(raw) {
			field, raw = "filter", doc.Filter
		}
		ev.OldRecord, err = mongoDocument(field, raw)
		ev.OldRecord = nullIfAbsent(ev.OldRecord)
	}
	return err
}

// mongoDocument turns the document in field into a plain JSON object. raw
// is the field's value in the envelope: a JSON string containing Extended
// JSON, as the connector writes it, or the document as a JSON object. An
// absent or null field gives nil.
func mongoDocument(field string, raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || isNull(raw) {
		return nil, nil
	}
	text := []byte(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidEvent, field, err)
		}
		text = []byte(s)
	} else if raw[0] != '{' {
		return nil, fmt.Errorf("%w: %s must be a JSON string containing the document, or an object", ErrInvalidEvent, field)
	}
	record, err := appendPlainJSON(nil, text)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v: check that the line is complete and unedited", ErrInvalidEvent, field, err)
	}
	return record, nil
}

// errNoFullDocument explains an update that lacks the document after the
// change, and which connector setting adds it.
func errNoFullDocument(doc *document) error {
	only := ""
	switch {
	case len(doc.UpdateDescription) > 0 && !isNull(doc.UpdateDescription):
		only = ", only the changed fields in updateDescription"
	case len(doc.Patch) > 0 && !isNull(doc.Patch):
		only = ", only the change in patch"
	}
	return fmt.Errorf("%w: update has no full document in after%s, so the record after the update is unknown: "+
		"set the connector's capture.mode to change_streams_update_full (its default), or change_streams_update_full_with_pre_image for oldRecord too",
		ErrInvalidEvent, only)
}

// mongoEventName names a MongoDB change event in errors: its op, its
// database and collection, and its oplog position when source has one.
func mongoEventName(op string, src *debeziumSource) string {
	collection := src.Collection
	if src.DB != "" {
		collection = src.DB + "." + collection
	}
	var pos []string
	if len(src.TsMs) > 0 {
		pos = append(pos, "ts_ms "+string(src.TsMs))
	}
	if len(src.Ord) > 0 {
		pos = append(pos, "ord "+string(src.Ord))
	}
	name := fmt.Sprintf("debezium %q event on collection %q", op, collection)
	if len(pos) > 0 {
		name += " at " + strings.Join(pos, ", ")
	}
	return name
}
