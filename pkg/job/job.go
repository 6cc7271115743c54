// Package job defines what the master asks of a minion and what the minion
// answers: jobs, signed with the master's Ed25519 NKey and verified by the
// minion before it runs anything, a guard against replayed jobs, and returns.
package job

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/brinecm/brine/pkg/keys"
)

// ClockSkew is how far the clocks of master and minion may disagree: a job
// stays valid until ClockSkew after it expires, and is valid from ClockSkew
// before it was issued.
const ClockSkew = 30 * time.Second

// Errors of Open and ReplayGuard.Check, one for each reason to refuse a job,
// to be tested with errors.Is.
var (
	ErrMalformed      = errors.New("malformed job")
	ErrUnsigned       = errors.New("unsigned job")
	ErrWrongSigner    = errors.New("job not signed by the trusted master")
	ErrBadSignature   = errors.New("bad job signature")
	ErrWrongMinion    = errors.New("job for another minion")
	ErrExpired        = errors.New("expired job")
	ErrIssuedInFuture = errors.New("job issued in the future")
	ErrReplayed       = errors.New("replayed job")
)

// Job is one function call for one minion, as the master publishes it.
type Job struct {
	JID     string          `json:"jid"`    // see NewJID
	Minion  string          `json:"minion"` // target minion id: a job for A is never valid on B
	Fun     string          `json:"fun"`
	Args    []any           `json:"args,omitempty"`
	Kwargs  map[string]any  `json:"kwargs,omitempty"`
	Lows    json.RawMessage `json:"lows,omitempty"` // compiled states for state.* functions (opaque here)
	Pillar  map[string]any  `json:"pillar,omitempty"`
	Issued  time.Time       `json:"issued"`
	Expires time.Time       `json:"expires"`
}

// Return is a minion's answer to a job.
type Return struct {
	JID      string          `json:"jid"`
	Minion   string          `json:"minion"`
	Fun      string          `json:"fun"`
	Return   json.RawMessage `json:"return"`  // the function's result as JSON (a result.Highstate for state.*)
	Retcode  int             `json:"retcode"` // 0 ok, 1 error or compile error, 2 a state failed (as brine call)
	Success  bool            `json:"success"`
	Error    string          `json:"error,omitempty"`
	Started  time.Time       `json:"started"`
	Finished time.Time       `json:"finished"`
	// Truncated is set when the minion cut long strings inside Return and
	// Error (each cut one ends in "...[truncated N bytes]") so that the
	// return fits in one bus message.
	Truncated bool `json:"truncated,omitempty"`
	// Origin says what started a job its minion ran on its own: "schedule"
	// (the minion's schedule), "drift" (a drift correction); "" for a job
	// the master sent. The master files a job with an origin in its job
	// cache when its return arrives.
	Origin string `json:"origin,omitempty"`
	// Highstate is set on the return of a state run that applied (or,
	// with Test, tested) the whole highstate, not some SLS files or a
	// drift correction's states.
	Highstate bool `json:"highstate,omitempty"`
	// Test is set on the return of a state run in test mode (test=True).
	Test bool `json:"test,omitempty"`
}

// Origins of jobs.
const (
	OriginSchedule = "schedule" // a minion's or the master's schedule
	OriginDrift    = "drift"    // a minion correcting drift
)

// ValidJID reports whether s may be a job id: 1 to 64 letters, digits,
// '_' or '-', so that it is a NATS subject token.
func ValidJID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// NewJID returns a new unique job id: Salt's time-based format
// (YYYYMMDDhhmmssffffff, in UTC) and a 64-bit random suffix that keeps
// ids made in the same microsecond (by several masters, or by one master
// compiling many minions' recipe calls at once) apart, as in
// "20261122031500123456_9f86d0817e2a44c1".
func NewJID(now time.Time) string {
	var suffix [8]byte
	rand.Read(suffix[:]) // never fails: crypto/rand aborts the program instead
	stamp := strings.Replace(now.UTC().Format("20060102150405.000000"), ".", "", 1)
	return stamp + "_" + hex.EncodeToString(suffix[:])
}

// check reports what makes j unfit to be signed or run.
func (j *Job) check() error {
	if !ValidJID(j.JID) {
		return fmt.Errorf("job id %q: want 1 to 64 letters, digits, '_' or '-'", clip(j.JID))
	}
	if err := keys.CheckID(j.Minion); err != nil {
		return fmt.Errorf("job %s: target: %w", j.JID, err)
	}
	if j.Fun == "" {
		return fmt.Errorf("job %s: no function", j.JID)
	}
	if j.Issued.IsZero() {
		return fmt.Errorf("job %s: no issue time", j.JID)
	}
	if !j.Expires.After(j.Issued) {
		return fmt.Errorf("job %s: expires at %s, not after its issue at %s", j.JID, j.Expires.Format(time.RFC3339), j.Issued.Format(time.RFC3339))
	}
	return nil
}

// expired reports whether j is past its expiry at now, skew allowed.
func (j *Job) expired(now time.Time) bool {
	return now.After(j.Expires.Add(ClockSkew))
}

// clip shortens untrusted text quoted in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Signed is a job as it travels: the exact payload bytes (the job's JSON) and
// the master's signature over them.
type Signed struct {
	Payload   []byte `json:"payload"`
	Signature []byte `json:"sig"`
	Signer    string `json:"signer"`
}

// Sign returns the JSON of a Signed holding j, signed with kp (the master's
// key). It refuses a job that Open would refuse whatever the time and minion.
func Sign(kp nkeys.KeyPair, j *Job) ([]byte, error) {
	if j == nil {
		return nil, errors.New("sign job: no job")
	}
	if err := j.check(); err != nil {
		return nil, fmt.Errorf("sign job: %w", err)
	}
	payload, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("sign job %s: %w", j.JID, err)
	}
	sig, err := kp.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("sign job %s: %w", j.JID, err)
	}
	signer, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("sign job %s: %w", j.JID, err)
	}
	return json.Marshal(Signed{Payload: payload, Signature: sig, Signer: signer})
}

// Open verifies data (as Sign makes it) against the trusted master public key
// and returns the job if it may run on minion at now. Each reason to refuse
// is a distinct error: ErrMalformed, ErrUnsigned, ErrWrongSigner,
// ErrBadSignature, ErrWrongMinion, ErrExpired, ErrIssuedInFuture. An invalid
// trusted key is a configuration error, none of these.
func Open(data []byte, trusted string, minion string, now time.Time) (*Job, error) {
	verifier, err := nkeys.FromPublicKey(trusted)
	if err != nil {
		return nil, fmt.Errorf("open job: trusted master key %q: %w", clip(trusted), err)
	}
	var s Signed
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(s.Signature) == 0 || s.Signer == "" {
		return nil, ErrUnsigned
	}
	if s.Signer != trusted {
		return nil, fmt.Errorf("%w: signed by %q", ErrWrongSigner, clip(s.Signer))
	}
	if err := verifier.Verify(s.Payload, s.Signature); err != nil {
		return nil, ErrBadSignature
	}
	j := new(Job)
	if err := json.Unmarshal(s.Payload, j); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := j.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if j.Minion != minion {
		return nil, fmt.Errorf("%w: job %s is for %s", ErrWrongMinion, j.JID, j.Minion)
	}
	if j.expired(now) {
		return nil, fmt.Errorf("%w: job %s expired at %s", ErrExpired, j.JID, j.Expires.Format(time.RFC3339))
	}
	if j.Issued.After(now.Add(ClockSkew)) {
		return nil, fmt.Errorf("%w: job %s issued at %s (check the clocks of master and minion)", ErrIssuedInFuture, j.JID, j.Issued.Format(time.RFC3339))
	}
	return j, nil
}
