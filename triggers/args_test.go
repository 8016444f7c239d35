package triggers

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAppendRecordArgs(t *testing.T) {
	tests := []struct {
		name  string
		event RecordEvent
		env   json.RawMessage
		want  string
	}{
		{
			name: "created",
			event: RecordEvent{
				EventType: EventTypeCreated, WorkspaceID: "ws-1", NamespaceName: "shop", TypeName: "salesOrder",
				NewRecord: json.RawMessage(`{"id":1,"total":12.50}`),
			},
			env:  json.RawMessage(`{"stage":"dev"}`),
			want: `{"workspaceId":"ws-1","appNamespace":"shop","typeName":"salesOrder","newRecord":{"id":1,"total":12.50},"oldRecord":null,"env":{"stage":"dev"},"event":"created","rawEvent":"tailordb.type_record.created"}`,
		},
		{
			name: "updated keeps record bytes",
			event: RecordEvent{
				EventType: EventTypeUpdated, WorkspaceID: "ws", NamespaceName: "ns", TypeName: "T",
				NewRecord: json.RawMessage(`{ "n" : 1.0e3, "s":"<a&b>" }`),
				OldRecord: json.RawMessage(`{"n":1}`),
			},
			want: `{"workspaceId":"ws","appNamespace":"ns","typeName":"T","newRecord":{ "n" : 1.0e3, "s":"<a&b>" },"oldRecord":{"n":1},"env":{},"event":"updated","rawEvent":"tailordb.type_record.updated"}`,
		},
		{
			name: "deleted",
			event: RecordEvent{
				EventType: EventTypeDeleted, WorkspaceID: "ws", NamespaceName: "ns", TypeName: "T",
				OldRecord: json.RawMessage(`{"id":"x"}`),
			},
			want: `{"workspaceId":"ws","appNamespace":"ns","typeName":"T","newRecord":null,"oldRecord":{"id":"x"},"env":{},"event":"deleted","rawEvent":"tailordb.type_record.deleted"}`,
		},
		{
			name: "escaped strings",
			event: RecordEvent{
				EventType: EventTypeCreated, WorkspaceID: "a\"b\\c\n\t\x01", NamespaceName: "\u2028ok\xff", TypeName: "T",
				NewRecord: json.RawMessage(`{}`),
			},
			want: `{"workspaceId":"a\"b\\c\n\t\u0001","appNamespace":"\u2028ok\ufffd","typeName":"T","newRecord":{},"oldRecord":null,"env":{},"event":"created","rawEvent":"tailordb.type_record.created"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendRecordArgs(nil, &tt.event, tt.env))
			if got != tt.want {
				t.Errorf("AppendRecordArgs\n got: %s\nwant: %s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("AppendRecordArgs output is not valid JSON: %s", got)
			}
		})
	}
}

func TestAppendRecordArgsAppends(t *testing.T) {
	ev := RecordEvent{EventType: EventTypeCreated, TypeName: "T", NewRecord: json.RawMessage(`{}`)}
	got := string(AppendRecordArgs([]byte("prefix:"), &ev, nil))
	want := `prefix:{"workspaceId":"","appNamespace":"","typeName":"T","newRecord":{},"oldRecord":null,"env":{},"event":"created","rawEvent":"tailordb.type_record.created"}`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestAppendScheduleArgs(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		at   time.Time
		env  json.RawMessage
		want string
	}{
		{"utc default env", time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), nil, `{"env":{},"scheduledTime":"2026-03-01T09:00:00Z"}`},
		{"zone offset", time.Date(2026, 7, 1, 9, 30, 0, 0, berlin), json.RawMessage(`{"a":1}`), `{"env":{"a":1},"scheduledTime":"2026-07-01T09:30:00+02:00"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendScheduleArgs(nil, tt.at, tt.env))
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// FuzzAppendString checks the string encoder against encoding/json: the
// output must decode to what json.Marshal's output decodes to.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\/", "\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe", "日本語", "\xed\xa0\x80", "<>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		encoded := appendString(nil, s)
		var got string
		if err := json.Unmarshal(encoded, &got); err != nil {
			t.Fatalf("appendString(%q) = %s, which does not decode: %v", s, encoded, err)
		}
		reference, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var want string
		if err := json.Unmarshal(reference, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("appendString(%q) decodes to %q, want %q", s, got, want)
		}
	})
}

// FuzzAppendRecordArgs decodes the arguments of random events and compares
// each field with the input.
func FuzzAppendRecordArgs(f *testing.F) {
	f.Add("ws", "ns", "T", `{"a":1}`, `null`, `{"k":"v"}`)
	f.Add("w\"s", "n\x00s", "\xff", `{"a":"\u00e9"}`, `{"b":[1,2.50]}`, `{}`)
	f.Fuzz(func(t *testing.T, workspace, namespace, typeName, newRecord, oldRecord, env string) {
		for _, raw := range []string{newRecord, oldRecord, env} {
			if !json.Valid([]byte(raw)) {
				t.Skip()
			}
		}
		ev := RecordEvent{
			EventType: EventTypeUpdated, WorkspaceID: workspace, NamespaceName: namespace, TypeName: typeName,
			NewRecord: json.RawMessage(newRecord), OldRecord: json.RawMessage(oldRecord),
		}
		out := AppendRecordArgs(nil, &ev, json.RawMessage(env))

		var got struct {
			WorkspaceID  string          `json:"workspaceId"`
			AppNamespace string          `json:"appNamespace"`
			TypeName     string          `json:"typeName"`
			NewRecord    json.RawMessage `json:"newRecord"`
			OldRecord    json.RawMessage `json:"oldRecord"`
			Env          json.RawMessage `json:"env"`
			Event        string          `json:"event"`
			RawEvent     string          `json:"rawEvent"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("output does not decode: %v: %s", err, out)
		}
		// Decoding into json.RawMessage drops the whitespace around a value,
		// so byte-for-byte copying is checked on the output itself.
		verbatim := `,"newRecord":` + newRecord + `,"oldRecord":` + oldRecord + `,"env":` + env + `,"event"`
		if !strings.Contains(string(out), verbatim) {
			t.Errorf("output %s does not contain the records verbatim: %s", out, verbatim)
		}
		trim := func(s string) string { return strings.Trim(s, " \t\r\n") }
		want := []string{roundTrip(t, workspace), roundTrip(t, namespace), roundTrip(t, typeName), trim(newRecord), trim(oldRecord), trim(env), "updated", EventTypeUpdated}
		have := []string{got.WorkspaceID, got.AppNamespace, got.TypeName, string(got.NewRecord), string(got.OldRecord), string(got.Env), got.Event, got.RawEvent}
		if !reflect.DeepEqual(have, want) {
			t.Errorf("decoded fields\n got: %q\nwant: %q", have, want)
		}
	})
}

// roundTrip returns s as encoding/json returns it after a round trip, with
// invalid UTF-8 replaced.
func roundTrip(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func BenchmarkAppendRecordArgs(b *testing.B) {
	ev := RecordEvent{
		EventType: EventTypeUpdated, WorkspaceID: "8d3c1f1e-1a2b-4c5d-9e8f-001122334455", NamespaceName: "shop", TypeName: "salesOrder",
		NewRecord: json.RawMessage(`{"id":"a1","customer":"Jane \"JJ\" Doe","total":1234.50,"lines":[{"sku":"X-1","qty":2},{"sku":"Y-9","qty":1}],"status":"paid"}`),
		OldRecord: json.RawMessage(`{"id":"a1","customer":"Jane \"JJ\" Doe","total":1234.50,"lines":[{"sku":"X-1","qty":2},{"sku":"Y-9","qty":1}],"status":"open"}`),
	}
	env := json.RawMessage(`{"stage":"prod","region":"eu"}`)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRecordArgs(buf[:0], &ev, env)
	}
	b.SetBytes(int64(len(buf)))
}
