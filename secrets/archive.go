package secrets

import (
	"bufio"
	"bytes"
	"context"
	"crypto/cipher"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Archive layout: archiveMagic, a 4-byte big-endian length and the
// archiveHeader in JSON, then chunks, each a 4-byte length and a sealed
// chunk. Chunks are sealed with the archive key over
// adArchive || chunk index (u64) || final flag (1 byte), so chunks cannot
// be reordered, dropped or cut off at the end.
const (
	archiveMagic     = "EXECVAULT-ARCHIVE-1\n"
	archiveChunkSize = 64 << 10
	// maxArchiveChunk bounds a chunk read from an untrusted archive.
	maxArchiveChunk = archiveChunkSize + maxValueSizeLimit*2 + 4096
)

type archiveHeader struct {
	Format  int        `json:"format"`
	Created time.Time  `json:"created"`
	KDF     *KDFParams `json:"kdf,omitempty"`
	// Check is an empty plaintext sealed under the archive's KEK.
	Check []byte `json:"check"`
	// Key is the random archive key sealed under the archive's KEK.
	Key []byte `json:"key"`
}

// archiveLine is one JSON line of the archive plaintext: a vault or a
// secret with its versions.
type archiveLine struct {
	Vault  *archiveVault  `json:"vault,omitempty"`
	Secret *archiveSecret `json:"secret,omitempty"`
}

type archiveVault struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

type archiveSecret struct {
	Vault    string           `json:"vault"`
	Name     string           `json:"name"`
	Created  time.Time        `json:"created"`
	Updated  time.Time        `json:"updated"`
	Current  uint64           `json:"current"`
	Versions []archiveVersion `json:"versions"`
}

type archiveVersion struct {
	Version uint64    `json:"version"`
	Created time.Time `json:"created"`
	Value   []byte    `json:"value"`
}

func archiveChunkAD(index uint64, final bool) []byte {
	ad := binary.BigEndian.AppendUint64([]byte(adArchive), index)
	if final {
		return append(ad, 1)
	}
	return append(ad, 0)
}

// chunkWriter seals the archive plaintext in chunks.
type chunkWriter struct {
	w     io.Writer
	aead  cipher.AEAD
	buf   []byte
	index uint64
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	for len(c.buf) >= archiveChunkSize {
		if err := c.emit(c.buf[:archiveChunkSize], false); err != nil {
			return 0, err
		}
		c.buf = append(c.buf[:0], c.buf[archiveChunkSize:]...)
	}
	return len(p), nil
}

func (c *chunkWriter) emit(plain []byte, final bool) error {
	sealed, err := seal(c.aead, plain, archiveChunkAD(c.index, final))
	if err != nil {
		return err
	}
	c.index++
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(sealed)))
	if _, err := c.w.Write(n[:]); err != nil {
		return err
	}
	_, err = c.w.Write(sealed)
	return err
}

func (c *chunkWriter) Close() error {
	err := c.emit(c.buf, true)
	clear(c.buf)
	return err
}

// Export writes every vault and secret, with all kept versions, to w as an
// encrypted archive that Import restores. Values are decrypted and sealed
// again with a random archive key wrapped by the master key, so the archive
// opens only with the same master key (or passphrase). The audit log is not
// exported. The export reads one consistent snapshot.
func (s *Store) Export(ctx context.Context, w io.Writer) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.ops.Done()

	ring := s.ring.Load()
	hdr, archiveKey, err := newArchiveHeader(ring.master, s.cfg.KDF, s.now())
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	bw := bufio.NewWriter(w)
	if err := writeArchiveHeader(bw, hdr); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	aead, err := newAEAD(archiveKey)
	if err != nil {
		return err
	}
	cw := &chunkWriter{w: bw, aead: aead}
	enc := json.NewEncoder(cw)

	var secrets int
	err = s.db.View(func(txn *badger.Txn) error {
		vaults, err := exportVaults(txn)
		if err != nil {
			return err
		}
		for _, v := range vaults {
			if err := enc.Encode(archiveLine{Vault: &v}); err != nil {
				return err
			}
		}
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, Prefix: []byte{prefixSecret}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			line, err := exportSecret(txn, ring, it.Item())
			if err != nil {
				return err
			}
			if err := enc.Encode(archiveLine{Secret: line}); err != nil {
				return err
			}
			secrets++
		}
		return nil
	})
	if err == nil {
		err = cw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	outcome := outcomeOf(err)
	s.audit(AuditEntry{Actor: ActorFrom(ctx), Action: ActionExport, Outcome: outcome, Detail: count(secrets, "secret")})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

func exportVaults(txn *badger.Txn) ([]archiveVault, error) {
	var vaults []archiveVault
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, Prefix: []byte{prefixVault}})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		name, err := decodeVaultKey(it.Item().Key())
		if err != nil {
			return nil, err
		}
		raw, err := it.Item().ValueCopy(nil)
		if err != nil {
			return nil, err
		}
		rec, err := decodeVaultRecord(raw)
		if err != nil {
			return nil, fmt.Errorf("vault %q: %w", name, err)
		}
		vaults = append(vaults, archiveVault{Name: name, Created: rec.Created, Updated: rec.Updated})
	}
	return vaults, nil
}

func exportSecret(txn *badger.Txn, ring *keyring, item *badger.Item) (*archiveSecret, error) {
	vault, name, err := decodeSecretKey(item.Key())
	if err != nil {
		return nil, err
	}
	raw, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	rec, err := decodeSecretRecord(raw)
	if err != nil {
		return nil, fmt.Errorf("secret %q in vault %q: %w", name, vault, err)
	}
	line := &archiveSecret{Vault: vault, Name: name, Created: rec.Created, Updated: rec.Updated, Current: rec.Current}
	for version := rec.Oldest; version <= rec.Current; version++ {
		ver := rec.Head
		if version != rec.Current {
			ver, err = getVersion(txn, vault, name, version)
			if errors.Is(err, ErrVersionNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
		}
		value, err := openVersion(ring, vault, name, version, ver)
		if err != nil {
			return nil, fmt.Errorf("secret %q in vault %q version %d: %w", name, vault, version, err)
		}
		line.Versions = append(line.Versions, archiveVersion{Version: version, Created: ver.Created, Value: value.Bytes()})
	}
	return line, nil
}

func newArchiveHeader(master MasterKey, kdf KDFParams, now time.Time) (archiveHeader, []byte, error) {
	// newKeyring draws a fresh salt for a passphrase, and only its KEK is used.
	ring, err := newKeyring(master, kdf, now)
	if err != nil {
		return archiveHeader{}, nil, err
	}
	key, err := randomKey()
	if err != nil {
		return archiveHeader{}, nil, err
	}
	check, err := seal(ring.kek, nil, []byte(adArchive+"/check"))
	if err != nil {
		return archiveHeader{}, nil, err
	}
	wrapped, err := seal(ring.kek, key, []byte(adArchive+"/key"))
	if err != nil {
		return archiveHeader{}, nil, err
	}
	return archiveHeader{Format: 1, Created: now, KDF: ring.hdr.KDF, Check: check, Key: wrapped}, key, nil
}

func writeArchiveHeader(w io.Writer, hdr archiveHeader) error {
	data, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	if _, err := io.WriteString(w, archiveMagic); err != nil {
		return err
	}
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// readArchiveHeader reads the header and unwraps the archive key with master.
func readArchiveHeader(r io.Reader, master MasterKey) (cipher.AEAD, error) {
	magic := make([]byte, len(archiveMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != archiveMagic {
		return nil, fmt.Errorf("%w: not an execvault archive", ErrInvalidArchive)
	}
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, fmt.Errorf("%w: truncated header", ErrInvalidArchive)
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > 64<<10 {
		return nil, fmt.Errorf("%w: header of %d bytes", ErrInvalidArchive, size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, fmt.Errorf("%w: truncated header", ErrInvalidArchive)
	}
	var hdr archiveHeader
	if err := json.Unmarshal(data, &hdr); err != nil || hdr.Format != 1 {
		return nil, fmt.Errorf("%w: unreadable header", ErrInvalidArchive)
	}

	kekBytes, err := master.deriveKEK(hdr.KDF)
	if err != nil {
		return nil, err
	}
	kek, err := newAEAD(kekBytes)
	if err != nil {
		return nil, err
	}
	if _, err := open(kek, hdr.Check, []byte(adArchive+"/check")); err != nil {
		return nil, fmt.Errorf("%w: the archive was exported with another master key", ErrWrongKey)
	}
	key, err := open(kek, hdr.Key, []byte(adArchive+"/key"))
	if err != nil {
		return nil, fmt.Errorf("%w: archive key", ErrInvalidArchive)
	}
	return newAEAD(key)
}

// readArchiveBody decrypts every chunk and decodes the lines.
func readArchiveBody(r io.Reader, aead cipher.AEAD) ([]archiveVault, []archiveSecret, error) {
	var plain bytes.Buffer
	for index := uint64(0); ; index++ {
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return nil, nil, fmt.Errorf("%w: truncated after chunk %d", ErrInvalidArchive, index)
		}
		size := binary.BigEndian.Uint32(n[:])
		if size > maxArchiveChunk {
			return nil, nil, fmt.Errorf("%w: chunk %d is %d bytes", ErrInvalidArchive, index, size)
		}
		sealed := make([]byte, size)
		if _, err := io.ReadFull(r, sealed); err != nil {
			return nil, nil, fmt.Errorf("%w: truncated chunk %d", ErrInvalidArchive, index)
		}
		chunk, err := open(aead, sealed, archiveChunkAD(index, false))
		final := false
		if err != nil {
			chunk, err = open(aead, sealed, archiveChunkAD(index, true))
			final = true
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: chunk %d fails authentication", ErrInvalidArchive, index)
		}
		plain.Write(chunk)
		clear(chunk)
		if final {
			break
		}
	}
	defer clear(plain.Bytes())

	var vaults []archiveVault
	var secrets []archiveSecret
	dec := json.NewDecoder(&plain)
	for {
		var line archiveLine
		err := dec.Decode(&line)
		if errors.Is(err, io.EOF) {
			return vaults, secrets, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: undecodable line", ErrInvalidArchive)
		}
		switch {
		case line.Vault != nil:
			vaults = append(vaults, *line.Vault)
		case line.Secret != nil:
			secrets = append(secrets, *line.Secret)
		}
	}
}

// ImportResult counts what Import restored.
type ImportResult struct {
	Vaults  int `json:"vaults"`
	Secrets int `json:"secrets"`
}

// Import restores an archive written by Export into this store, which must
// hold no vault. The archive is checked against the store's master key and
// fully decrypted and validated before anything is written, so a wrong key
// (ErrWrongKey) or a damaged archive (ErrInvalidArchive) leaves the store
// untouched. Values are sealed again with the active data key, and version
// numbers and times are kept.
//
// NOTE: the archive is held in memory while it is checked. An archive too
// large for one Badger transaction is written one secret per transaction,
// so a crash during its writes leaves a partial import that a second
// Import rejects as ErrStoreNotEmpty. Remove the data directory and import
// again.
func (s *Store) Import(ctx context.Context, r io.Reader) (ImportResult, error) {
	if err := s.begin(); err != nil {
		return ImportResult{}, err
	}
	defer s.ops.Done()

	result, err := s.importArchive(ctx, r)
	if err != nil {
		// The failure is recorded even when ctx ended, because a large
		// import may have written part of the archive by then.
		s.audit(AuditEntry{Actor: ActorFrom(ctx), Action: ActionImport, Outcome: OutcomeError, Detail: strings.TrimPrefix(err.Error(), "import: ")})
		return ImportResult{}, err
	}
	s.audit(AuditEntry{Actor: ActorFrom(ctx), Action: ActionImport, Outcome: OutcomeOK, Detail: count(result.Vaults, "vault") + ", " + count(result.Secrets, "secret")})
	s.log.Info("archive imported", "vaults", result.Vaults, "secrets", result.Secrets)
	return result, nil
}

// ImportInto imports the archive r into the store in cfg.Dir, as Open and
// Import do, and creates the store when Dir contains none. When the import
// fails, it removes a store that it created, with any key file that Open
// created for it. So a wrong key or a damaged archive leaves no store
// bound to the key that was tried.
func ImportInto(ctx context.Context, cfg Config, r io.Reader) (ImportResult, error) {
	cfg.MustExist = false
	created := missingDirs(cfg.Dir)
	s, err := Open(ctx, cfg)
	if err != nil {
		return ImportResult{}, err
	}
	s.removeOnFailedImport = s.created
	result, err := s.Import(ctx, r)
	cerr := s.Close()
	switch {
	case err == nil:
		return result, cerr
	case !s.created:
		return ImportResult{}, err
	}
	if rerr := s.remove(); rerr != nil {
		return ImportResult{}, fmt.Errorf("%w; removing the store that this import created in %s failed too: %v", err, cfg.Dir, rerr)
	}
	// The directories Open made for the store go too, unless something
	// else was written to them meanwhile.
	for _, dir := range created {
		if os.Remove(dir) != nil {
			break
		}
	}
	return ImportResult{}, fmt.Errorf("%w; the store that this import created in %s was removed again", err, cfg.Dir)
}

// missingDirs returns dir and those of its parents that do not exist,
// deepest first.
func missingDirs(dir string) []string {
	var missing []string
	for {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			return missing
		}
		missing = append(missing, dir)
		parent := filepath.Dir(dir)
		if parent == dir {
			return missing
		}
		dir = parent
	}
}

func (s *Store) importArchive(ctx context.Context, r io.Reader) (ImportResult, error) {
	vaults, err := s.ListVaults(ctx)
	if err != nil {
		return ImportResult{}, err
	}
	if len(vaults) > 0 {
		return ImportResult{}, fmt.Errorf("import: %w: it contains %s; import into a new data directory", ErrStoreNotEmpty, count(len(vaults), "vault"))
	}

	ring := s.ring.Load()
	br := bufio.NewReader(r)
	aead, err := readArchiveHeader(br, ring.master)
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	archVaults, archSecrets, err := readArchiveBody(br, aead)
	if err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	if err := s.validateArchive(archVaults, archSecrets); err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}

	if err := s.writeArchive(ctx, archVaults, archSecrets); err != nil {
		return ImportResult{}, fmt.Errorf("import: %w", err)
	}
	s.cache.purge()
	return ImportResult{Vaults: len(archVaults), Secrets: len(archSecrets)}, nil
}

func (s *Store) validateArchive(vaults []archiveVault, secrets []archiveSecret) error {
	known := map[string]bool{}
	for _, v := range vaults {
		if err := ValidateVaultName(v.Name); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidArchive, err)
		}
		known[v.Name] = true
	}
	seen := map[cacheKey]bool{}
	for _, sec := range secrets {
		if err := checkNames(sec.Vault, sec.Name); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidArchive, err)
		}
		k := cacheKey{sec.Vault, sec.Name}
		if !known[sec.Vault] || seen[k] || len(sec.Versions) == 0 {
			return fmt.Errorf("%w: secret %q in vault %q is duplicated, has no versions or no vault", ErrInvalidArchive, sec.Name, sec.Vault)
		}
		seen[k] = true
		for i, v := range sec.Versions {
			if v.Version == 0 || v.Version > sec.Current || (i > 0 && v.Version <= sec.Versions[i-1].Version) || len(v.Value) > s.cfg.MaxValueSize {
				return fmt.Errorf("%w: secret %q in vault %q has an invalid version %d", ErrInvalidArchive, sec.Name, sec.Vault, v.Version)
			}
		}
		if sec.Versions[len(sec.Versions)-1].Version != sec.Current {
			return fmt.Errorf("%w: secret %q in vault %q lacks its current version", ErrInvalidArchive, sec.Name, sec.Vault)
		}
	}
	return nil
}

// writeArchive writes the archive in one transaction, so a crash leaves
// either nothing or everything. An archive too large for one Badger
// transaction is written one secret per transaction instead.
func (s *Store) writeArchive(ctx context.Context, vaults []archiveVault, secrets []archiveSecret) error {
	s.keyMu.RLock()
	defer s.keyMu.RUnlock()
	ring := s.ring.Load()
	defer func() {
		for _, sec := range secrets {
			for _, v := range sec.Versions {
				clear(v.Value)
			}
		}
	}()

	err := s.update(ctx, func(txn *badger.Txn) error {
		// A vault created since Import checked the store would be
		// overwritten, so the check is repeated inside the transaction.
		if keys := collectKeys(txn, []byte{prefixVault}); len(keys) > 0 {
			return fmt.Errorf("%w: a vault was created during the import", ErrStoreNotEmpty)
		}
		if err := putArchiveVaults(txn, vaults); err != nil {
			return err
		}
		for _, sec := range secrets {
			if err := putArchiveSecret(txn, ring, sec); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, badger.ErrTxnTooBig) {
		return err
	}

	s.log.Info("archive too large for one transaction, importing one secret at a time", "secrets", len(secrets))
	err = s.update(ctx, func(txn *badger.Txn) error { return putArchiveVaults(txn, vaults) })
	if err != nil {
		return err
	}
	for i, sec := range secrets {
		err := s.update(ctx, func(txn *badger.Txn) error { return putArchiveSecret(txn, ring, sec) })
		if err != nil {
			// The vaults and the secrets before this one stay written, so
			// the store is neither empty nor complete, and Import rejects
			// a second attempt into it.
			err = fmt.Errorf("secret %q in vault %q: %w; the import stopped after every vault and %d of %d secrets, so the store contains part of the archive", sec.Name, sec.Vault, err, i, len(secrets))
			if !s.removeOnFailedImport {
				err = fmt.Errorf("%w: remove its data directory and import again into a new data directory", err)
			}
			return err
		}
	}
	return nil
}

func putArchiveVaults(txn *badger.Txn, vaults []archiveVault) error {
	for _, v := range vaults {
		if err := txn.Set(vaultKey(v.Name), vaultRecord{Created: v.Created, Updated: v.Updated}.encode()); err != nil {
			return err
		}
	}
	return nil
}

// putArchiveSecret seals every version of an archived secret with the
// active data key: the current one into the secret record, the older ones
// under their version keys.
func putArchiveSecret(txn *badger.Txn, ring *keyring, sec archiveSecret) error {
	rec := secretRecord{Created: sec.Created, Updated: sec.Updated, Current: sec.Current, Oldest: sec.Versions[0].Version}
	for _, v := range sec.Versions {
		ver, err := sealVersion(ring, sec.Vault, sec.Name, v.Version, NewValue(v.Value), v.Created)
		if err != nil {
			return err
		}
		if v.Version == sec.Current {
			rec.Head = ver
			continue
		}
		if err := txn.Set(versionKey(sec.Vault, sec.Name, v.Version), ver.encode()); err != nil {
			return err
		}
	}
	return txn.Set(secretKey(sec.Vault, sec.Name), rec.encode())
}

// count returns n and noun, with an s for any number but one.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
