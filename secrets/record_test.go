package secrets

import (
	"bytes"
	"crypto/cipher"
	"errors"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	v := vaultRecord{Created: now, Updated: now.Add(time.Hour)}
	gotV, err := decodeVaultRecord(v.encode())
	if err != nil || gotV != v {
		t.Errorf("vault record round trip = %+v, %v; want %+v", gotV, err, v)
	}

	x := versionRecord{Created: now, DataKey: 9, Sealed: bytes.Repeat([]byte{1}, nonceSize+tagSize+5)}

	s := secretRecord{Created: now, Updated: now, Current: 7, Oldest: 3, Head: x}
	gotS, err := decodeSecretRecord(s.encode())
	if err != nil {
		t.Fatalf("decode secret record: %v", err)
	}
	if !bytes.Equal(gotS.encode(), s.encode()) || gotS.Current != 7 || gotS.Oldest != 3 || !gotS.Head.Created.Equal(now) || gotS.Head.DataKey != 9 {
		t.Errorf("secret record round trip = %+v, want %+v", gotS, s)
	}

	gotX, err := decodeVersionRecord(x.encode())
	if err != nil || !gotX.Created.Equal(x.Created) || gotX.DataKey != 9 || !bytes.Equal(gotX.Sealed, x.Sealed) {
		t.Errorf("version record round trip = %+v, %v; want %+v", gotX, err, x)
	}
}

func TestRecordDecodeRejects(t *testing.T) {
	head := versionRecord{Created: time.Unix(1, 0), DataKey: 1, Sealed: make([]byte, nonceSize+tagSize)}
	valid := secretRecord{Created: time.Unix(1, 0), Updated: time.Unix(2, 0), Current: 2, Oldest: 1, Head: head}.encode()
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"wrong kind", append([]byte{kindVault}, valid[1:]...)},
		{"future format", append([]byte{kindSecret, 2}, valid[2:]...)},
		{"short", valid[:len(valid)-1]},
		{"no head", valid[:secretRecordSize]},
		{"head of another kind", append(bytes.Clone(valid[:secretRecordSize]), vaultRecord{}.encode()...)},
		{"oldest zero", secretRecord{Current: 2, Oldest: 0, Head: head}.encode()},
		{"oldest after current", secretRecord{Current: 2, Oldest: 3, Head: head}.encode()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeSecretRecord(tt.data)
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("decodeSecretRecord error = %v, want ErrCorrupt", err)
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	now := time.Unix(1700000000, 0)
	f.Add(vaultRecord{Created: now, Updated: now}.encode())
	f.Add(secretRecord{Created: now, Updated: now, Current: 3, Oldest: 1, Head: versionRecord{Created: now, DataKey: 2, Sealed: make([]byte, nonceSize+tagSize+1)}}.encode())
	f.Add(versionRecord{Created: now, DataKey: 1, Sealed: make([]byte, nonceSize+tagSize+4)}.encode())
	f.Add(versionKey("vault", "name", 3))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := decodeVaultRecord(data); err == nil && !bytes.Equal(r.encode(), data) {
			t.Fatalf("vault record %x re-encodes differently", data)
		}
		if r, err := decodeSecretRecord(data); err == nil && !bytes.Equal(r.encode(), data) {
			t.Fatalf("secret record %x re-encodes differently", data)
		}
		if r, err := decodeVersionRecord(data); err == nil {
			if !bytes.Equal(r.encode(), data) {
				t.Fatalf("version record %x re-encodes differently", data)
			}
			// A fuzzed record never opens: it fails authentication.
			aead, err := newAEAD(bytes.Repeat([]byte{3}, keySize))
			if err != nil {
				t.Fatal(err)
			}
			ring := &keyring{dataKeys: map[uint32]cipher.AEAD{r.DataKey: aead}}
			if _, err := openVersion(ring, "vault", "name", 1, r); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("openVersion of fuzzed record: error %v, want ErrCorrupt", err)
			}
		}
		if v, n, ver, err := decodeVersionKey(data); err == nil && !bytes.Equal(versionKey(v, n, ver), data) {
			t.Fatalf("version key %x re-encodes differently", data)
		}
		if v, n, err := decodeSecretKey(data); err == nil && !bytes.Equal(secretKey(v, n), data) {
			t.Fatalf("secret key %x re-encodes differently", data)
		}
		if v, err := decodeVaultKey(data); err == nil && !bytes.Equal(vaultKey(v), data) {
			t.Fatalf("vault key %x re-encodes differently", data)
		}
	})
}
