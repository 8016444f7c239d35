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

	body, err := d.bytes("body")
	if err != nil {
		return Job{}, err
	}
	j.Body = body

	// Everything after the body is copied once, and the string fields are
	// substrings of that copy.
	d.text = string(data[d.off:])
	d.textStart = d.off

	if err := d.decodeIdentity(&j); err != nil {
		return Job{}, err
	}
	if err := d.decodeHeaders(&j); err != nil {
		return Job{}, err
	}
	if err := d.decodePolicy(&j.Policy); err != nil {
		return Job{}, err
	}

	ref, signed, err := d.secretRef("signing", "signing.secret.vault", "signing.secret.key")
	if err != nil {
		return Job{}, err
	}
	if signed {
		j.Signing = &plugins.Signing{Secret: ref}
	}

	status, err := d.string("status")
	if err != nil {
		return Job{}, err
	}
	j.Status = Status(status)
	if j.Round, err = d.int("round"); err != nil {
		return Job{}, err
	}

	if err := d.decodeAttempts(&j); err != nil {
		return Job{}, err
	}

	if j.LastError, err = d.string("lastError"); err != nil {
		return Job{}, err
	}
	if j.CreatedAt, err = d.time("createdAt"); err != nil {
		return Job{}, err
	}
	if j.UpdatedAt, err = d.time("updatedAt"); err != nil {
		return Job{}, err
	}
	if j.NextAttemptAt, err = d.time("nextAttemptAt"); err != nil {
		return Job{}, err
	}

	if left := len(data) - d.off; left != 0 {
		return Job{}, d.errorf("end of record", "%d trailing byte(s) follow the last field", left)
	}
	return j, nil
}

func (d *jobDecoder) decodeIdentity(j *Job) error {
	var err error
	if j.ID, err = d.string("id"); err != nil {
		return err
	}
	if j.Executor, err = d.string("executor"); err != nil {
		return err
	}
	if j.EventID, err = d.string("eventID"); err != nil {
		return err
	}
	j.URL, err = d.string("url")
	return err
}

func (d *jobDecoder) decodeHeaders(j *Job) error {
	n, err := d.count("headers", minHeaderSize)
	if err != nil || n == 0 {
		return err
	}

	headers := make([]plugins.Header, n)

	// One array holds the secret references of all headers, allocated
	// when the first one appears.
	var refs []plugins.SecretRef

	d.list = "headers"
	for i := range headers {
		d.index = i
		h := &headers[i]
		if h.Name, err = d.string("name"); err != nil {
			return err
		}
		if h.Value, err = d.string("value"); err != nil {
			return err
		}
		ref, secret, err := d.secretRef("secret", "secret.vault", "secret.key")
		if err != nil {
			return err
		}
		if secret {
			if refs == nil {
				refs = make([]plugins.SecretRef, n)
			}
			refs[i] = ref
			h.Secret = &refs[i]
		}
	}
	d.list = ""

	j.Headers = headers
	return nil
}

func (d *jobDecoder) decodePolicy(p *Policy) error {
	var err error
	if p.MaxAttempts, err = d.int("policy.maxAttempts"); err != nil {
		return err
	}
	if p.AttemptTimeout, err = d.duration("policy.attemptTimeout"); err != nil {
		return err
	}
	if p.BackoffBase, err = d.duration("policy.backoffBase"); err != nil {
		return err
	}
	if p.BackoffMax, err = d.duration("policy.backoffMax"); err != nil {
		return err
	}
	jitter, err := d.string("policy.jitter")
	p.Jitter = Jitter(jitter)
	return err
}

func (d *jobDecoder) decodeAttempts(j *Job) error {
	n, err := d.count("attempts", minAttemptSize)
	if err != nil || n == 0 {
		return err
	}

	attempts := make([]Attempt, n)
	d.list = "attempts"
	for i := range attempts {
		d.index = i
		if err := d.decodeAttempt(&attempts[i]); err != nil {
			return err
		}
	}
	d.list = ""

	j.Attempts = attempts
	return nil
}

func (d *jobDecoder) decodeAttempt(a *Attempt) error {
	var err error
	if a.Round, err = d.int("round"); err != nil {
		return err
	}
	if a.Number, err = d.int("number"); err != nil {
		return err
	}
	if a.StartedAt, err = d.time("startedAt"); err != nil {
		return err
	}
	if a.EndedAt, err = d.time("endedAt"); err != nil {
		return err
	}
	if a.Duration, err = d.duration("duration"); err != nil {
		return err
	}
	if a.StatusCode, err = d.int("statusCode"); err != nil {
		return err
	}
	if a.Error, err = d.string("error"); err != nil {
		return err
	}

	if d.off >= len(d.data) {
		return d.errorf("flags", "the record ends before the field")
	}
	flags := d.data[d.off]
	if flags&^attemptKnownFlags != 0 {
		return d.errorf("flags", "flags byte %#02x has bits other than %#02x set", flags, attemptKnownFlags)
	}
	d.off++
	a.RedirectRefused = flags&attemptRedirectRefused != 0
	a.Retryable = flags&attemptRetryable != 0

	n, err := d.count("headers", minAttemptHeaderSize)
	if err != nil || n == 0 {
		return err
	}
	a.Headers = make([]string, n)
	d.sublist = "headers"
	for k := range a.Headers {
		d.subIndex = k
		if a.Headers[k], err = d.string(""); err != nil {
			return err
		}
	}
	d.sublist = ""
	return nil
}

// jobDecoder reads a job record from data, checking each length and count
// against the bytes left before it slices or allocates.
type jobDecoder struct {
	data []byte
	off  int

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

// errorf returns an error wrapping errCorruptJob that names field and the
// offset where reading it failed.
func (d *jobDecoder) errorf(field, format string, args ...any) error {
	return d.errorAt(d.off, field, format, args...)
}

func (d *jobDecoder) errorAt(off int, field, format string, args ...any) error {
	if d.sublist != "" {
		field = joinField(fmt.Sprintf("%s[%d]", d.sublist, d.subIndex), field)
	}
	if d.list != "" {
		field = joinField(fmt.Sprintf("%s[%d]", d.list, d.index), field)
	}
	return fmt.Errorf("decode job record: %s at byte offset %d of %d: %s, so the record cannot be read: %w",
		field, off, len(d.data), fmt.Sprintf(format, args...), errCorruptJob)
}

func joinField(parent, field string) string {
	if field == "" {
		return parent
	}
	return parent + "." + field
}

func (d *jobDecoder) uvarint(field string) (uint64, error) {
	v, n := binary.Uvarint(d.data[d.off:])
	if n == 0 {
		return 0, d.errorf(field, "the record ends inside the field")
	}
	if n < 0 {
		return 0, d.errorf(field, "the varint overflows 64 bits")
	}
	d.off += n
	return v, nil
}

func (d *jobDecoder) varint(field string) (int64, error) {
	v, n := binary.Varint(d.data[d.off:])
	if n == 0 {
		return 0, d.errorf(field, "the record ends inside the field")
	}
	if n < 0 {
		return 0, d.errorf(field, "the varint overflows 64 bits")
	}
	d.off += n
	return v, nil
}

func (d *jobDecoder) int(field string) (int, error) {
	start := d.off
	v, err := d.varint(field)
	if err != nil {
		return 0, err
	}
	if int64(int(v)) != v {
		return 0, d.errorAt(start, field, "value %d does not fit an int on this platform", v)
	}
	return int(v), nil
}

func (d *jobDecoder) duration(field string) (time.Duration, error) {
	v, err := d.varint(field)
	return time.Duration(v), err
}

// length reads a uvarint length prefix and checks it against the bytes
// left after the prefix.
func (d *jobDecoder) length(field string) (int, error) {
	start := d.off
	n, err := d.uvarint(field)
	if err != nil {
		return 0, err
	}
	if left := len(d.data) - d.off; n > uint64(left) {
		return 0, d.errorAt(start, field, "length %d exceeds the %d bytes left", n, left)
	}
	return int(n), nil
}

// count reads a uvarint element count and checks that the bytes left can
// hold that many elements of at least minSize bytes each.
func (d *jobDecoder) count(field string, minSize int) (int, error) {
	start := d.off
	n, err := d.uvarint(field)
	if err != nil {
		return 0, err
	}
	if left := len(d.data) - d.off; n > uint64(left/minSize) {
		return 0, d.errorAt(start, field, "count %d needs at least %d bytes each, but %d bytes are left", n, minSize, left)
	}
	return int(n), nil
}

func (d *jobDecoder) string(field string) (string, error) {
	n, err := d.length(field)
	if err != nil {
		return "", err
	}
	start := d.off - d.textStart
	d.off += n
	return d.text[start : start+n], nil
}

func (d *jobDecoder) bytes(field string) ([]byte, error) {
	n, err := d.length(field)
	if err != nil || n == 0 {
		return nil, err
	}
	b := make([]byte, n)
	copy(b, d.data[d.off:])
	d.off += n
	return b, nil
}

func (d *jobDecoder) presence(field string) (bool, error) {
	if d.off >= len(d.data) {
		return false, d.errorf(field, "the record ends before the field")
	}
	switch v := d.data[d.off]; v {
	case presenceNone, presenceValue:
		d.off++
		return v == presenceValue, nil
	default:
		return false, d.errorf(field, "presence byte %d is neither %d nor %d", v, presenceNone, presenceValue)
	}
}

// secretRef reads a presence byte and, when it is set, a vault and a key.
// The field names are separate constants so that no name is built unless
// decoding fails.
func (d *jobDecoder) secretRef(field, vaultField, keyField string) (ref plugins.SecretRef, present bool, err error) {
	if present, err = d.presence(field); err != nil || !present {
		return ref, false, err
	}
	if ref.Vault, err = d.string(vaultField); err != nil {
		return ref, false, err
	}
	if ref.Key, err = d.string(keyField); err != nil {
		return ref, false, err
	}
	return ref, true, nil
}

func (d *jobDecoder) time(field string) (time.Time, error) {
	if d.off >= len(d.data) {
		return time.Time{}, d.errorf(field, "the record ends before the field")
	}
	switch tag := d.data[d.off]; tag {
	case timeZero:
		d.off++
		return time.Time{}, nil
	case timeUnix:
		d.off++
		ns, err := d.varint(field)
		if err != nil {
			return time.Time{}, err
		}
		return time.Unix(0, ns).UTC(), nil
	default:
		return time.Time{}, d.errorf(field, "time tag %d is neither %d (zero time) nor %d (Unix nanoseconds)", tag, timeZero, timeUnix)
	}
}
