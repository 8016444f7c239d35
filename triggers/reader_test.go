package triggers

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readAll drains r and returns the events and the line errors.
func readAll(t *testing.T, r *Reader) ([]RecordEvent, []*LineError) {
	t.Helper()
	var events []RecordEvent
	var lineErrs []*LineError
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return events, lineErrs
		}
		var le *LineError
		if errors.As(err, &le) {
			lineErrs = append(lineErrs, le)
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		events = append(events, ev)
	}
}

// assertDebeziumEvent checks a line that decoded without error into want,
// with an id derived from its source position, or into no event when want
// is nil.
func assertDebeziumEvent(t *testing.T, events []RecordEvent, lineErrs []*LineError, want *RecordEvent) {
	t.Helper()
	if len(lineErrs) != 0 {
		t.Fatalf("line errors = %v, want none", lineErrs)
	}
	if want == nil {
		if len(events) != 0 {
			t.Fatalf("got %d events, want none", len(events))
		}
		return
	}
	if len(events) != 1 {
		t.Fatalf("got %d events, want 1", len(events))
	}
	got := events[0]
	if !strings.HasPrefix(got.ID, debeziumIDPrefix) {
		t.Errorf("ID = %q, want prefix %q", got.ID, debeziumIDPrefix)
	}
	got.ID = ""
	assertEvent(t, got, *want)
}

const (
	dbzSource = `{"version":"1.2.1.Final","connector":"postgresql","name":"srv","db":"postgres","schema":"inventory","table":"products","txId":700,"lsn":1000,"xmin":null}`
	dbzAfter  = `{"id":7,"name":"saw","weight":1.50}`
	dbzBefore = `{"id":7,"name":"saw","weight":1.25}`
)

func TestReaderDebeziumOps(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		opts    DecodeOptions
		want    *RecordEvent
		wantErr error
	}{
		{
			name: "create",
			line: `{"before":null,"after":` + dbzAfter + `,"source":` + dbzSource + `,"op":"c","ts_ms":1}`,
			want: &RecordEvent{EventType: EventTypeCreated, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "products", NewRecord: json.RawMessage(dbzAfter)},
		},
		{
			name: "update",
			line: `{"before":` + dbzBefore + `,"after":` + dbzAfter + `,"source":` + dbzSource + `,"op":"u","ts_ms":1}`,
			want: &RecordEvent{EventType: EventTypeUpdated, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "products", NewRecord: json.RawMessage(dbzAfter), OldRecord: json.RawMessage(dbzBefore)},
		},
		{
			name: "update without before",
			line: `{"before":null,"after":` + dbzAfter + `,"source":` + dbzSource + `,"op":"u","ts_ms":1}`,
			want: &RecordEvent{EventType: EventTypeUpdated, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "products", NewRecord: json.RawMessage(dbzAfter), OldRecord: json.RawMessage("null")},
		},
		{
			name: "update with before missing",
			line: `{"after":` + dbzAfter + `,"source":` + dbzSource + `,"op":"u"}`,
			want: &RecordEvent{EventType: EventTypeUpdated, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "products", NewRecord: json.RawMessage(dbzAfter), OldRecord: json.RawMessage("null")},
		},
		{
			name: "delete",
			line: `{"before":` + dbzBefore + `,"after":null,"source":` + dbzSource + `,"op":"d","ts_ms":1}`,
			want: &RecordEvent{EventType: EventTypeDeleted, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "products", OldRecord: json.RawMessage(dbzBefore)},
		},
		{
			name: "delete without before",
			line: `{"before":null,"after":null,"source":` + dbzSource + `,"op":"d"}`,
			want: &RecordEvent{EventType: EventTypeDeleted, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "products", OldRecord: json.RawMessage("null")},
		},
		{
			name: "snapshot read",
			line: `{"before":null,"after":` + dbzAfter + `,"source":` + dbzSource + `,"op":"r"}`,
			want: &RecordEvent{EventType: EventTypeCreated, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "products", NewRecord: json.RawMessage(dbzAfter)},
		},
		{
			name: "snapshot read skipped",
			line: `{"before":null,"after":` + dbzAfter + `,"source":` + dbzSource + `,"op":"r"}`,
			opts: DecodeOptions{SkipSnapshotReads: true},
		},
		{
			name: "schema wrapper",
			line: `{"schema":{"type":"struct","name":"srv.inventory.products.Envelope"},"payload":{"before":null,"after":` + dbzAfter + `,"source":` + dbzSource + `,"op":"c"}}`,
			want: &RecordEvent{EventType: EventTypeCreated, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "products", NewRecord: json.RawMessage(dbzAfter)},
		},
		{
			name: "tombstone",
			line: `null`,
		},
		{
			name: "schema wrapper tombstone",
			line: `{"schema":null,"payload":null}`,
		},
		{
			name: "truncate skipped",
			line: `{"before":null,"after":null,"source":` + dbzSource + `,"op":"t"}`,
		},
		{
			name: "options and mapping",
			line: `{"before":null,"after":` + dbzAfter + `,"source":` + dbzSource + `,"op":"c"}`,
			opts: DecodeOptions{WorkspaceID: "ws-9", NamespaceName: "shop", TypeNames: map[string]string{"inventory.products": "Product", "products": "Other"}},
			want: &RecordEvent{EventType: EventTypeCreated, WorkspaceID: "ws-9", NamespaceName: "shop", TypeName: "Product", NewRecord: json.RawMessage(dbzAfter)},
		},
		{
			name: "mapping by bare table",
			line: `{"before":null,"after":` + dbzAfter + `,"source":` + dbzSource + `,"op":"c"}`,
			opts: DecodeOptions{TypeNames: map[string]string{"products": "Product"}},
			want: &RecordEvent{EventType: EventTypeCreated, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "Product", NewRecord: json.RawMessage(dbzAfter)},
		},
		{
			name:    "unknown op",
			line:    `{"before":null,"after":` + dbzAfter + `,"source":` + dbzSource + `,"op":"x"}`,
			wantErr: ErrUnsupportedOp,
		},
		{
			name:    "create without after",
			line:    `{"before":null,"after":null,"source":` + dbzSource + `,"op":"c"}`,
			wantErr: ErrInvalidEvent,
		},
		{
			name:    "no table",
			line:    `{"before":null,"after":` + dbzAfter + `,"source":{"name":"srv"},"op":"c"}`,
			wantErr: ErrInvalidEvent,
		},
		{
			name:    "no source",
			line:    `{"before":null,"after":` + dbzAfter + `,"op":"c"}`,
			wantErr: ErrInvalidEvent,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.line+"\n"), tt.opts)
			events, lineErrs := readAll(t, r)

			if tt.wantErr != nil {
				if len(lineErrs) != 1 || !errors.Is(lineErrs[0], tt.wantErr) {
					t.Fatalf("line errors = %v, want one wrapping %v", lineErrs, tt.wantErr)
				}
				if got := lineErrs[0].Line; got != 1 {
					t.Errorf("LineError.Line = %d, want 1", got)
				}
				return
			}
			assertDebeziumEvent(t, events, lineErrs, tt.want)
		})
	}
}

func assertEvent(t *testing.T, got, want RecordEvent) {
	t.Helper()
	if got.ID != want.ID || got.EventType != want.EventType || got.WorkspaceID != want.WorkspaceID ||
		got.NamespaceName != want.NamespaceName || got.TypeName != want.TypeName ||
		string(got.NewRecord) != string(want.NewRecord) || string(got.OldRecord) != string(want.OldRecord) {
		t.Errorf("event\n got: %+v\n      new=%s old=%s\nwant: %+v\n      new=%s old=%s",
			got, got.NewRecord, got.OldRecord, want, want.NewRecord, want.OldRecord)
	}
}

func TestReaderPlatformEvent(t *testing.T) {
	tests := []struct {
		name string
		line string
		want RecordEvent
	}{
		{
			name: "created with id",
			line: `{"id":"e1","eventType":"tailordb.type_record.created","workspaceId":"ws","namespaceName":"ns","typeName":"salesOrder","newRecord":{"id":"a","total":10.10}}`,
			want: RecordEvent{ID: "e1", EventType: EventTypeCreated, WorkspaceID: "ws", NamespaceName: "ns", TypeName: "salesOrder", NewRecord: json.RawMessage(`{"id":"a","total":10.10}`)},
		},
		{
			name: "updated",
			line: `{"eventType":"tailordb.type_record.updated","workspaceId":"ws","namespaceName":"ns","typeName":"T","newRecord":{"v":2},"oldRecord":{"v":1}}`,
			want: RecordEvent{EventType: EventTypeUpdated, WorkspaceID: "ws", NamespaceName: "ns", TypeName: "T", NewRecord: json.RawMessage(`{"v":2}`), OldRecord: json.RawMessage(`{"v":1}`)},
		},
		{
			name: "deleted without workspace",
			line: `{"eventType":"tailordb.type_record.deleted","typeName":"T","oldRecord":{"v":1}}`,
			want: RecordEvent{EventType: EventTypeDeleted, WorkspaceID: DefaultWorkspaceID, NamespaceName: DefaultNamespaceName, TypeName: "T", OldRecord: json.RawMessage(`{"v":1}`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, lineErrs := readAll(t, NewReader(strings.NewReader(tt.line), DecodeOptions{}))
			if len(lineErrs) != 0 || len(events) != 1 {
				t.Fatalf("got %d events and errors %v, want 1 event", len(events), lineErrs)
			}
			assertEvent(t, events[0], tt.want)
		})
	}
}

func TestReaderMalformedLinesContinue(t *testing.T) {
	input := strings.Join([]string{
		`{"eventType":"tailordb.type_record.created","typeName":"T","newRecord":{"n":1}}`,
		``,
		`{"eventType":"tailordb.type_record.created","typeName":"T","newRecord":{"n":`,
		`   `,
		`{"eventType":"tailordb.type_record.exploded","typeName":"T"}`,
		`[1,2]`,
		`{"hello":"world"}`,
		"{\"eventType\":\"tailordb.type_record.created\",\"typeName\":\"T\",\"newRecord\":{\"n\":2}}\r",
		`{"eventType":"tailordb.type_record.created","typeName":"T","newRecord":{"n":3}}`,
	}, "\n")
	r := NewReader(strings.NewReader(input), DecodeOptions{})
	events, lineErrs := readAll(t, r)

	if got, want := len(events), 3; got != want {
		t.Errorf("events = %d, want %d", got, want)
	}
	var lines []int
	for _, le := range lineErrs {
		lines = append(lines, le.Line)
		if !errors.Is(le, ErrInvalidEvent) {
			t.Errorf("line %d error %v does not wrap ErrInvalidEvent", le.Line, le)
		}
	}
	if got, want := lines, []int{3, 5, 6, 7}; !equalInts(got, want) {
		t.Errorf("malformed lines = %v, want %v", got, want)
	}
	if !strings.HasPrefix(lineErrs[0].Error(), "line 3: ") {
		t.Errorf("error text %q does not start with the line number", lineErrs[0].Error())
	}

	stats := r.Stats()
	want := ReaderStats{Lines: 9, Events: 3, Blank: 2, Malformed: 4}
	if stats != want {
		t.Errorf("Stats() = %+v, want %+v", stats, want)
	}
}

// TestReaderWrongFieldType reads events whose string fields contain other
// JSON types. The error names the field, its JSON type and the type to
// use, and no Go struct.
func TestReaderWrongFieldType(t *testing.T) {
	tests := []struct {
		line string
		want string
	}{
		{`{"id":123,"eventType":"tailordb.type_record.created","typeName":"T","newRecord":{}}`, `field "id" is a JSON number; make it a JSON string`},
		{`{"eventType":"tailordb.type_record.created","typeName":42,"newRecord":{}}`, `field "typeName" is a JSON number; make it a JSON string`},
		{`{"eventType":true,"typeName":"T","newRecord":{}}`, `field "eventType" is a JSON boolean; make it a JSON string`},
		{`{"op":["c"],"after":{}}`, `field "op" is a JSON array; make it a JSON string`},
		{`{"schema":{},"payload":{"op":{"x":1},"after":{}}}`, `payload: field "op" is a JSON object; make it a JSON string`},
	}
	for _, tt := range tests {
		_, lineErrs := readAll(t, NewReader(strings.NewReader(tt.line), DecodeOptions{}))
		if len(lineErrs) != 1 {
			t.Errorf("%s: %d line errors, want 1", tt.line, len(lineErrs))
			continue
		}
		msg := lineErrs[0].Error()
		if !strings.Contains(msg, tt.want) {
			t.Errorf("%s: error %q, want it to contain %q", tt.line, msg, tt.want)
		}
		if strings.Contains(msg, "Go struct") {
			t.Errorf("%s: error %q names a Go struct", tt.line, msg)
		}
		if !errors.Is(lineErrs[0], ErrInvalidEvent) {
			t.Errorf("%s: error %v does not wrap ErrInvalidEvent", tt.line, lineErrs[0])
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReaderLongLines(t *testing.T) {
	big := strings.Repeat("x", 5<<20)
	line := `{"eventType":"tailordb.type_record.created","typeName":"T","newRecord":{"blob":"` + big + `"}}`

	t.Run("several megabytes", func(t *testing.T) {
		events, lineErrs := readAll(t, NewReader(strings.NewReader(line+"\n"+line), DecodeOptions{}))
		if len(lineErrs) != 0 || len(events) != 2 {
			t.Fatalf("got %d events and errors %v, want 2 events", len(events), lineErrs)
		}
		if got, want := len(events[1].NewRecord), len(big)+11; got != want {
			t.Errorf("record length = %d, want %d", got, want)
		}
	})

	t.Run("over the limit", func(t *testing.T) {
		small := `{"eventType":"tailordb.type_record.created","typeName":"T","newRecord":{}}`
		input := small + "\n" + line + "\n" + small + "\n"
		events, lineErrs := readAll(t, NewReader(strings.NewReader(input), DecodeOptions{MaxLineBytes: 1 << 20}))
		if len(events) != 2 {
			t.Errorf("events = %d, want 2", len(events))
		}
		if len(lineErrs) != 1 || lineErrs[0].Line != 2 || !errors.Is(lineErrs[0], ErrLineTooLong) {
			t.Errorf("line errors = %v, want ErrLineTooLong on line 2", lineErrs)
		}
	})
}

func TestReaderReadFailure(t *testing.T) {
	failure := errors.New("disk gone")
	r := NewReader(io.MultiReader(strings.NewReader(`{"eventType":"tailordb.type_record.created","typeName":"T","newRecord":{}}`+"\n"), errReader{failure}), DecodeOptions{})
	if _, err := r.Next(); err != nil {
		t.Fatalf("first Next: %v", err)
	}
	for i := range 2 {
		if _, err := r.Next(); !errors.Is(err, failure) {
			t.Fatalf("Next after failure, call %d: got %v, want %v", i, err, failure)
		}
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestReaderDebeziumSample(t *testing.T) {
	path := filepath.Join("..", "testdata", "events", "debezium", "postgres-products.jsonl")
	open := func(opts DecodeOptions) *Reader {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return NewReader(f, opts)
	}

	t.Run("all ops", func(t *testing.T) {
		r := open(DecodeOptions{TypeNames: map[string]string{"inventory.products": "Product"}})
		events, lineErrs := readAll(t, r)
		if len(lineErrs) != 0 {
			t.Fatalf("line errors: %v", lineErrs)
		}
		counts := map[string]int{}
		ids := map[string]bool{}
		for _, ev := range events {
			counts[ev.Kind()]++
			ids[ev.ID] = true
			if ev.TypeName != "Product" {
				t.Errorf("TypeName = %q, want Product", ev.TypeName)
			}
		}
		// Nine snapshot reads and two creates are created events.
		want := map[string]int{"created": 11, "updated": 4, "deleted": 1}
		for kind, n := range want {
			if counts[kind] != n {
				t.Errorf("%s events = %d, want %d", kind, counts[kind], n)
			}
		}
		if len(ids) != 16 {
			t.Errorf("distinct ids = %d, want 16", len(ids))
		}
	})

	t.Run("snapshot skipped", func(t *testing.T) {
		r := open(DecodeOptions{SkipSnapshotReads: true})
		events, _ := readAll(t, r)
		if got, want := len(events), 7; got != want {
			t.Errorf("events = %d, want %d", got, want)
		}
		if got, want := r.Stats().SnapshotsSkipped, 9; got != want {
			t.Errorf("SnapshotsSkipped = %d, want %d", got, want)
		}
	})

	t.Run("replay gives same ids", func(t *testing.T) {
		first, _ := readAll(t, open(DecodeOptions{}))
		second, _ := readAll(t, open(DecodeOptions{}))
		for i := range first {
			if first[i].ID != second[i].ID {
				t.Errorf("event %d id %q on replay, want %q", i, second[i].ID, first[i].ID)
			}
		}
	})
}

// eventID decodes line and returns its event id.
func eventID(t *testing.T, line string) string {
	t.Helper()
	ev, _, err := decodeObject([]byte(line), &DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ev.ID
}

// idRuleCase is a variant of a base line, and whether its event id must
// equal the base line's.
type idRuleCase struct {
	name string
	line string
	same bool
}

// checkIDRule compares the event id of each case's line with base's.
func checkIDRule(t *testing.T, base string, tests []idRuleCase) {
	t.Helper()
	want := eventID(t, base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := eventID(t, tt.line)
			if (got == want) != tt.same {
				t.Errorf("id %q vs base %q: same = %v, want %v", got, want, got == want, tt.same)
			}
		})
	}
}

func TestDebeziumIDRule(t *testing.T) {
	base := `{"before":null,"after":` + dbzAfter + `,"source":` + dbzSource + `,"op":"c","ts_ms":1}`
	checkIDRule(t, base, []idRuleCase{
		{"redelivery with new ts_ms", strings.Replace(base, `"ts_ms":1`, `"ts_ms":99`, 1), true},
		{"schema wrapper", `{"schema":{},"payload":` + base + `}`, true},
		{"other lsn", strings.Replace(base, `"lsn":1000`, `"lsn":1001`, 1), false},
		{"other txId", strings.Replace(base, `"txId":700`, `"txId":701`, 1), false},
		{"other table", strings.Replace(base, `"table":"products"`, `"table":"orders"`, 1), false},
		{"other connector name", strings.Replace(base, `"name":"srv"`, `"name":"srv2"`, 1), false},
		{"other row", strings.Replace(base, `"id":7`, `"id":8`, 1), false},
		{"other op", strings.Replace(base, `"op":"c"`, `"op":"r"`, 1), false},
	})
}

func TestDecodeBody(t *testing.T) {
	created := `{"eventType":"tailordb.type_record.created","typeName":"T","newRecord":{"n":1}}`
	tests := []struct {
		name       string
		body       string
		wantEvents int
		wantIdx    []int
		wantErr    bool
	}{
		{name: "single object", body: created, wantEvents: 1},
		{name: "array", body: "[" + created + "," + created + "]", wantEvents: 2},
		{name: "empty array", body: "[]"},
		{name: "debezium item", body: `[{"before":null,"after":` + dbzAfter + `,"source":` + dbzSource + `,"op":"c"}]`, wantEvents: 1},
		{name: "bad items named", body: "[" + created + `,{"eventType":"nope"},null,` + created + `,{"x":1}]`, wantEvents: 2, wantIdx: []int{1, 2, 4}, wantErr: true},
		{name: "bad single object", body: `{"eventType":"nope"}`, wantIdx: []int{0}, wantErr: true},
		{name: "not json", body: `hello`, wantErr: true},
		{name: "truncated array", body: "[" + created, wantErr: true},
		{name: "empty", body: ``, wantErr: true},
		{name: "one object per line", body: created + "\n" + created + "\r\n\n" + created + "\n", wantEvents: 3},
		{name: "bad line named", body: created + "\n" + `{"eventType":"nope"}` + "\n" + created, wantEvents: 2, wantIdx: []int{1}, wantErr: true},
		{name: "line that is not json", body: created + "\n" + `{"eventType":` + "\n" + created, wantEvents: 2, wantIdx: []int{1}, wantErr: true},
		{name: "object over several lines", body: "{\n  \"eventType\": \"tailordb.type_record.created\",\n  \"typeName\": \"T\",\n  \"newRecord\": {\"n\": 1}\n}\n", wantEvents: 1},
		{name: "array after an object", body: created + "\n[" + created + "]", wantEvents: 1, wantIdx: []int{1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, err := DecodeBody([]byte(tt.body), DecodeOptions{})
			if got := len(events); got != tt.wantEvents {
				t.Errorf("events = %d, want %d", got, tt.wantEvents)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("error %v does not wrap ErrInvalidEvent", err)
			}
			var idx []int
			for _, e := range flatten(err) {
				var ie *ItemError
				if errors.As(e, &ie) {
					idx = append(idx, ie.Index)
				}
			}
			if !equalInts(idx, tt.wantIdx) {
				t.Errorf("item error indexes = %v, want %v", idx, tt.wantIdx)
			}
		})
	}
}

// TestDecodeBodyEmpty sends bodies with nothing but white space, as curl
// sends for a --data-binary file that it could not read. The error
// reports that the body is empty.
func TestDecodeBodyEmpty(t *testing.T) {
	for _, body := range []string{"", " \r\n\t"} {
		events, err := DecodeBody([]byte(body), DecodeOptions{})
		if len(events) != 0 || !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("DecodeBody(%q) = %d events, error %v; want no events and ErrInvalidEvent", body, len(events), err)
		}
		if err != nil && !strings.Contains(err.Error(), "the body is empty") {
			t.Errorf("DecodeBody(%q) error %q, want it to say that the body is empty", body, err)
		}
	}
}

// TestDecodeBodySeveralValues sends bodies that contain several JSON
// values one after another, as curl --data makes of a JSONL file. The
// error names that cause and how to send the events, rather than a syntax
// error in event 0.
func TestDecodeBodySeveralValues(t *testing.T) {
	created := `{"eventType":"tailordb.type_record.created","typeName":"T","newRecord":{"n":1}}`
	pretty := "{\n  \"eventType\": \"tailordb.type_record.created\",\n  \"typeName\": \"T\",\n  \"newRecord\": {\"n\": 1}\n}"
	joined := []string{"several JSON values on one line", "curl --data-binary", "one event per line"}
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"objects joined", created + created + created, joined},
		{"objects joined by spaces", created + " " + created, joined},
		{"arrays joined", "[" + created + "][" + created + "]", joined},
		{"first line joined", created + created + "\n" + created, joined},
		{"pretty-printed objects", pretty + "\n" + pretty + "\n", []string{"several JSON values that span lines", "one event per line", "JSON array"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, err := DecodeBody([]byte(tt.body), DecodeOptions{})
			if len(events) != 0 || err == nil {
				t.Fatalf("DecodeBody = %d events, error %v; want an error and no events", len(events), err)
			}
			if !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("error %v does not wrap ErrInvalidEvent", err)
			}
			var ie *ItemError
			if errors.As(err, &ie) {
				t.Errorf("error %v names event %d; the body, not one event, is at fault", err, ie.Index)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q, want it to contain %q", err, want)
				}
			}
		})
	}

	// A later line of JSONL that holds two events is named as that line.
	events, err := DecodeBody([]byte(created+"\n"+created+created+"\n"), DecodeOptions{})
	var ie *ItemError
	if len(events) != 1 || !errors.As(err, &ie) || ie.Index != 1 || !strings.Contains(err.Error(), "several JSON values on one line: put each event on a line of its own") {
		t.Errorf("JSONL with a joined second line: %d events, error %v; want 1 event and event 1 named as several values", len(events), err)
	}
}

func flatten(err error) []error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return joined.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// FuzzDecodeLine feeds arbitrary lines to the reader: it must not panic,
// and every event it returns must pass Validate and produce valid
// arguments JSON.
func FuzzDecodeLine(f *testing.F) {
	seeds := []string{
		`{"eventType":"tailordb.type_record.created","typeName":"T","newRecord":{"n":1}}`,
		`{"before":null,"after":` + dbzAfter + `,"source":` + dbzSource + `,"op":"c"}`,
		`{"before":` + dbzBefore + `,"after":null,"source":` + dbzSource + `,"op":"d"}`,
		`{"schema":{},"payload":{"before":null,"after":{"a":1},"source":{"table":"t"},"op":"u"}}`,
		`{"after":` + mongoAfter + `,"source":` + mongoSource + `,"op":"c"}`,
		`{"before":"{\"d\": {\"$date\": {\"$numberLong\": \"-1\"}}}","source":{"collection":"c"},"op":"d"}`,
		`null`, `{"payload":null}`, `{"op":null}`, `{"op":"c","source":null}`, `[]`, `{`, "\xef\xbb\xbf{}",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		events, _ := readAll(t, NewReader(strings.NewReader(line), DecodeOptions{}))
		for _, ev := range events {
			if err := ev.Validate(); err != nil {
				t.Fatalf("reader returned an invalid event: %v", err)
			}
			if args := AppendRecordArgs(nil, &ev, nil); !json.Valid(args) {
				t.Fatalf("arguments are not valid JSON: %s", args)
			}
		}
		_, _ = DecodeBody([]byte(line), DecodeOptions{})
	})
}
