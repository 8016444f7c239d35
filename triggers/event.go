package triggers

import (
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

// Validate reports a missing or unknown field, naming it.
func (e *RecordEvent) Validate() error {
	switch e.EventType {
	case EventTypeCreated, EventTypeUpdated, EventTypeDeleted:
	case "":
		return fmt.Errorf("event has no eventType: use %s, %s or %s", EventTypeCreated, EventTypeUpdated, EventTypeDeleted)
	default:
		return fmt.Errorf("unknown eventType %q: use %s, %s or %s", e.EventType, EventTypeCreated, EventTypeUpdated, EventTypeDeleted)
	}
	if e.TypeName == "" {
		return fmt.Errorf("event %s has no typeName", e.EventType)
	}
	return nil
}
