package secrets

import (
	"bytes"
	"crypto/cipher"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

var update = flag.Bool("update", false, "rewrite the known-answer vectors")

var vectorsPath = filepath.Join("..", "testdata", "secrets", "vectors.json")

// vectors are known answers for the on-disk format. A change to the
// associated data, the record layout or a key derivation breaks them.
type vectors struct {
	Value struct {
		DataKey   string `json:"data_key"`
		DataKeyID uint32 `json:"data_key_id"`
		Vault     string `json:"vault"`
		Name      string `json:"name"`
		Version   uint64 `json:"version"`
		Nonce     string `json:"nonce"`
		Plaintext string `json:"plaintext"`
		Created   int64  `json:"created_unix_nano"`
		AD        string `json:"ad"`
		Record    string `json:"record"`
		Key       string `json:"key"`
	} `json:"value"`
	DataKeyWrap struct {
		KEK     string `json:"kek"`
		ID      uint32 `json:"id"`
		DataKey string `json:"data_key"`
		Nonce   string `json:"nonce"`
		Wrapped string `json:"wrapped"`
	} `json:"data_key_wrap"`
	Check struct {
		KEK   string `json:"kek"`
		Nonce string `json:"nonce"`
		Check string `json:"check"`
	} `json:"check"`
	Derived struct {
		StorageKey string `json:"storage_key"`
		BadgerKey  string `json:"badger_key"`
		AuditKey   string `json:"audit_key"`
	} `json:"derived"`
	Argon2id struct {
		Passphrase string `json:"passphrase"`
		Salt       string `json:"salt"`
		Time       uint32 `json:"time"`
		MemoryKiB  uint32 `json:"memory_kib"`
		Threads    uint8  `json:"threads"`
		KEK        string `json:"kek"`
	} `json:"argon2id"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("decode hex %q: %v", s, err)
	}
	return b
}

// sealFixed seals with a given nonce, as seal does with a random one.
func sealFixed(t *testing.T, key, nonce, plaintext, ad []byte) []byte {
	t.Helper()
	aead, err := newAEAD(key)
	if err != nil {
		t.Fatal(err)
	}
	return aead.Seal(bytes.Clone(nonce), nonce, plaintext, ad)
}

func computeVectors(t *testing.T, in vectors) vectors {
	out := in
	v := &out.Value
	ad := valueAD(v.Vault, v.Name, v.Version, v.DataKeyID, time.Unix(0, v.Created))
	v.AD = hex.EncodeToString(ad)
	sealed := sealFixed(t, unhex(t, v.DataKey), unhex(t, v.Nonce), []byte(v.Plaintext), ad)
	v.Record = hex.EncodeToString(versionRecord{Created: time.Unix(0, v.Created), DataKey: v.DataKeyID, Sealed: sealed}.encode())
	v.Key = hex.EncodeToString(versionKey(v.Vault, v.Name, v.Version))

	w := &out.DataKeyWrap
	w.Wrapped = hex.EncodeToString(sealFixed(t, unhex(t, w.KEK), unhex(t, w.Nonce), unhex(t, w.DataKey), dataKeyAD(w.ID)))

	c := &out.Check
	c.Check = hex.EncodeToString(sealFixed(t, unhex(t, c.KEK), unhex(t, c.Nonce), nil, []byte(adCheck)))

	d := &out.Derived
	badgerKey, err := deriveKey(unhex(t, d.StorageKey), infoBadger)
	if err != nil {
		t.Fatal(err)
	}
	auditKey, err := deriveKey(unhex(t, d.StorageKey), infoAudit)
	if err != nil {
		t.Fatal(err)
	}
	d.BadgerKey, d.AuditKey = hex.EncodeToString(badgerKey), hex.EncodeToString(auditKey)

	a := &out.Argon2id
	a.KEK = hex.EncodeToString(argon2.IDKey([]byte(a.Passphrase), unhex(t, a.Salt), a.Time, a.MemoryKiB, a.Threads, MasterKeySize))
	return out
}

func TestKnownAnswerVectors(t *testing.T) {
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var want vectors
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("decode vectors: %v", err)
	}

	got := computeVectors(t, want)
	if *update {
		data, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		gotJSON, _ := json.MarshalIndent(got, "", "  ")
		t.Fatalf("computed vectors differ from %s:\ngot  %s", vectorsPath, gotJSON)
	}

	// The stored record decodes and opens with the data key.
	rec, err := decodeVersionRecord(unhex(t, want.Value.Record))
	if err != nil {
		t.Fatalf("decode vector record: %v", err)
	}
	aead, err := newAEAD(unhex(t, want.Value.DataKey))
	if err != nil {
		t.Fatal(err)
	}
	ring := &keyring{dataKeys: map[uint32]cipher.AEAD{want.Value.DataKeyID: aead}}
	value, err := openVersion(ring, want.Value.Vault, want.Value.Name, want.Value.Version, rec)
	if err != nil {
		t.Fatalf("open vector record: %v", err)
	}
	if value.Reveal() != want.Value.Plaintext {
		t.Errorf("vector plaintext = %q, want %q", value.Reveal(), want.Value.Plaintext)
	}
}
