package triggers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Raw platform event types for records.
const (
	EventTypeCreated = "tailordb.type_record.created"
	EventTypeUpdated = "tailordb.type_record.updated"
	EventTypeDeleted = "tailordb.type_record.deleted"
)

// RecordEvent is one record event as the platform emits it. Records are kept
// as raw JSON so that they reach the guest byte for byte.
type RecordEvent struct {
	// ID identifies the event for deduplication; optional in input.
	ID            string          `json:"id,omitempty"`
	EventType     string          `json:"eventType"`
	WorkspaceID   string          `json:"workspaceId"`
	NamespaceName string          `json:"namespaceName"`
	TypeName      string          `json:"typeName"`
	NewRecord     json.RawMessage `json:"newRecord,omitempty"`
	OldRecord     json.RawMessage `json:"oldRecord,omitempty"`
}

// Kind returns "created", "updated" or "deleted" for the event type.
func (e *RecordEvent) Kind() string {
	return strings.TrimPrefix(e.EventType, "tailordb.type_record.")
}

// Validate reports a missing or unknown field, naming it. A created or
// updated event needs newRecord as a JSON object; any record present must
// be a JSON object or null. Errors wrap ErrInvalidEvent.
func (e *RecordEvent) Validate() error {
	switch e.EventType {
	case EventTypeCreated, EventTypeUpdated, EventTypeDeleted:
	case "":
		return fmt.Errorf("%w: no eventType: use %s, %s or %s", ErrInvalidEvent, EventTypeCreated, EventTypeUpdated, EventTypeDeleted)
	default:
		return fmt.Errorf("%w: unknown eventType %q: use %s, %s or %s", ErrInvalidEvent, e.EventType, EventTypeCreated, EventTypeUpdated, EventTypeDeleted)
	}
	if e.TypeName == "" {
		return fmt.Errorf("%w: event %s has no typeName", ErrInvalidEvent, e.EventType)
	}

	if err := checkRecord("newRecord", e.NewRecord); err != nil {
		return err
	}
	if err := checkRecord("oldRecord", e.OldRecord); err != nil {
		return err
	}
	if e.EventType != EventTypeDeleted && !isObject(e.NewRecord) {
		return fmt.Errorf("%w: %s event on type %q has no newRecord object", ErrInvalidEvent, e.Kind(), e.TypeName)
	}
	return nil
}

// checkRecord accepts an absent record, null or a valid JSON object.
func checkRecord(field string, raw json.RawMessage) error {
	if len(raw) == 0 || isNull(raw) {
		return nil
	}
	if !isObject(raw) || !json.Valid(raw) {
		return fmt.Errorf("%w: %s is not a JSON object or null", ErrInvalidEvent, field)
	}
	return nil
}

func isNull(raw []byte) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

func isObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) >= 2 && raw[0] == '{'
}
