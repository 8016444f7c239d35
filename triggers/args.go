package triggers

import (
	"encoding/json"
	"time"
	"unicode/utf8"
)

// AppendRecordArgs appends the callback arguments of a record trigger for e
// to dst and returns the extended buffer. The object has the fields
// workspaceId, appNamespace (from NamespaceName), typeName, newRecord,
// oldRecord, env, event (Kind) and rawEvent (EventType), in that order.
//
// Records are copied byte for byte; an absent record is written as null.
// env must be a JSON object (nil or empty means {}) and is copied as is.
// The function does not validate the records or env: events that come from
// this package's decoders, or that passed Validate, hold valid JSON. It
// does no reflection and allocates only when dst must grow, and it is safe
// for concurrent use with distinct dst buffers.
func AppendRecordArgs(dst []byte, e *RecordEvent, env json.RawMessage) []byte {
	dst = append(dst, `{"workspaceId":`...)
	dst = appendString(dst, e.WorkspaceID)
	dst = append(dst, `,"appNamespace":`...)
	dst = appendString(dst, e.NamespaceName)
	dst = append(dst, `,"typeName":`...)
	dst = appendString(dst, e.TypeName)
	dst = append(dst, `,"newRecord":`...)
	dst = appendRaw(dst, e.NewRecord, "null")
	dst = append(dst, `,"oldRecord":`...)
	dst = appendRaw(dst, e.OldRecord, "null")
	dst = append(dst, `,"env":`...)
	dst = appendRaw(dst, env, "{}")
	dst = append(dst, `,"event":`...)
	dst = appendString(dst, e.Kind())
	dst = append(dst, `,"rawEvent":`...)
	dst = appendString(dst, e.EventType)
	return append(dst, '}')
}

// AppendScheduleArgs appends the callback arguments of a schedule trigger
// to dst: env (nil or empty means {}) and scheduledTime, the due time in
// RFC 3339 with the offset of the schedule's zone. It is safe for
// concurrent use with distinct dst buffers.
func AppendScheduleArgs(dst []byte, scheduled time.Time, env json.RawMessage) []byte {
	dst = append(dst, `{"env":`...)
	dst = appendRaw(dst, env, "{}")
	dst = append(dst, `,"scheduledTime":"`...)
	dst = scheduled.AppendFormat(dst, time.RFC3339)
	return append(dst, `"}`...)
}

func appendRaw(dst, raw []byte, empty string) []byte {
	if len(raw) == 0 {
		return append(dst, empty...)
	}
	return append(dst, raw...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. It escapes what RFC 8259
// requires plus U+2028 and U+2029, and replaces each byte of invalid UTF-8
// with U+FFFD, so encoding/json decodes the result to the string that
// json.Marshal would have encoded.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}

		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
