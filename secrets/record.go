package secrets

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Badger key prefixes. Every variable part of a key is prefixed by its
// length in one byte (names are at most 128 bytes), so distinct
// (vault, name) pairs never share a key.
const (
	prefixVault   = 'v' // v | len | vault
	prefixSecret  = 's' // s | len | vault | len | name
	prefixVersion = 'x' // x | len | vault | len | name | version (u64)
	prefixAudit   = 'a' // a | sequence (u64)
	prefixMeta    = 'm' // m | ascii name
)

// Record kinds and the record format version, the first two bytes of
// every record value.
const (
	kindVault   = 'V'
	kindSecret  = 'S'
	kindVersion = 'X'

	recordFormat = 1
)

var auditSequenceKey = []byte("maudit-sequence")

func appendPart(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// newKey returns an empty key with room for the prefix, two parts and a
// version, so that building a key allocates once.
func newKey(prefix byte, vault, name string) []byte {
	b := make([]byte, 1, 3+len(vault)+len(name)+8)
	b[0] = prefix
	return b
}

func vaultKey(vault string) []byte {
	return appendPart(newKey(prefixVault, vault, ""), vault)
}

func secretPrefix(vault string) []byte {
	return appendPart(newKey(prefixSecret, vault, ""), vault)
}

func secretKey(vault, name string) []byte {
	return appendSecretKey(make([]byte, 0, 3+len(vault)+len(name)), vault, name)
}

// appendSecretKey appends the secret key of (vault, name) to dst, so that
// a read can build the key in a reused buffer.
func appendSecretKey(dst []byte, vault, name string) []byte {
	return appendPart(appendPart(append(dst, prefixSecret), vault), name)
}

func versionVaultPrefix(vault string) []byte {
	return appendPart(newKey(prefixVersion, vault, ""), vault)
}

func versionPrefix(vault, name string) []byte {
	return appendPart(appendPart(newKey(prefixVersion, vault, name), vault), name)
}

func versionKey(vault, name string, version uint64) []byte {
	return binary.BigEndian.AppendUint64(versionPrefix(vault, name), version)
}

func auditKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixAudit}, seq)
}

// readPart splits one length-prefixed part off b.
func readPart(b []byte) (part string, rest []byte, ok bool) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return "", nil, false
	}
	n := int(b[0])
	return string(b[1 : 1+n]), b[1+n:], true
}

// decodeVaultKey returns the vault of a vault key.
func decodeVaultKey(key []byte) (string, error) {
	if len(key) < 1 || key[0] != prefixVault {
		return "", fmt.Errorf("%w: not a vault key", ErrCorrupt)
	}
	vault, rest, ok := readPart(key[1:])
	if !ok || len(rest) != 0 {
		return "", fmt.Errorf("%w: malformed vault key", ErrCorrupt)
	}
	return vault, nil
}

// decodeSecretKey returns the vault and name of a secret key.
func decodeSecretKey(key []byte) (vault, name string, err error) {
	if len(key) < 1 || key[0] != prefixSecret {
		return "", "", fmt.Errorf("%w: not a secret key", ErrCorrupt)
	}
	vault, rest, ok := readPart(key[1:])
	if ok {
		name, rest, ok = readPart(rest)
	}
	if !ok || len(rest) != 0 {
		return "", "", fmt.Errorf("%w: malformed secret key", ErrCorrupt)
	}
	return vault, name, nil
}

// decodeVersionKey returns the parts of a version key.
func decodeVersionKey(key []byte) (vault, name string, version uint64, err error) {
	if len(key) < 1 || key[0] != prefixVersion {
		return "", "", 0, fmt.Errorf("%w: not a version key", ErrCorrupt)
	}
	vault, rest, ok := readPart(key[1:])
	if ok {
		name, rest, ok = readPart(rest)
	}
	if !ok || len(rest) != 8 {
		return "", "", 0, fmt.Errorf("%w: malformed version key", ErrCorrupt)
	}
	return vault, name, binary.BigEndian.Uint64(rest), nil
}

// vaultRecord is the value under a vault key.
type vaultRecord struct {
	Created time.Time
	Updated time.Time
}

// secretRecord is the value under a secret key. Versions Oldest to
// Current are kept: the current one in Head, so that a read of the current
// value costs one Get, and the older ones under version keys.
type secretRecord struct {
	Created time.Time
	Updated time.Time
	Current uint64
	Oldest  uint64
	Head    versionRecord
}

// versionRecord is the value under a version key. Sealed is
// nonce (24 bytes) || ciphertext || tag (16 bytes), sealed with data key
// DataKey over valueAD.
type versionRecord struct {
	Created time.Time
	DataKey uint32
	Sealed  []byte
}

const (
	vaultRecordSize = 2 + 8 + 8
	// secretRecordSize is the size of a secret record without its head.
	secretRecordSize     = 2 + 8 + 8 + 8 + 8
	versionRecordMinSize = 2 + 8 + 4 + nonceSize + tagSize
)

func appendTime(b []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixNano()))
}

func readTime(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
}

func (r vaultRecord) encode() []byte {
	b := make([]byte, 0, vaultRecordSize)
	b = append(b, kindVault, recordFormat)
	b = appendTime(b, r.Created)
	return appendTime(b, r.Updated)
}

func (r secretRecord) encode() []byte {
	b := make([]byte, 0, secretRecordSize+versionRecordMinSize+len(r.Head.Sealed))
	b = append(b, kindSecret, recordFormat)
	b = appendTime(b, r.Created)
	b = appendTime(b, r.Updated)
	b = binary.BigEndian.AppendUint64(b, r.Current)
	b = binary.BigEndian.AppendUint64(b, r.Oldest)
	return append(b, r.Head.encode()...)
}

func (r versionRecord) encode() []byte {
	b := make([]byte, 0, versionRecordMinSize+len(r.Sealed))
	b = append(b, kindVersion, recordFormat)
	b = appendTime(b, r.Created)
	b = binary.BigEndian.AppendUint32(b, r.DataKey)
	return append(b, r.Sealed...)
}

func checkRecordHeader(b []byte, kind byte, size int, exact bool) error {
	switch {
	case len(b) < 2 || b[0] != kind:
		return fmt.Errorf("%w: record kind is not %q", ErrCorrupt, kind)
	case b[1] != recordFormat:
		return fmt.Errorf("%w: record format %d, this build reads %d", ErrCorrupt, b[1], recordFormat)
	case exact && len(b) != size, !exact && len(b) < size:
		return fmt.Errorf("%w: %q record is %d bytes", ErrCorrupt, kind, len(b))
	}
	return nil
}

func decodeVaultRecord(b []byte) (vaultRecord, error) {
	if err := checkRecordHeader(b, kindVault, vaultRecordSize, true); err != nil {
		return vaultRecord{}, err
	}
	return vaultRecord{Created: readTime(b[2:]), Updated: readTime(b[10:])}, nil
}

// decodeSecretRecord decodes a secret record. Head.Sealed aliases b.
// It fills the named result in place: returning the record through
// intermediate values took about as long as decoding it
// (BenchmarkDecodeSecretRecord: 45 ns before, 25 ns after, on a 2-core
// AMD EPYC virtual machine).
func decodeSecretRecord(b []byte) (r secretRecord, err error) {
	if err := checkRecordHeader(b, kindSecret, secretRecordSize+versionRecordMinSize, false); err != nil {
		return secretRecord{}, err
	}
	if err := decodeVersionRecordInto(&r.Head, b[secretRecordSize:]); err != nil {
		return secretRecord{}, err
	}
	r.Created = readTime(b[2:])
	r.Updated = readTime(b[10:])
	r.Current = binary.BigEndian.Uint64(b[18:])
	r.Oldest = binary.BigEndian.Uint64(b[26:])
	if r.Oldest == 0 || r.Oldest > r.Current {
		return secretRecord{}, fmt.Errorf("%w: secret record keeps versions %d to %d", ErrCorrupt, r.Oldest, r.Current)
	}
	return r, nil
}

// decodeVersionRecord decodes a version record. Sealed aliases b.
func decodeVersionRecord(b []byte) (r versionRecord, err error) {
	if err := decodeVersionRecordInto(&r, b); err != nil {
		return versionRecord{}, err
	}
	return r, nil
}

// decodeVersionRecordInto decodes a version record into r, which it
// leaves partly set on error. Sealed aliases b.
func decodeVersionRecordInto(r *versionRecord, b []byte) error {
	if err := checkRecordHeader(b, kindVersion, versionRecordMinSize, false); err != nil {
		return err
	}
	r.Created = readTime(b[2:])
	r.DataKey = binary.BigEndian.Uint32(b[10:])
	r.Sealed = b[14:]
	return nil
}
