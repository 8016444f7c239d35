package triggers_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/execvault/execvault/triggers"
)

func ExampleParseSchedule() {
	s, err := triggers.ParseSchedule("30 2 * * *", "Europe/Berlin")
	if err != nil {
		fmt.Println(err)
		return
	}
	// 02:30 does not exist on 29 March 2026 in Berlin: the run moves to the
	// change at 03:00.
	at := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	for range 2 {
		at = s.Next(at)
		fmt.Println(at.Format(time.RFC3339))
	}
	// Output:
	// 2026-03-29T03:00:00+02:00
	// 2026-03-30T02:30:00+02:00
}

func ExampleAppendRecordArgs() {
	ev := triggers.RecordEvent{
		EventType:     triggers.EventTypeCreated,
		WorkspaceID:   "ws-1",
		NamespaceName: "shop",
		TypeName:      "salesOrder",
		NewRecord:     json.RawMessage(`{"id":"o-1","total":12.50}`),
	}
	fmt.Println(string(triggers.AppendRecordArgs(nil, &ev, json.RawMessage(`{"stage":"dev"}`))))
	// Output:
	// {"workspaceId":"ws-1","appNamespace":"shop","typeName":"salesOrder","newRecord":{"id":"o-1","total":12.50},"oldRecord":null,"env":{"stage":"dev"},"event":"created","rawEvent":"tailordb.type_record.created"}
}

func ExampleReader() {
	input := strings.Join([]string{
		`{"eventType":"tailordb.type_record.updated","typeName":"product","newRecord":{"id":1,"qty":4},"oldRecord":{"id":1,"qty":5}}`,
		`{"broken":`,
		`{"before":null,"after":{"id":2,"qty":1},"source":{"name":"pg","schema":"inventory","table":"products","lsn":42,"txId":7},"op":"c"}`,
	}, "\n")
	r := triggers.NewReader(strings.NewReader(input), triggers.DecodeOptions{
		TypeNames: map[string]string{"inventory.products": "product"},
	})
	for {
		ev, err := r.Next()
		if err != nil {
			if lineErr, ok := err.(*triggers.LineError); ok {
				fmt.Println("skipped line", lineErr.Line)
				continue
			}
			break
		}
		fmt.Println(r.Line(), ev.Kind(), ev.TypeName)
	}
	// Output:
	// 1 updated product
	// skipped line 2
	// 3 created product
}
