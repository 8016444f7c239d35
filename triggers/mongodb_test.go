package triggers

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// MongoDB change events as the Debezium 2.x connector writes them: the
// documents are JSON strings containing Extended JSON.
const (
	mongoSource = `{"version":"2.7.3.Final","connector":"mongodb","name":"shop","ts_ms":1717243500000,"snapshot":"false","db":"shop","sequence":null,"collection":"orders","ord":3,"lsid":null,"txnNumber":null}`
	mongoAfter  = `"{\"_id\": {\"$oid\": \"65a1f0c2e4b0a1b2c3d4e5f3\"}, \"status\": \"shipped\", \"qty\": {\"$numberLong\": \"4\"}, \"total\": {\"$numberDecimal\": \"29.00\"}}"`
	mongoBefore = `"{\"_id\": {\"$oid\": \"65a1f0c2e4b0a1b2c3d4e5f3\"}, \"status\": \"placed\", \"qty\": {\"$numberLong\": \"4\"}, \"total\": {\"$numberDecimal\": \"29.00\"}}"`

	mongoAfterRecord  = `{"_id":"65a1f0c2e4b0a1b2c3d4e5f3","status":"shipped","qty":4,"total":29.00}`
	mongoBeforeRecord = `{"_id":"65a1f0c2e4b0a1b2c3d4e5f3","status":"placed","qty":4,"total":29.00}`
	mongoUpdate       = `{"removedFields":null,"updatedFields":"{\"status\": \"shipped\"}","truncatedArrays":null}`
)

func TestReaderMongoDBOps(t *testing.T) {
	created := func(record string) *RecordEvent {
		return &RecordEvent{EventType: EventTypeCreated, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "orders", NewRecord: json.RawMessage(record)}
	}
	updated := func(newRecord, oldRecord string) *RecordEvent {
		return &RecordEvent{EventType: EventTypeUpdated, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "orders", NewRecord: json.RawMessage(newRecord), OldRecord: json.RawMessage(oldRecord)}
	}
	deleted := func(oldRecord string) *RecordEvent {
		return &RecordEvent{EventType: EventTypeDeleted, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "orders", OldRecord: json.RawMessage(oldRecord)}
	}
	tests := []struct {
		name    string
		line    string
		opts    DecodeOptions
		want    *RecordEvent
		wantErr []string // substrings of the error, which wraps ErrInvalidEvent
	}{
		{
			name: "create",
			line: `{"after":` + mongoAfter + `,"source":` + mongoSource + `,"op":"c","ts_ms":1}`,
			want: created(mongoAfterRecord),
		},
		{
			name: "snapshot read",
			line: `{"after":` + mongoAfter + `,"source":` + strings.Replace(mongoSource, `"snapshot":"false"`, `"snapshot":"true"`, 1) + `,"op":"r"}`,
			want: created(mongoAfterRecord),
		},
		{
			name: "snapshot read skipped",
			line: `{"after":` + mongoAfter + `,"source":` + mongoSource + `,"op":"r"}`,
			opts: DecodeOptions{SkipSnapshotReads: true},
		},
		{
			name: "create in the schema wrapper",
			line: `{"schema":{"type":"struct","name":"shop.shop.orders.Envelope"},"payload":{"after":` + mongoAfter + `,"source":` + mongoSource + `,"op":"c"}}`,
			want: created(mongoAfterRecord),
		},
		{
			name: "create with the document as an object",
			line: `{"after":{"_id":{"$oid":"65a1f0c2e4b0a1b2c3d4e5f3"},"n":{"$numberLong":"7"}},"source":` + mongoSource + `,"op":"c"}`,
			want: created(`{"_id":"65a1f0c2e4b0a1b2c3d4e5f3","n":7}`),
		},
		{
			name: "update with full document and pre-image",
			line: `{"before":` + mongoBefore + `,"after":` + mongoAfter + `,"updateDescription":` + mongoUpdate + `,"source":` + mongoSource + `,"op":"u"}`,
			want: updated(mongoAfterRecord, mongoBeforeRecord),
		},
		{
			name: "update with full document only",
			line: `{"after":` + mongoAfter + `,"updateDescription":` + mongoUpdate + `,"source":` + mongoSource + `,"op":"u"}`,
			want: updated(mongoAfterRecord, "null"),
		},
		{
			name: "replace",
			line: `{"after":` + mongoAfter + `,"source":` + mongoSource + `,"op":"u"}`,
			want: updated(mongoAfterRecord, "null"),
		},
		{
			name: "update with only updateDescription",
			line: `{"updateDescription":` + mongoUpdate + `,"source":` + mongoSource + `,"op":"u"}`,
			wantErr: []string{`debezium "u" event on collection "shop.orders" at ts_ms 1717243500000, ord 3`,
				"no full document in after, only the changed fields in updateDescription", "capture.mode to change_streams_update_full"},
		},
		{
			name:    "update with pre-image and only updateDescription",
			line:    `{"before":` + mongoBefore + `,"after":null,"updateDescription":` + mongoUpdate + `,"source":` + mongoSource + `,"op":"u"}`,
			wantErr: []string{"no full document in after", "change_streams_update_full_with_pre_image"},
		},
		{
			name:    "oplog-mode update",
			line:    `{"patch":"{\"$v\": 1, \"$set\": {\"status\": \"shipped\"}}","filter":"{\"_id\": {\"$oid\": \"65a1f0c2e4b0a1b2c3d4e5f3\"}}","source":` + mongoSource + `,"op":"u"}`,
			wantErr: []string{"no full document in after, only the change in patch", "capture.mode"},
		},
		{
			name: "delete with pre-image",
			line: `{"before":` + mongoBefore + `,"source":` + mongoSource + `,"op":"d"}`,
			want: deleted(mongoBeforeRecord),
		},
		{
			name: "oplog-mode delete gives the filter",
			line: `{"filter":"{\"_id\": {\"$oid\": \"65a1f0c2e4b0a1b2c3d4e5f3\"}}","source":` + mongoSource + `,"op":"d"}`,
			want: deleted(`{"_id":"65a1f0c2e4b0a1b2c3d4e5f3"}`),
		},
		{
			name: "delete without pre-image",
			line: `{"source":` + mongoSource + `,"op":"d"}`,
			want: deleted("null"),
		},
		{
			name: "type name by database and collection",
			line: `{"after":` + mongoAfter + `,"source":` + mongoSource + `,"op":"c"}`,
			opts: DecodeOptions{TypeNames: map[string]string{"shop.orders": "Order", "orders": "Other"}},
			want: &RecordEvent{EventType: EventTypeCreated, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "Order", NewRecord: json.RawMessage(mongoAfterRecord)},
		},
		{
			name: "type name by bare collection",
			line: `{"after":` + mongoAfter + `,"source":` + mongoSource + `,"op":"c"}`,
			opts: DecodeOptions{TypeNames: map[string]string{"orders": "Order"}},
			want: &RecordEvent{EventType: EventTypeCreated, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "Order", NewRecord: json.RawMessage(mongoAfterRecord)},
		},
		{
			name: "malformed after",
			line: `{"after":"{\"_id\": {\"$oid\": \"65a1f0c2e4b0a1b2c3d4e5f3\"}, \"status\": ","source":` + mongoSource + `,"op":"c"}`,
			wantErr: []string{`debezium "c" event on collection "shop.orders" at ts_ms 1717243500000, ord 3`,
				"after: invalid JSON at byte", "check that the line is complete"},
		},
		{
			name:    "malformed before",
			line:    `{"before":"{\"_id\": {\"$oid\": \"xyz\"}}","source":` + mongoSource + `,"op":"d"}`,
			wantErr: []string{`debezium "d" event on collection "shop.orders"`, `before: field "_id": $oid must be 24 hex digits, got "xyz"`},
		},
		{
			name:    "after neither string nor object",
			line:    `{"after":42,"source":` + mongoSource + `,"op":"c"}`,
			wantErr: []string{"after must be a JSON string containing the document, or an object"},
		},
		{
			name:    "after holding an array",
			line:    `{"after":"[1]","source":` + mongoSource + `,"op":"c"}`,
			wantErr: []string{"after: not a JSON object"},
		},
		{
			name:    "create without after",
			line:    `{"source":` + mongoSource + `,"op":"c"}`,
			wantErr: []string{`debezium "c" event on collection "shop.orders"`, "has no newRecord object"},
		},
		{
			name:    "no collection",
			line:    `{"after":` + mongoAfter + `,"source":{"connector":"mongodb","name":"shop","db":"shop"},"op":"c"}`,
			wantErr: []string{"has no source.collection"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, lineErrs := readAll(t, NewReader(strings.NewReader(tt.line+"\n"), tt.opts))
			if tt.wantErr != nil {
				if len(lineErrs) != 1 || !errors.Is(lineErrs[0], ErrInvalidEvent) {
					t.Fatalf("line errors = %v, want one wrapping ErrInvalidEvent", lineErrs)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(lineErrs[0].Error(), want) {
						t.Errorf("error %q does not contain %q", lineErrs[0], want)
					}
				}
				return
			}
			assertDebeziumEvent(t, events, lineErrs, tt.want)
		})
	}
}

func TestReaderMongoDBSample(t *testing.T) {
	path := filepath.Join("..", "testdata", "events", "debezium", "mongodb-orders.jsonl")
	read := func(opts DecodeOptions) ([]RecordEvent, *Reader) {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		r := NewReader(f, opts)
		events, lineErrs := readAll(t, r)
		if len(lineErrs) != 0 {
			t.Fatalf("line errors: %v", lineErrs)
		}
		return events, r
	}

	events, r := read(DecodeOptions{TypeNames: map[string]string{"shop.orders": "order"}})
	var kinds []string
	ids := map[string]bool{}
	for _, ev := range events {
		kinds = append(kinds, ev.Kind())
		ids[ev.ID] = true
		if ev.TypeName != "order" {
			t.Errorf("TypeName = %q, want order", ev.TypeName)
		}
	}
	wantKinds := "created created created updated updated updated deleted deleted created created"
	if got := strings.Join(kinds, " "); got != wantKinds {
		t.Errorf("kinds = %s\nwant    %s", got, wantKinds)
	}
	if len(ids) != len(events) {
		t.Errorf("distinct ids = %d, want %d", len(ids), len(events))
	}
	if got, want := r.Stats(), (ReaderStats{Lines: 12, Events: 10, Tombstones: 2}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}

	// The create of line 3 is in the schema wrapper and contains an int64
	// beyond a double and a UUID.
	wantCreate := `{"_id":"65a1f0c2e4b0a1b2c3d4e5f3","customer":"Edward Walker","status":"placed","items":[{"sku":"hammer-3","qty":4,"price":7.25}],` +
		`"total":29.00,"ledgerId":"9007199254740993","token":"12345678-9012-3456-7890-123456789012","placedAt":"2024-06-01T12:00:00.000Z"}`
	if got := string(events[2].NewRecord); got != wantCreate {
		t.Errorf("create record\n got %s\nwant %s", got, wantCreate)
	}
	if got := string(events[3].OldRecord); got != wantCreate {
		t.Errorf("update oldRecord\n got %s\nwant %s", got, wantCreate)
	}
	if got, want := string(events[4].OldRecord), "null"; got != want {
		t.Errorf("update without pre-image: oldRecord = %s, want %s", got, want)
	}
	if got, want := string(events[7].OldRecord), "null"; got != want {
		t.Errorf("delete without pre-image: oldRecord = %s, want %s", got, want)
	}

	t.Run("snapshot skipped", func(t *testing.T) {
		events, r := read(DecodeOptions{SkipSnapshotReads: true})
		if got, want := len(events), 8; got != want {
			t.Errorf("events = %d, want %d", got, want)
		}
		if got, want := r.Stats().SnapshotsSkipped, 2; got != want {
			t.Errorf("SnapshotsSkipped = %d, want %d", got, want)
		}
	})

	t.Run("replay gives same ids", func(t *testing.T) {
		again, _ := read(DecodeOptions{})
		for i := range events {
			if events[i].ID != again[i].ID {
				t.Errorf("event %d id %q on replay, want %q", i, again[i].ID, events[i].ID)
			}
		}
	})
}

func TestMongoDBIDRule(t *testing.T) {
	base := `{"after":` + mongoAfter + `,"updateDescription":` + mongoUpdate + `,"source":` + mongoSource + `,"op":"u","ts_ms":1,"transaction":null}`
	checkIDRule(t, base, []idRuleCase{
		{"redelivery with new ts_ms", strings.Replace(base, `"ts_ms":1,`, `"ts_ms":99,`, 1), true},
		{"schema wrapper", `{"schema":{},"payload":` + base + `}`, true},
		{"other connector version", strings.Replace(base, `"version":"2.7.3.Final"`, `"version":"2.7.4.Final"`, 1), true},
		{"other second of the oplog", strings.Replace(base, `"ts_ms":1717243500000`, `"ts_ms":1717243501000`, 1), false},
		{"other ord", strings.Replace(base, `"ord":3`, `"ord":4`, 1), false},
		{"other txnNumber", strings.Replace(base, `"txnNumber":null`, `"txnNumber":2`, 1), false},
		{"other collection", strings.Replace(base, `"collection":"orders"`, `"collection":"carts"`, 1), false},
		{"other document", strings.Replace(base, `\"shipped\", \"qty`, `\"delivered\", \"qty`, 1), false},
		{"other change", strings.Replace(base, `{\"status\": \"shipped\"}`, `{\"status\": \"shipped\", \"qty\": 4}`, 1), false},
		{"other place in a transaction", strings.Replace(base, `"transaction":null`, `"transaction":{"id":"t1","total_order":2,"data_collection_order":2}`, 1), false},
	})

	// Two deletes without pre-image in one transaction share a position,
	// and the transaction block distinguishes them.
	del := func(order int) string {
		return `{"source":` + strings.Replace(mongoSource, `"txnNumber":null`, `"txnNumber":5`, 1) +
			`,"op":"d","transaction":{"id":"t5","total_order":` + string(rune('0'+order)) + `,"data_collection_order":1}}`
	}
	if eventID(t, del(1)) == eventID(t, del(2)) {
		t.Error("two deletes of one transaction got the same id")
	}
}
