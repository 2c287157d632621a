package seal

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Per-organization data keys are Tink keysets of AES-256-GCM keys
// (SECURITY.md §3). Each keyset is stored wrapped (encrypted) with a key
// derived from the master key, its associated data naming the
// organization, so that a keyset copied to another organization's row does
// not unwrap. The organization "" holds the instance keyset, for values
// that belong to no organization (users' TOTP seeds).

// ErrNoKeyset is returned when an organization has no data keys.
var ErrNoKeyset = errors.New("seal: the organization has no data keys")

// ErrUnwrap is returned when a stored keyset does not unwrap: the master
// key is not the one the keysets were written with, or the row was moved
// or damaged.
var ErrUnwrap = errors.New("seal: a stored data keyset does not unwrap with this master key")

// Stored is an organization's keyset as persisted: wrapped by the
// master-derived key. Generation grows with every change (rotation,
// disabling keys), so a process holding an older copy knows to reload.
type Stored struct {
	OrgID      string
	Wrapped    []byte
	Generation int64
}

// Loader reads an organization's stored keyset; (nil, nil) when there is none.
type Loader func(ctx context.Context, orgID string) (*Stored, error)

// KeyInfo describes one key of a keyset (no key material).
type KeyInfo struct {
	ID      uint32
	Primary bool
	Enabled bool
}

type orgKeyset struct {
	handle     *keyset.Handle
	prim       tink.AEAD
	primary    uint32
	keys       map[uint32]bool // key ID → enabled
	generation int64
	loadedAt   time.Time
}

// wrapAEAD is the key-encryption key of the keysets: AES-256-GCM with a
// random nonce, under a key derived from the master key.
type wrapAEAD struct{ a cipher.AEAD }

func newWrapAEAD(fieldKey []byte) *wrapAEAD {
	k, err := hkdf.Key(sha256.New, fieldKey, nil, "keyset-wrap", 32)
	if err != nil {
		panic(err) // fixed sizes: cannot fail
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		panic(err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &wrapAEAD{a: a}
}

func (w *wrapAEAD) Encrypt(pt, ad []byte) ([]byte, error) {
	out := make([]byte, w.a.NonceSize(), w.a.NonceSize()+len(pt)+w.a.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return w.a.Seal(out, out, pt, ad), nil
}

func (w *wrapAEAD) Decrypt(ct, ad []byte) ([]byte, error) {
	n := w.a.NonceSize()
	if len(ct) < n+w.a.Overhead() {
		return nil, ErrUnwrap
	}
	pt, err := w.a.Open(nil, ct[:n], ct[n:], ad)
	if err != nil {
		return nil, ErrUnwrap
	}
	return pt, nil
}

func keysetAD(orgID string) []byte { return []byte("credtrack-keyset-v1\x00" + orgID) }

func (s *Sealer) wrap(orgID string, h *keyset.Handle, generation int64) (*Stored, error) {
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), s.kek, keysetAD(orgID)); err != nil {
		return nil, fmt.Errorf("seal: wrap keyset: %w", err)
	}
	return &Stored{OrgID: orgID, Wrapped: buf.Bytes(), Generation: generation}, nil
}

func (s *Sealer) unwrap(st *Stored) (*orgKeyset, error) {
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(st.Wrapped)), s.kek, keysetAD(st.OrgID))
	if err != nil {
		return nil, fmt.Errorf("%w (organization %q)", ErrUnwrap, st.OrgID)
	}
	prim, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("seal: keyset of organization %q: %w", st.OrgID, err)
	}
	ks := &orgKeyset{handle: h, prim: prim, keys: map[uint32]bool{}, generation: st.Generation, loadedAt: time.Now()}
	info := h.KeysetInfo()
	ks.primary = info.GetPrimaryKeyId()
	for _, k := range info.GetKeyInfo() {
		ks.keys[k.GetKeyId()] = k.GetStatus() == tinkpb.KeyStatusType_ENABLED
	}
	return ks, nil
}

// NewKeyset creates an organization's keyset with one AES-256-GCM key as
// its primary, installs it and returns it wrapped for storage.
func (s *Sealer) NewKeyset(orgID string) (*Stored, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, err
	}
	st, err := s.wrap(orgID, h, 1)
	if err != nil {
		return nil, err
	}
	return st, s.Install(st)
}

// Install unwraps a stored keyset and makes it the organization's current
// one unless a newer generation is installed already. It is the canary for
// the keysets: a wrong master key gives ErrUnwrap.
func (s *Sealer) Install(st *Stored) error {
	ks, err := s.unwrap(st)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.orgs[st.OrgID]; ok && cur.generation > st.Generation {
		return nil
	}
	s.orgs[st.OrgID] = ks
	return nil
}

// Rotate adds a new AES-256-GCM key to a stored keyset and makes it the
// primary: new values are sealed with it, values under the older keys
// still open. It returns the new stored keyset (not yet installed) and the
// new key's ID.
func (s *Sealer) Rotate(st *Stored) (*Stored, uint32, error) {
	ks, err := s.unwrap(st)
	if err != nil {
		return nil, 0, err
	}
	m := keyset.NewManagerFromHandle(ks.handle)
	id, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, 0, err
	}
	if err := m.SetPrimary(id); err != nil {
		return nil, 0, err
	}
	h, err := m.Handle()
	if err != nil {
		return nil, 0, err
	}
	out, err := s.wrap(st.OrgID, h, st.Generation+1)
	return out, id, err
}

// DisableOld disables every enabled key of a stored keyset except the
// primary, once no value depends on them any more. Disabled keys stay in
// the keyset (an operator could re-enable one) but open nothing. It
// returns the new stored keyset and the IDs it disabled.
func (s *Sealer) DisableOld(st *Stored) (*Stored, []uint32, error) {
	ks, err := s.unwrap(st)
	if err != nil {
		return nil, nil, err
	}
	m := keyset.NewManagerFromHandle(ks.handle)
	var off []uint32
	for id, enabled := range ks.keys {
		if id != ks.primary && enabled {
			if err := m.Disable(id); err != nil {
				return nil, nil, err
			}
			off = append(off, id)
		}
	}
	if len(off) == 0 {
		return st, nil, nil
	}
	h, err := m.Handle()
	if err != nil {
		return nil, nil, err
	}
	out, err := s.wrap(st.OrgID, h, st.Generation+1)
	return out, off, err
}

// Keys lists the keys of a stored keyset.
func (s *Sealer) Keys(st *Stored) ([]KeyInfo, error) {
	ks, err := s.unwrap(st)
	if err != nil {
		return nil, err
	}
	var out []KeyInfo
	for _, k := range ks.handle.KeysetInfo().GetKeyInfo() {
		out = append(out, KeyInfo{ID: k.GetKeyId(), Primary: k.GetKeyId() == ks.primary, Enabled: ks.keys[k.GetKeyId()]})
	}
	return out, nil
}

// SetLoader lets the Sealer fetch keysets it does not hold (an
// organization created by another process) and refresh the ones it holds
// when they are older than ttl, so that a rotation made by another process
// (`credtrack keys rotate` next to a running server) is picked up: values
// sealed with the new key open at once (an unknown key ID triggers a
// reload), and new values are sealed with the new primary within ttl.
func (s *Sealer) SetLoader(l Loader, ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loader, s.ttl = l, ttl
}

// keyset returns the organization's keyset, loading it when it is missing
// or (refresh) older than the TTL.
func (s *Sealer) keyset(orgID string, refresh bool) (*orgKeyset, error) {
	s.mu.Lock()
	ks, ok := s.orgs[orgID]
	loader := s.loader
	fresh := ok && (!refresh || loader == nil || time.Since(ks.loadedAt) < s.ttl)
	s.mu.Unlock()
	if fresh {
		return ks, nil
	}
	if loader == nil {
		return nil, ErrNoKeyset
	}
	// Loading may use a second database connection while the caller holds
	// one in a transaction: bound it, and fall back to the copy held.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := loader(ctx, orgID)
	if err != nil || st == nil {
		if ok {
			s.mu.Lock()
			ks.loadedAt = time.Now() // retry after another TTL, not on every call
			s.mu.Unlock()
			return ks, nil
		}
		if err != nil {
			return nil, err
		}
		return nil, ErrNoKeyset
	}
	if err := s.Install(st); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ks = s.orgs[orgID]
	ks.loadedAt = time.Now()
	return ks, nil
}

// keyID returns the Tink key ID a version-2 ciphertext was sealed with.
func keyID(ciphertext []byte) (uint32, bool) {
	// version byte, then Tink's output prefix: 0x01 and the 4-byte key ID.
	if len(ciphertext) < 6 || ciphertext[0] != version2 || ciphertext[1] != 1 {
		return 0, false
	}
	return binary.BigEndian.Uint32(ciphertext[2:6]), true
}

// IsCurrent reports whether a sealed value is under the organization's
// current primary key (as held by this Sealer), so a re-encryption pass
// can skip it. Empty values are current.
func (s *Sealer) IsCurrent(orgID string, ciphertext []byte) bool {
	if len(ciphertext) == 0 {
		return true
	}
	id, ok := keyID(ciphertext)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ks, found := s.orgs[orgID]
	return found && ks.primary == id
}

// Primary returns the ID of the organization's current primary key as held
// by this Sealer.
func (s *Sealer) Primary(orgID string) (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks, ok := s.orgs[orgID]
	if !ok {
		return 0, false
	}
	return ks.primary, true
}
