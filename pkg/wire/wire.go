// Package wire defines the messages master and minions exchange on the bus
// besides jobs and returns (see pkg/job): key requests, file server
// requests, events and grains. Every message is JSON.
package wire

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nkeys"
)

// AuthRequest is a minion asking to be accepted, on bus.AuthSubject(id).
// The signature over AuthMessage proves the minion holds the key it
// submits, so nobody can file another minion's key under their own id.
type AuthRequest struct {
	ID        string `json:"id"`
	PublicKey string `json:"public_key"`
	Signature []byte `json:"sig"`
}

// AuthMessage is the text an AuthRequest signs.
func AuthMessage(id, publicKey string) []byte {
	return []byte("brine-auth:" + id + ":" + publicKey)
}

// NewAuthRequest signs an AuthRequest for id with kp.
func NewAuthRequest(id string, kp nkeys.KeyPair) ([]byte, error) {
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("auth request: %w", err)
	}
	sig, err := kp.Sign(AuthMessage(id, pub))
	if err != nil {
		return nil, fmt.Errorf("auth request: sign: %w", err)
	}
	return json.Marshal(AuthRequest{ID: id, PublicKey: pub, Signature: sig})
}

// Verify checks the request's signature and that it is for id.
func (r *AuthRequest) Verify(id string) error {
	if r.ID != id {
		return fmt.Errorf("auth request for %q arrived on the subject of %q", r.ID, id)
	}
	kp, err := nkeys.FromPublicKey(r.PublicKey)
	if err != nil {
		return fmt.Errorf("auth request from %s: bad public key: %w", id, err)
	}
	if err := kp.Verify(AuthMessage(r.ID, r.PublicKey), r.Signature); err != nil {
		return fmt.Errorf("auth request from %s: bad signature: %w", id, err)
	}
	return nil
}

// File server operations.
const (
	OpMasterKey = "master_key" // the master's job signing public key
	OpRead      = "read"       // a file of the state tree
	// OpList lists one directory of the state tree (Path; "" or "." is
	// its top), merged over the master's file roots as reads are: the
	// answer's Entries, at most MaxListEntries of them.
	OpList = "list"
	// OpCompile asks the master to compile a state run (Fun, Args,
	// Kwargs: state.highstate, state.apply, state.sls) for the requesting
	// minion; the answer's Data is the job, signed as the master signs
	// jobs, which the minion may keep and apply again offline.
	OpCompile = "compile"
)

// FileRequest is a minion's request on bus.FileSubject(id).
type FileRequest struct {
	Op   string `json:"op"`
	Path string `json:"path,omitempty"` // relative to the state tree root, for OpRead and OpList
	// Saltenv is the environment whose state tree OpRead and OpList read
	// ("" is base); the master answers an environment it does not serve
	// with an Error naming those it does.
	Saltenv string `json:"saltenv,omitempty"`
	// Fun, Args and Kwargs are the state run OpCompile compiles.
	Fun    string         `json:"fun,omitempty"`
	Args   []any          `json:"args,omitempty"`
	Kwargs map[string]any `json:"kwargs,omitempty"`
}

// RateLimited starts the Error of a FileResponse that refuses a request
// for the requesting minion's rate: the request may be made again shortly.
const RateLimited = "rate limited: "

// FileResponse is the master's answer to a FileRequest.
type FileResponse struct {
	Data      []byte `json:"data,omitempty"`
	PublicKey string `json:"public_key,omitempty"`
	NotFound  bool   `json:"not_found,omitempty"`
	Error     string `json:"error,omitempty"`
	// CompileErrors are an OpCompile's errors when the recipe does not
	// compile (Error then says so).
	CompileErrors []string `json:"compile_errors,omitempty"`
	// Entries are an OpList's directory entries, sorted by name.
	Entries []FileEntry `json:"entries,omitempty"`
}

// MaxListEntries is the most entries an OpList answer carries; a larger
// directory is refused with an error saying so.
const MaxListEntries = 2048

// FileEntry is one entry of a state tree directory (OpList).
type FileEntry struct {
	Name string `json:"name"` // the entry's name in its directory
	Dir  bool   `json:"dir,omitempty"`
	// Mode is the entry's Unix permission bits, with setuid, setgid and
	// sticky (07777): what file.managed's mode: keep gives a copy.
	Mode uint32 `json:"mode"`
}

// Event tags.
const (
	TagStart       = "start"        // a minion started (data: version)
	TagJobStarted  = "job.started"  // a minion began a job (data: jid, fun)
	TagJobRejected = "job.rejected" // a minion refused a job (data: jid if known, reason)
	TagStateFailed = "state.failed" // a state run had failures (data: jid, failed state keys)
	TagJobNew      = "job.new"      // master: a job was published
	TagJobReturn   = "job.ret"      // master: a return arrived
	TagKey         = "key"          // master: a key changed state (data: id, state)

	TagDriftDetected  = "drift/detected"  // a minion saw managed states drift (data: drift.Detected)
	TagDriftCorrected = "drift/corrected" // a minion re-applied drifted states (data: drift.Corrected)
	TagDriftFlapping  = "drift/flapping"  // a minion left a state that keeps drifting alone (data: drift.Flapping)
)

// Event is one message on the event bus, bus.EventSubject(source, tag).
type Event struct {
	Tag    string         `json:"tag"`
	Source string         `json:"source"`
	Time   time.Time      `json:"time"`
	Data   map[string]any `json:"data,omitempty"`
}
