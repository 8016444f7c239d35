package plugins

import (
	"fmt"
	"time"
)

// Args are the callback arguments of one firing, read lazily from the JSON
// object the host passes in. Which fields are present depends on the
// trigger:
//
//   - record: WorkspaceID, AppNamespace, TypeName, NewRecord (not on
//     delete), OldRecord (not on create), Env, Event and RawEvent;
//   - schedule: Env and ScheduledTime;
//   - incoming webhook: Body, Headers (lower-case names), Method, RawBody
//     and Env.
//
// An absent field reads as undefined, "" or an Object with no members.
// Args and every Value or Object taken from it alias the argument buffer,
// which the next firing overwrites: use them only inside the callback and
// copy anything that must outlive it. Args is not safe for concurrent use.
type Args struct {
	raw []byte
	top Object

	newRecord, oldRecord, env, headers Object
	loaded                             uint8 // bit set of the objects above that have been reset
}

const (
	loadedNewRecord uint8 = 1 << iota
	loadedOldRecord
	loadedEnv
	loadedHeaders
)

// ParseArgs validates data as a JSON object and returns Args over it
// without copying. The SDK passes its own reused Args to callbacks; this
// function serves tests that call callbacks directly. It returns an error
// wrapping ErrInvalidJSON when data is not a JSON object.
func ParseArgs(data []byte) (*Args, error) {
	a := &Args{}
	if err := a.reset(data); err != nil {
		return nil, err
	}
	return a, nil
}

// reset validates data and points a at it, keeping the index storage.
func (a *Args) reset(data []byte) error {
	a.raw = nil
	a.top.reset(Value{})
	a.loaded = 0

	start := skipSpace(data, 0)
	if start >= len(data) || data[start] != '{' {
		v, err := ParseValue(data)
		if err != nil {
			return fmt.Errorf("read arguments: %w", err)
		}
		return fmt.Errorf("read arguments: %w: the arguments are a JSON %s, expected an object", ErrInvalidJSON, v.Kind())
	}
	if err := a.top.indexValidating(data, start); err != nil {
		a.top.reset(Value{})
		return fmt.Errorf("read arguments: %w", err)
	}
	a.raw = data
	return nil
}

// Raw returns the arguments JSON as the host sent it.
func (a *Args) Raw() []byte { return a.raw }

// Get returns the top-level argument key, undefined when absent.
func (a *Args) Get(key string) Value { return a.top.Get(key) }

func (a *Args) text(key string) string {
	s, _ := a.top.Get(key).Text()
	return s
}

func (a *Args) object(o *Object, bit uint8, key string) *Object {
	if a.loaded&bit == 0 {
		o.reset(a.top.Get(key))
		a.loaded |= bit
	}
	return o
}

// WorkspaceID returns the workspaceId argument, "" when absent.
func (a *Args) WorkspaceID() string { return a.text("workspaceId") }

// AppNamespace returns the appNamespace argument, "" when absent.
func (a *Args) AppNamespace() string { return a.text("appNamespace") }

// TypeName returns the typeName argument of a record event, "" when absent.
func (a *Args) TypeName() string { return a.text("typeName") }

// Event returns the short record event name: EventCreated, EventUpdated or
// EventDeleted, "" when absent.
func (a *Args) Event() string { return a.text("event") }

// RawEvent returns the full event type, such as
// "tailordb.type_record.created", "" when absent.
func (a *Args) RawEvent() string { return a.text("rawEvent") }

// NewRecord returns the record after the event. It has no members on a
// delete event.
func (a *Args) NewRecord() *Object {
	return a.object(&a.newRecord, loadedNewRecord, "newRecord")
}

// OldRecord returns the record before the event. It has no members on a
// create event.
func (a *Args) OldRecord() *Object {
	return a.object(&a.oldRecord, loadedOldRecord, "oldRecord")
}

// Env returns the application's environment values.
func (a *Args) Env() *Object { return a.object(&a.env, loadedEnv, "env") }

// Headers returns the headers of an incoming webhook request, keyed by
// lower-case name.
func (a *Args) Headers() *Object {
	return a.object(&a.headers, loadedHeaders, "headers")
}

// Body returns the parsed body of an incoming webhook request: the JSON
// value, or an object of form fields.
func (a *Args) Body() Value { return a.top.Get("body") }

// Method returns the HTTP method of an incoming webhook request.
func (a *Args) Method() string { return a.text("method") }

// RawBody returns the body of an incoming webhook request as received.
func (a *Args) RawBody() string { return a.text("rawBody") }

// ScheduledTime returns the time a schedule firing was due and true, or the
// zero time and false when the argument is absent or not RFC 3339.
func (a *Args) ScheduledTime() (time.Time, bool) {
	s, ok := a.top.Get("scheduledTime").Text()
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
