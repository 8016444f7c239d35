package webhook

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/execvault/execvault/plugins"
)

// errCorruptJob means a stored job record could not be decoded. decodeJob
// wraps it with the field and byte offset where decoding stopped.
var errCorruptJob = errors.New("corrupt job record")

// jobFormatVersion is the first byte of every record that appendJob writes.
// A decoder that meets another value rejects the record instead of guessing
// at its layout, so a later layout must take a new number.
const jobFormatVersion = 1

// Binary job record, version 1. A string or byte slice is a uvarint length
// followed by the bytes. An int or time.Duration is a zigzag varint. A
// presence byte is 0 for nil and 1 for a value that follows.
//
//	version     byte 1
//	body        length-prefixed bytes
//	id, executor, eventID, url                       strings
//	headers     uvarint count, each: name, value, presence, [vault, key]
//	policy      maxAttempts, attemptTimeout, backoffBase, backoffMax, jitter
//	signing     presence, [vault, key]
//	status      string
//	round       varint
//	attempts    uvarint count, each: round, number, startedAt, endedAt,
//	            duration, statusCode, error, flags, uvarint header count,
//	            header strings
//	lastError   string
//	createdAt, updatedAt, nextAttemptAt                times
//
// A time is the byte 0 for the zero time.Time, or the byte 1 followed by a
// varint of Unix nanoseconds. Attempt flags are bit 0 for RedirectRefused
// and bit 1 for Retryable. The body comes first so that decodeJob can copy
// every string field of the record in one allocation.
const (
	presenceNone  = 0
	presenceValue = 1

	timeZero = 0
	timeUnix = 1

	attemptRedirectRefused = 1 << 0
	attemptRetryable       = 1 << 1
	attemptKnownFlags      = attemptRedirectRefused | attemptRetryable
)

// Smallest encodings of the repeated elements, used to bound a decoded
// count by the bytes left before allocating a slice for it.
const (
	minHeaderSize        = 3 // empty name, empty value, presence byte
	minAttemptSize       = 9 // one byte for each of the nine fields
	minAttemptHeaderSize = 1 // empty string
)

// appendJob appends the binary form of j to dst and returns the extended
// slice. It grows dst at most once, to the exact encoded size.
//
// Times keep only their instant: the location and the monotonic clock
// reading are dropped. NOTE: a non-zero time before 1678 or after 2262 does
// not fit int64 Unix nanoseconds, so it is stored as whatever UnixNano
// returns for it and decodes to a different instant.
func appendJob(dst []byte, j Job) []byte {
	if size := encodedJobSize(&j); cap(dst)-len(dst) < size {
		// A plain make and copy is one allocation even in race builds,
		// where slices.Grow of a nil slice costs two.
		grown := make([]byte, len(dst), len(dst)+size)
		copy(grown, dst)
		dst = grown
	}

	dst = append(dst, jobFormatVersion)
	dst = appendBytes(dst, j.Body)
	dst = appendString(dst, j.ID)
	dst = appendString(dst, j.Executor)
	dst = appendString(dst, j.EventID)
	dst = appendString(dst, j.URL)

	dst = binary.AppendUvarint(dst, uint64(len(j.Headers)))
	for _, h := range j.Headers {
		dst = appendString(dst, h.Name)
		dst = appendString(dst, h.Value)
		dst = appendSecretRef(dst, h.Secret)
	}

	dst = binary.AppendVarint(dst, int64(j.Policy.MaxAttempts))
	dst = binary.AppendVarint(dst, int64(j.Policy.AttemptTimeout))
	dst = binary.AppendVarint(dst, int64(j.Policy.BackoffBase))
	dst = binary.AppendVarint(dst, int64(j.Policy.BackoffMax))
	dst = appendString(dst, string(j.Policy.Jitter))

	if j.Signing == nil {
		dst = appendSecretRef(dst, nil)
	} else {
		dst = appendSecretRef(dst, &j.Signing.Secret)
	}
	dst = appendString(dst, string(j.Status))
	dst = binary.AppendVarint(dst, int64(j.Round))

	dst = binary.AppendUvarint(dst, uint64(len(j.Attempts)))
	for i := range j.Attempts {
		dst = appendAttempt(dst, &j.Attempts[i])
	}

	dst = appendString(dst, j.LastError)
	dst = appendTime(dst, j.CreatedAt)
	dst = appendTime(dst, j.UpdatedAt)
	return appendTime(dst, j.NextAttemptAt)
}

func appendAttempt(dst []byte, a *Attempt) []byte {
	dst = binary.AppendVarint(dst, int64(a.Round))
	dst = binary.AppendVarint(dst, int64(a.Number))
	dst = appendTime(dst, a.StartedAt)
	dst = appendTime(dst, a.EndedAt)
	dst = binary.AppendVarint(dst, int64(a.Duration))
	dst = binary.AppendVarint(dst, int64(a.StatusCode))
	dst = appendString(dst, a.Error)

	var flags byte
	if a.RedirectRefused {
		flags |= attemptRedirectRefused
	}
	if a.Retryable {
		flags |= attemptRetryable
	}
	dst = append(dst, flags)

	dst = binary.AppendUvarint(dst, uint64(len(a.Headers)))
	for _, h := range a.Headers {
		dst = appendString(dst, h)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendSecretRef(dst []byte, ref *plugins.SecretRef) []byte {
	if ref == nil {
		return append(dst, presenceNone)
	}
	dst = append(dst, presenceValue)
	dst = appendString(dst, ref.Vault)
	return appendString(dst, ref.Key)
}

func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, timeZero)
	}
	dst = append(dst, timeUnix)
	return binary.AppendVarint(dst, t.UnixNano())
}

// encodedJobSize returns the exact length of appendJob's output for j, so
// that appendJob grows its buffer once.
func encodedJobSize(j *Job) int {
	n := 1 + bytesSize(len(j.Body)) +
		stringSize(j.ID) + stringSize(j.Executor) + stringSize(j.EventID) + stringSize(j.URL)

	n += uvarintSize(uint64(len(j.Headers)))
	for i := range j.Headers {
		h := &j.Headers[i]
		n += stringSize(h.Name) + stringSize(h.Value) + secretRefSize(h.Secret)
	}

	n += varintSize(int64(j.Policy.MaxAttempts)) + varintSize(int64(j.Policy.AttemptTimeout)) +
		varintSize(int64(j.Policy.BackoffBase)) + varintSize(int64(j.Policy.BackoffMax)) +
		stringSize(string(j.Policy.Jitter))

	if j.Signing == nil {
		n += secretRefSize(nil)
	} else {
		n += secretRefSize(&j.Signing.Secret)
	}
	n += stringSize(string(j.Status)) + varintSize(int64(j.Round))

	n += uvarintSize(uint64(len(j.Attempts)))
	for i := range j.Attempts {
		a := &j.Attempts[i]
		n += varintSize(int64(a.Round)) + varintSize(int64(a.Number)) +
			timeSize(a.StartedAt) + timeSize(a.EndedAt) +
			varintSize(int64(a.Duration)) + varintSize(int64(a.StatusCode)) +
			stringSize(a.Error) + 1 + uvarintSize(uint64(len(a.Headers)))
		for _, h := range a.Headers {
			n += stringSize(h)
		}
	}

	return n + stringSize(j.LastError) + timeSize(j.CreatedAt) + timeSize(j.UpdatedAt) + timeSize(j.NextAttemptAt)
}

// uvarintSize returns the number of bytes binary.AppendUvarint writes for
// x: one for each started group of 7 bits, and at least one.
func uvarintSize(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// varintSize mirrors binary.AppendVarint, which zigzag-encodes x so that
// small negative numbers stay short.
func varintSize(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return uvarintSize(ux)
}

func stringSize(s string) int { return bytesSize(len(s)) }

func bytesSize(n int) int { return uvarintSize(uint64(n)) + n }

func secretRefSize(ref *plugins.SecretRef) int {
	if ref == nil {
		return 1
	}
	return 1 + stringSize(ref.Vault) + stringSize(ref.Key)
}

func timeSize(t time.Time) int {
	if t.IsZero() {
		return 1
	}
	return 1 + varintSize(t.UnixNano())
}

// decodeJob decodes a record that appendJob wrote. Any malformed input,
// whether truncated, carrying trailing bytes, an unknown version, a length
// beyond the input or an out-of-range value, returns an error wrapping
// errCorruptJob that names the field and byte offset. decodeJob never
// panics, and it checks every length and count against the bytes left
// before allocating, so its allocations grow in proportion to len(data).
//
// The returned job shares no memory with data, so data may be reused. All
// string fields share one copy of the record's bytes after the body, so
// holding any one of them keeps that copy alive. Non-zero times decode in
// UTC. An empty body, header list or attempt list decodes as nil.
func decodeJob(data []byte) (Job, error) {
	d := jobDecoder{data: data}
	var j Job

	if len(data) == 0 {
		return Job{}, d.errorf("version", "the input is empty")
	}
	if data[0] != jobFormatVersion {
		return Job{}, d.errorf("version", "format version %d is not supported (this build reads only version %d)", data[0], jobFormatVersion)
	}
	d.off = 1

	j.Body = d.bytes("body")
	if d.err != nil {
		return Job{}, d.err
	}
	// Everything after the body is copied once, and the string fields are
	// substrings of that copy.
	d.text = string(data[d.off:])
	d.textStart = d.off

	j.ID = d.string("id")
	j.Executor = d.string("executor")
	j.EventID = d.string("eventID")
	j.URL = d.string("url")
	d.decodeHeaders(&j)
	d.decodePolicy(&j.Policy)
	if ref, signed := d.secretRef("signing", "signing.secret.vault", "signing.secret.key"); signed {
		j.Signing = &plugins.Signing{Secret: ref}
	}
	j.Status = Status(d.string("status"))
	j.Round = d.int("round")
	d.decodeAttempts(&j)
	j.LastError = d.string("lastError")
	j.CreatedAt = d.time("createdAt")
	j.UpdatedAt = d.time("updatedAt")
	j.NextAttemptAt = d.time("nextAttemptAt")

	if d.err != nil {
		return Job{}, d.err
	}
	if left := len(data) - d.off; left != 0 {
		return Job{}, d.errorf("end of record", "%d trailing byte(s) follow the last field", left)
	}
	return j, nil
}

func (d *jobDecoder) decodeHeaders(j *Job) {
	n := d.count("headers", minHeaderSize)
	if n == 0 {
		return
	}

	headers := make([]plugins.Header, n)

	// One array holds the secret references of all headers, allocated
	// when the first one appears.
	var refs []plugins.SecretRef

	d.list = "headers"
	for i := 0; i < n && d.err == nil; i++ {
		d.index = i
		h := &headers[i]
		h.Name = d.string("name")
		h.Value = d.string("value")
		if ref, secret := d.secretRef("secret", "secret.vault", "secret.key"); secret {
			if refs == nil {
				refs = make([]plugins.SecretRef, n)
			}
			refs[i] = ref
			h.Secret = &refs[i]
		}
	}
	d.list = ""

	j.Headers = headers
}

func (d *jobDecoder) decodePolicy(p *Policy) {
	p.MaxAttempts = d.int("policy.maxAttempts")
	p.AttemptTimeout = d.duration("policy.attemptTimeout")
	p.BackoffBase = d.duration("policy.backoffBase")
	p.BackoffMax = d.duration("policy.backoffMax")
	p.Jitter = Jitter(d.string("policy.jitter"))
}

func (d *jobDecoder) decodeAttempts(j *Job) {
	n := d.count("attempts", minAttemptSize)
	if n == 0 {
		return
	}

	attempts := make([]Attempt, n)
	d.list = "attempts"
	for i := 0; i < n && d.err == nil; i++ {
		d.index = i
		d.decodeAttempt(&attempts[i])
	}
	d.list = ""

	j.Attempts = attempts
}

func (d *jobDecoder) decodeAttempt(a *Attempt) {
	a.Round = d.int("round")
	a.Number = d.int("number")
	a.StartedAt = d.time("startedAt")
	a.EndedAt = d.time("endedAt")
	a.Duration = d.duration("duration")
	a.StatusCode = d.int("statusCode")
	a.Error = d.string("error")

	flags := d.byte("flags")
	if flags&^attemptKnownFlags != 0 {
		d.errorAt(d.off-1, "flags", "flags byte %#02x has bits other than %#02x set", flags, attemptKnownFlags)
	}
	a.RedirectRefused = flags&attemptRedirectRefused != 0
	a.Retryable = flags&attemptRetryable != 0

	n := d.count("headers", minAttemptHeaderSize)
	if n == 0 {
		return
	}
	a.Headers = make([]string, n)
	d.sublist = "headers"
	for k := 0; k < n && d.err == nil; k++ {
		d.subIndex = k
		a.Headers[k] = d.string("")
	}
	d.sublist = ""
}

// jobDecoder reads a job record from data, checking each length and count
// against the bytes left before it slices or allocates. The first error
// stops it: err keeps that error, and every later read returns a zero
// value.
type jobDecoder struct {
	data []byte
	off  int
	err  error

	// text is a copy of data[textStart:], and every decoded string is a
	// substring of it.
	text      string
	textStart int

	// list and index name the header or attempt being read, and sublist
	// and subIndex the attempt header within it. Only error messages use
	// them.
	list     string
	index    int
	sublist  string
	subIndex int
}

// errorf records and returns an error wrapping errCorruptJob that names
// field and the offset where reading it failed.
func (d *jobDecoder) errorf(field, format string, args ...any) error {
	return d.errorAt(d.off, field, format, args...)
}

// errorAt is errorf for the offset off. An earlier error is kept.
func (d *jobDecoder) errorAt(off int, field, format string, args ...any) error {
	if d.err != nil {
		return d.err
	}
	if d.sublist != "" {
		field = joinField(fmt.Sprintf("%s[%d]", d.sublist, d.subIndex), field)
	}
	if d.list != "" {
		field = joinField(fmt.Sprintf("%s[%d]", d.list, d.index), field)
	}
	d.err = fmt.Errorf("decode job record: %s at byte offset %d of %d: %s, so the record cannot be read: %w",
		field, off, len(d.data), fmt.Sprintf(format, args...), errCorruptJob)
	return d.err
}

func joinField(parent, field string) string {
	if field == "" {
		return parent
	}
	return parent + "." + field
}

// byte reads one byte.
func (d *jobDecoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.data) {
		d.errorf(field, "the record ends before the field")
		return 0
	}
	d.off++
	return d.data[d.off-1]
}

func (d *jobDecoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data[d.off:])
	return d.advanceVarint(field, v, n)
}

func (d *jobDecoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.data[d.off:])
	return int64(d.advanceVarint(field, uint64(v), n))
}

// advanceVarint moves past a varint of n bytes with value v, as the
// binary package's readers report them.
func (d *jobDecoder) advanceVarint(field string, v uint64, n int) uint64 {
	if n == 0 {
		d.errorf(field, "the record ends inside the field")
		return 0
	}
	if n < 0 {
		d.errorf(field, "the varint overflows 64 bits")
		return 0
	}
	d.off += n
	return v
}

func (d *jobDecoder) int(field string) int {
	start := d.off
	v := d.varint(field)
	if int64(int(v)) != v {
		d.errorAt(start, field, "value %d does not fit an int on this platform", v)
		return 0
	}
	return int(v)
}

func (d *jobDecoder) duration(field string) time.Duration {
	return time.Duration(d.varint(field))
}

// length reads a uvarint length prefix and checks it against the bytes
// left after the prefix.
func (d *jobDecoder) length(field string) int {
	start := d.off
	n := d.uvarint(field)
	if left := len(d.data) - d.off; n > uint64(left) {
		d.errorAt(start, field, "length %d exceeds the %d bytes left", n, left)
		return 0
	}
	return int(n)
}

// count reads a uvarint element count and checks that the bytes left can
// hold that many elements of at least minSize bytes each.
func (d *jobDecoder) count(field string, minSize int) int {
	start := d.off
	n := d.uvarint(field)
	if left := len(d.data) - d.off; n > uint64(left/minSize) {
		d.errorAt(start, field, "count %d needs at least %d bytes each, but %d bytes are left", n, minSize, left)
		return 0
	}
	return int(n)
}

func (d *jobDecoder) string(field string) string {
	n := d.length(field)
	if d.err != nil {
		return ""
	}
	start := d.off - d.textStart
	d.off += n
	return d.text[start : start+n]
}

func (d *jobDecoder) bytes(field string) []byte {
	n := d.length(field)
	if d.err != nil || n == 0 {
		return nil
	}
	b := make([]byte, n)
	copy(b, d.data[d.off:])
	d.off += n
	return b
}

// secretRef reads a presence byte and, when it is set, a vault and a key.
// The field names are separate constants so that no name is built unless
// decoding fails.
func (d *jobDecoder) secretRef(field, vaultField, keyField string) (ref plugins.SecretRef, present bool) {
	switch v := d.byte(field); {
	case d.err != nil || v == presenceNone:
		return ref, false
	case v != presenceValue:
		d.errorAt(d.off-1, field, "presence byte %d is neither %d nor %d", v, presenceNone, presenceValue)
		return ref, false
	}
	ref.Vault = d.string(vaultField)
	ref.Key = d.string(keyField)
	return ref, d.err == nil
}

func (d *jobDecoder) time(field string) time.Time {
	switch tag := d.byte(field); {
	case d.err != nil || tag == timeZero:
		return time.Time{}
	case tag != timeUnix:
		d.errorAt(d.off-1, field, "time tag %d is neither %d (zero time) nor %d (Unix nanoseconds)", tag, timeZero, timeUnix)
		return time.Time{}
	}
	ns := d.varint(field)
	if d.err != nil {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
