// Package keys holds brine's minion identities: the master's key store, in
// which minion keys are pending, accepted, rejected or denied as with
// salt-key, and the Ed25519 NKey seed files of minions and master.
package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nkeys"
)

// State of a minion key on the master, as salt-key's.
type State string

// The states of a minion key. A pending key waits for an operator's decision;
// only an accepted key may do anything but ask to be accepted. A denied key is
// a second, different key presented for an id that already has one.
const (
	Pending  State = "pending"
	Accepted State = "accepted"
	Rejected State = "rejected"
	Denied   State = "denied"
)

// states lists every state in the order List sorts them (salt-key -L's order).
var states = [...]State{Accepted, Denied, Pending, Rejected}

// Key is one minion's public NKey (a "U..." user public key) and its state.
type Key struct {
	ID        string
	PublicKey string
	State     State
}

// Errors returned by the Store, to be tested with errors.Is.
var (
	ErrInvalidID  = errors.New("invalid minion id")
	ErrInvalidKey = errors.New("invalid minion public key")
	ErrKeyInUse   = errors.New("public key already belongs to another minion")
	// ErrTooManyPending refuses a new key while the store holds its limit
	// of pending keys.
	ErrTooManyPending = errors.New("too many pending keys")
	ErrNotFound       = errors.New("no such key")
)

// validID is what a minion id may look like: ids become file names and NATS
// subject tokens, so no dots first, no slashes, wildcards or spaces.
// (a regexp with {0,252} costs a millisecond to compile at every start).
func validID(id string) bool {
	if len(id) == 0 || len(id) > 253 || !isAlnum(id[0]) {
		return false
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// CheckID returns an error wrapping ErrInvalidID unless id is a valid minion id.
func CheckID(id string) error {
	if !validID(id) {
		return fmt.Errorf("%w %q: want 1 to 253 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalidID, clip(id))
	}
	return nil
}

// CheckPublicKey returns an error wrapping ErrInvalidKey unless publicKey is a
// user public NKey in its one canonical spelling (base32 decoding alone would
// also accept embedded line breaks, giving one key several names).
func CheckPublicKey(publicKey string) error {
	canonical := len(publicKey) == 56 && strings.Trim(publicKey, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == ""
	if !canonical || !nkeys.IsValidPublicUserKey(publicKey) {
		return fmt.Errorf("%w %q: want a user NKey (56 characters starting with U)", ErrInvalidKey, clip(publicKey))
	}
	return nil
}

// clip shortens untrusted text quoted in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Store is the master's key store on disk: <dir>/<state>/<id> holding the
// public key, like Salt's pki dir. It is safe for concurrent use; an in-memory
// index by public key makes Lookup O(1).
type Store struct {
	dir        string
	maxPending int // 0 = no limit

	mu       sync.RWMutex
	byID     map[string]Key // pending, accepted and rejected keys
	denied   map[string]Key // the last denied key of each id
	byKey    map[string]Key // every key, by public key
	watchers []func(k Key, old, new State)

	// notify is held while watchers run, taken before mu is released, so
	// watchers see changes in the order they were made and may read the store.
	notify sync.Mutex
}

// change is one transition of one key, for the watchers.
type change struct {
	key      Key
	old, new State
}

// OpenStore opens (creating it if need be) the key store in dir and loads every key.
func OpenStore(dir string) (*Store, error) {
	s := &Store{
		dir:    dir,
		byID:   map[string]Key{},
		denied: map[string]Key{},
		byKey:  map[string]Key{},
	}
	for _, st := range states {
		if err := os.MkdirAll(s.stateDir(st), 0o700); err != nil {
			return nil, fmt.Errorf("open key store: %w", err)
		}
	}
	for _, st := range states {
		if err := s.load(st); err != nil {
			return nil, fmt.Errorf("open key store %s: %w", dir, err)
		}
	}
	return s, nil
}

// load reads every key file of one state directory into the indexes.
func (s *Store) load(st State) error {
	entries, err := os.ReadDir(s.stateDir(st))
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(s.stateDir(st), name)
		if strings.HasPrefix(name, ".") {
			continue // a temporary file left by a crash during a write
		}
		if !e.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", path)
		}
		if err := CheckID(name); err != nil {
			return fmt.Errorf("%s: file name: %w", path, err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		k := Key{ID: name, PublicKey: strings.TrimSpace(string(data)), State: st}
		if err := CheckPublicKey(k.PublicKey); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if other, ok := s.byKey[k.PublicKey]; ok {
			return fmt.Errorf("%s: %w: same key as %s", path, ErrKeyInUse, s.path(other))
		}
		if st == Denied {
			if main, ok := s.byID[name]; ok && main.PublicKey == k.PublicKey {
				return fmt.Errorf("%s: same key as %s", path, s.path(main))
			}
			s.denied[name] = k
		} else {
			if other, ok := s.byID[name]; ok {
				return fmt.Errorf("%s: minion also has a key in %s", path, s.path(other))
			}
			s.byID[name] = k
		}
		s.byKey[k.PublicKey] = k
	}
	return nil
}

func (s *Store) stateDir(st State) string { return filepath.Join(s.dir, string(st)) }

func (s *Store) path(k Key) string { return filepath.Join(s.dir, string(k.State), k.ID) }

// Submit records a minion's request to be accepted: a new id lands in
// pending; a known id with the same key keeps its state; a known id (in any
// state) with a different key lands in denied, replacing any earlier denied
// key of that id, while its accepted, pending or rejected key stays as it is.
// It returns the state of the submitted key. A key that already belongs to
// another id is refused with ErrKeyInUse: a key names exactly one minion.
func (s *Store) Submit(id, publicKey string) (State, error) {
	if err := CheckID(id); err != nil {
		return "", fmt.Errorf("submit key: %w", err)
	}
	if err := CheckPublicKey(publicKey); err != nil {
		return "", fmt.Errorf("submit key of %s: %w", id, err)
	}
	s.mu.Lock()
	if k, ok := s.byKey[publicKey]; ok {
		s.mu.Unlock()
		if k.ID != id {
			return "", fmt.Errorf("submit key of %s: %w %s (delete that key first)", id, ErrKeyInUse, k.ID)
		}
		return k.State, nil
	}
	_, known := s.byID[id]
	oldDenied, wasDenied := s.denied[id]
	k := Key{ID: id, PublicKey: publicKey, State: Pending}
	if known || wasDenied {
		k.State = Denied
	}
	if k.State == Pending && s.maxPending > 0 && s.countPending() >= s.maxPending {
		s.mu.Unlock()
		return "", fmt.Errorf("submit key of %s: %w (%d): accept, reject or delete some (brine key list)", id, ErrTooManyPending, s.maxPending)
	}
	if err := writeFileAtomic(s.path(k), []byte(publicKey+"\n")); err != nil {
		s.mu.Unlock()
		return "", fmt.Errorf("submit key of %s: %w", id, err)
	}
	var changes []change
	if k.State == Denied {
		if wasDenied {
			delete(s.byKey, oldDenied.PublicKey)
			changes = append(changes, change{Key{ID: id, PublicKey: oldDenied.PublicKey}, Denied, ""})
		}
		s.denied[id] = k
	} else {
		s.byID[id] = k
	}
	s.byKey[publicKey] = k
	changes = append(changes, change{k, "", k.State})
	s.unlockNotify(changes)
	return k.State, nil
}

// LimitPending makes Submit refuse new keys while n keys are pending
// (0: no limit), so that a flood of key requests cannot fill the store.
func (s *Store) LimitPending(n int) {
	s.mu.Lock()
	s.maxPending = n
	s.mu.Unlock()
}

// countPending counts the pending keys; s.mu is held.
func (s *Store) countPending() int {
	n := 0
	for _, k := range s.byID {
		if k.State == Pending {
			n++
		}
	}
	return n
}

// Lookup finds a key by public key (denied keys included).
func (s *Store) Lookup(publicKey string) (Key, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.byKey[publicKey]
	return k, ok
}

// Get finds the accepted, pending or rejected key of an id (not a denied one).
func (s *Store) Get(id string) (Key, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.byID[id]
	return k, ok
}

// List returns every key, sorted by state (accepted, denied, pending,
// rejected, as salt-key -L shows them) then id.
func (s *Store) List() []Key {
	s.mu.RLock()
	out := make([]Key, 0, len(s.byKey))
	for _, k := range s.byKey {
		out = append(out, k)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Key) int {
		if c := strings.Compare(string(a.State), string(b.State)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Accept moves a pending or rejected key to accepted. Accepting an accepted
// key does nothing; an id without such a key (none, or only a denied one) is
// ErrNotFound.
func (s *Store) Accept(id string) error {
	if err := s.transition(id, Accepted, Pending, Rejected); err != nil {
		return fmt.Errorf("accept key of %s: %w", id, err)
	}
	return nil
}

// AcceptAll accepts every pending key and returns their ids, sorted. On error
// it returns the ids accepted so far.
func (s *Store) AcceptAll() ([]string, error) {
	s.mu.Lock()
	var ids []string
	for id, k := range s.byID {
		if k.State == Pending {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var changes []change
	var err error
	for i, id := range ids {
		var ch change
		if ch, err = s.move(id, Accepted, Pending); err != nil {
			ids = ids[:i]
			break
		}
		changes = append(changes, ch)
	}
	if len(changes) > 0 {
		err = errors.Join(err, syncDirs(s.stateDir(Accepted), s.stateDir(Pending)))
	}
	s.unlockNotify(changes)
	if err != nil {
		return ids, fmt.Errorf("accept all keys: %w", err)
	}
	return ids, nil
}

// Reject moves a pending or accepted key to rejected. Rejecting a rejected
// key does nothing; an id without such a key is ErrNotFound.
func (s *Store) Reject(id string) error {
	if err := s.transition(id, Rejected, Pending, Accepted); err != nil {
		return fmt.Errorf("reject key of %s: %w", id, err)
	}
	return nil
}

// transition moves the key of id from one of the states from to state to,
// durably, and tells the watchers.
func (s *Store) transition(id string, to State, from ...State) error {
	s.mu.Lock()
	ch, err := s.move(id, to, from...)
	if err == nil && ch.old != "" {
		err = syncDirs(s.stateDir(to), s.stateDir(ch.old))
	}
	s.unlockNotify(ch.list())
	return err
}

// move renames the key file of id from one of the states from to state to and
// updates the indexes. It returns the zero change if the key is in to already.
// The caller holds s.mu.
func (s *Store) move(id string, to State, from ...State) (change, error) {
	k, ok := s.byID[id]
	if ok && k.State == to {
		return change{}, nil
	}
	if !ok || !slices.Contains(from, k.State) {
		return change{}, fmt.Errorf("%w: no %s key", ErrNotFound, joinStates(from))
	}
	moved := Key{ID: id, PublicKey: k.PublicKey, State: to}
	if err := os.Rename(s.path(k), s.path(moved)); err != nil {
		return change{}, err
	}
	s.byID[id] = moved
	s.byKey[k.PublicKey] = moved
	return change{moved, k.State, to}, nil
}

func joinStates(sts []State) string {
	parts := make([]string, len(sts))
	for i, st := range sts {
		parts[i] = string(st)
	}
	return strings.Join(parts, " or ")
}

// list returns c as a list of changes, empty for the zero change.
func (c change) list() []change {
	if c.new == "" && c.old == "" {
		return nil
	}
	return []change{c}
}

// Delete removes every key of the id, in every state. An unknown id is ErrNotFound.
func (s *Store) Delete(id string) error {
	s.mu.Lock()
	var found []Key
	if k, ok := s.byID[id]; ok {
		found = append(found, k)
	}
	if k, ok := s.denied[id]; ok {
		found = append(found, k)
	}
	var changes []change
	var err error
	for _, k := range found {
		if err = os.Remove(s.path(k)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			break
		}
		err = nil
		if k.State == Denied {
			delete(s.denied, id)
		} else {
			delete(s.byID, id)
		}
		delete(s.byKey, k.PublicKey)
		changes = append(changes, change{Key{ID: id, PublicKey: k.PublicKey}, k.State, ""})
	}
	if len(found) == 0 {
		err = ErrNotFound
	}
	s.unlockNotify(changes)
	if err != nil {
		return fmt.Errorf("delete keys of %s: %w", id, err)
	}
	return nil
}

// Watch registers fn to be called after every change of a key: old is "" for
// a new key, new is "" for a deleted one, and k.State is always new. Calls
// come one at a time, in the order of the changes; fn may read the store but
// must not change it.
func (s *Store) Watch(fn func(k Key, old, new State)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = append(s.watchers, fn)
}

// unlockNotify releases s.mu (held for writing) and calls the watchers with
// changes. Taking s.notify before releasing s.mu keeps the order of changes.
func (s *Store) unlockNotify(changes []change) {
	if len(changes) == 0 {
		s.mu.Unlock()
		return
	}
	watchers := slices.Clone(s.watchers)
	s.notify.Lock()
	defer s.notify.Unlock()
	s.mu.Unlock()
	for _, c := range changes {
		for _, fn := range watchers {
			fn(c.key, c.old, c.new)
		}
	}
}

// Set makes k the key of its id in its state, as another master's store
// holds it (keys replicated between masters): it replaces the id's key of
// the same slot (its denied key for a denied k, else its accepted, pending
// or rejected one) whatever its state, without the checks of Submit and
// Accept, and tells the watchers. Setting a key as it is does nothing.
func (s *Store) Set(k Key) error {
	if err := CheckID(k.ID); err != nil {
		return fmt.Errorf("set key: %w", err)
	}
	if err := CheckPublicKey(k.PublicKey); err != nil {
		return fmt.Errorf("set key of %s: %w", k.ID, err)
	}
	if !slices.Contains(states[:], k.State) {
		return fmt.Errorf("set key of %s: unknown state %q", k.ID, k.State)
	}
	s.mu.Lock()
	slot := s.byID
	if k.State == Denied {
		slot = s.denied
	}
	old, had := slot[k.ID]
	if had && old == k {
		s.mu.Unlock()
		return nil
	}
	if other, ok := s.byKey[k.PublicKey]; ok && (other.ID != k.ID || (other.State == Denied) != (k.State == Denied)) {
		s.mu.Unlock()
		return fmt.Errorf("set key of %s: %w %s", k.ID, ErrKeyInUse, other.ID)
	}
	if err := writeFileAtomic(s.path(k), []byte(k.PublicKey+"\n")); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("set key of %s: %w", k.ID, err)
	}
	var changes []change
	if had {
		if old.State != k.State {
			if err := os.Remove(s.path(old)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.mu.Unlock()
				return fmt.Errorf("set key of %s: %w", k.ID, err)
			}
		}
		if old.PublicKey != k.PublicKey {
			delete(s.byKey, old.PublicKey)
			changes = append(changes, change{Key{ID: k.ID, PublicKey: old.PublicKey}, old.State, ""})
			old, had = Key{}, false
		}
	}
	slot[k.ID] = k
	s.byKey[k.PublicKey] = k
	from := State("")
	if had {
		from = old.State
	}
	changes = append(changes, change{k, from, k.State})
	s.unlockNotify(changes)
	return nil
}

// Unset removes the key of id from one slot: its denied key when denied is
// true, else its accepted, pending or rejected key; a missing key is no
// error. The watchers hear of it as of a deletion.
func (s *Store) Unset(id string, denied bool) error {
	s.mu.Lock()
	slot := s.byID
	if denied {
		slot = s.denied
	}
	k, ok := slot[id]
	if !ok {
		s.mu.Unlock()
		return nil
	}
	if err := os.Remove(s.path(k)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.mu.Unlock()
		return fmt.Errorf("remove key of %s: %w", id, err)
	}
	delete(slot, id)
	delete(s.byKey, k.PublicKey)
	s.unlockNotify([]change{{Key{ID: id, PublicKey: k.PublicKey}, k.State, ""}})
	return nil
}
