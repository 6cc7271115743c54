// Package bus is brine's NATS wiring: the embedded nats-server with
// JetStream, NKey authentication with per-minion subject permissions that the
// server enforces, the streams and consumers that carry jobs, returns and
// events, TLS with a master CA that minions pin on first contact, and the
// client connection helper used by minions and masters.
//
// Every subject, stream and consumer name brine uses lives in this file.
//
// A minion id appears in subjects as a single NATS token: the dots of an id
// such as "web1.example.com" are written as '~' ("brine.job.web1~example~com"),
// so that one minion's wildcard permissions can never cover another minion's
// subjects. ValidID says which ids are usable.
package bus

import (
	"fmt"
	"strings"
)

// Stream, consumer and bucket names.
const (
	JobStream    = "BRINE_JOBS"    // jobs waiting for their minion (brine.job.>)
	ReturnStream = "BRINE_RETURNS" // the job cache (brine.ret.>)
	EventStream  = "BRINE_EVENTS"  // minion and master events as the master logged them (brine.events.>)
	GrainsBucket = "BRINE_GRAINS"  // key-value bucket: latest grains per minion
)

// MasterID is the connection name of a master and the id in master-side event
// subjects; no minion may use it.
const MasterID = "master"

// Wildcard subjects a master subscribes to.
const (
	AllJobs    = "brine.job.>"
	AllReturns = "brine.ret.>"
	AllEvents  = "brine.event.*.>"  // events as minions emit them
	AllLogged  = "brine.events.*.>" // events as the master checked and logged them
	AllGrains  = "brine.grains.*"
	AllFiles   = "brine.fs.*"
	AllAuth    = "brine.auth.*"
)

const (
	prefixJob     = "brine.job."
	prefixDeliver = "brine.deliver."
	prefixReturn  = "brine.ret."
	prefixEvent   = "brine.event."
	prefixLogged  = "brine.events."
	prefixGrains  = "brine.grains."
	prefixFile    = "brine.fs."
	prefixAuth    = "brine.auth."
	prefixInbox   = "_INBOX_"
	prefixJoin    = "brine.join."
	prefixCons    = "minion_"
	maxIDLen      = 128
	maxTagLen     = 64
	idDotInToken  = '~'
)

// ValidID reports whether id can name a minion on the bus: 1 to 128
// characters among ASCII letters, digits, '.', '-' and '_', starting with a
// letter or digit, with no empty dot-separated label, and not MasterID.
func ValidID(id string) error {
	if id == "" {
		return fmt.Errorf("minion id is empty")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("minion id %.20q... is longer than %d characters", id, maxIDLen)
	}
	if id == MasterID {
		return fmt.Errorf("minion id %q is reserved for the master", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_':
			if i == 0 {
				return fmt.Errorf("minion id %q must start with a letter or a digit", id)
			}
		case c == '.':
			if i == 0 || i == len(id)-1 || id[i-1] == '.' {
				return fmt.Errorf("minion id %q has an empty label", id)
			}
		default:
			return fmt.Errorf("minion id %q: character %q is not allowed (letters, digits, '.', '-', '_')", id, c)
		}
	}
	return nil
}

// token writes id as one subject token.
func token(id string) string {
	return strings.ReplaceAll(id, ".", string(idDotInToken))
}

// untoken reverses token.
func untoken(tok string) string {
	return strings.ReplaceAll(tok, string(idDotInToken), ".")
}

// JobSubject is where the master publishes jobs for minion id: brine.job.<id>.
func JobSubject(id string) string { return prefixJob + token(id) }

// DeliverSubject is where the minion's durable consumer pushes its jobs: brine.deliver.<id>.
func DeliverSubject(id string) string { return prefixDeliver + token(id) }

// ReturnSubject is where minion id publishes its return for job jid: brine.ret.<jid>.<id>.
func ReturnSubject(jid, id string) string { return prefixReturn + jid + "." + token(id) }

// ReturnsFor matches every minion's return for job jid: brine.ret.<jid>.*.
func ReturnsFor(jid string) string { return prefixReturn + jid + ".*" }

// EventSubject is where minion id emits events: brine.event.<id>.<tag>.
// The tag may have several dot-separated tokens. Nothing reads this
// subject but the master, which checks each event, limits each minion's
// rate and logs it on LoggedEventSubject.
func EventSubject(id, tag string) string { return prefixEvent + token(id) + "." + tag }

// LoggedEventSubject is where the master logs an event of minion id (or
// its own, with MasterID) after checking it: brine.events.<id>.<tag>. The
// event stream keeps these, and only a master may publish them, so the
// source and tag of a logged event are the ones its subject names.
func LoggedEventSubject(id, tag string) string { return prefixLogged + token(id) + "." + tag }

// ValidTag reports whether tag can name an event: 1 to 64 characters among
// ASCII letters, digits, '-', '_' and '/', in dot-separated tokens none of
// which is empty.
func ValidTag(tag string) error {
	if tag == "" || len(tag) > maxTagLen {
		return fmt.Errorf("event tag %.20q: 1 to %d characters", tag, maxTagLen)
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '/':
		case c == '.':
			if i == 0 || i == len(tag)-1 || tag[i-1] == '.' {
				return fmt.Errorf("event tag %q has an empty token", tag)
			}
		default:
			return fmt.Errorf("event tag %q: character %q is not allowed", tag, c)
		}
	}
	return nil
}

// GrainsSubject is where minion id publishes its grains: brine.grains.<id>.
func GrainsSubject(id string) string { return prefixGrains + token(id) }

// FileSubject is where minion id requests files from the master's file server: brine.fs.<id>.
func FileSubject(id string) string { return prefixFile + token(id) }

// AuthSubject is where a minion whose key is not accepted asks to be: brine.auth.<id>.
func AuthSubject(id string) string { return prefixAuth + token(id) }

// InboxPrefix is minion id's inbox prefix for request/reply: _INBOX_<id>.
func InboxPrefix(id string) string { return prefixInbox + token(id) }

// OwnInbox reports whether a master-side handler may answer minion id's
// request on reply: a reply the server made for a request that crossed
// from the minions' account (it leads back to the requester alone), or one
// in id's own inbox. A reply subject is chosen freely by the requester and
// the server does not check it, so a handler answering elsewhere would
// publish there with the master's rights.
func OwnInbox(id, reply string) bool {
	rest, ok := strings.CutPrefix(reply, InboxPrefix(id)+".")
	if !ok {
		rest, ok = strings.CutPrefix(reply, serviceReplyPrefix)
	}
	return ok && rest != "" && len(reply) <= maxReplyLen && !strings.ContainsAny(rest, " \t\r\n*>")
}

// serviceReplyPrefix starts the reply subjects the server makes for
// requests that cross accounts.
const serviceReplyPrefix = "_R_."

// maxReplyLen bounds the reply subjects a master answers on.
const maxReplyLen = 256

// ConsumerName is the name of minion id's durable job consumer: minion_<id>.
func ConsumerName(id string) string { return prefixCons + token(id) }

// GrainsKey is minion id's key in the GrainsBucket.
func GrainsKey(id string) string { return token(id) }

// GrainsKeyID is the minion id of a GrainsBucket key, if it names one.
func GrainsKeyID(key string) (string, bool) {
	id := untoken(key)
	return id, !strings.Contains(key, ".") && ValidID(id) == nil
}

// ackAll matches the acknowledgements of every minion's jobs.
const ackAll = "$JS.ACK." + JobStream + ".>"

// ackPrefix is the subject prefix of acknowledgements for minion id's jobs.
func ackPrefix(id string) string { return "$JS.ACK." + JobStream + "." + ConsumerName(id) + "." }

// SubjectID returns the minion id at the end of a job, deliver, grains,
// file or auth subject, as received on the matching wildcard subscription.
func SubjectID(subject string) (string, bool) {
	for _, p := range []string{prefixGrains, prefixFile, prefixAuth, prefixJob, prefixDeliver} {
		if tok, ok := strings.CutPrefix(subject, p); ok && tok != "" && !strings.Contains(tok, ".") {
			return untoken(tok), true
		}
	}
	return "", false
}

// ParseReturnSubject splits brine.ret.<jid>.<id> into the job id and the minion id.
func ParseReturnSubject(subject string) (jid, id string, ok bool) {
	rest, ok := strings.CutPrefix(subject, prefixReturn)
	if !ok {
		return "", "", false
	}
	jid, tok, ok := strings.Cut(rest, ".")
	if !ok || jid == "" || tok == "" || strings.Contains(tok, ".") {
		return "", "", false
	}
	return jid, untoken(tok), true
}

// ParseEventSubject splits brine.event.<id>.<tag> into the minion id and
// the tag.
func ParseEventSubject(subject string) (id, tag string, ok bool) {
	return parseEvent(prefixEvent, subject)
}

// ParseLoggedEventSubject splits brine.events.<id>.<tag> into the minion
// id (or MasterID) and the tag.
func ParseLoggedEventSubject(subject string) (id, tag string, ok bool) {
	return parseEvent(prefixLogged, subject)
}

func parseEvent(prefix, subject string) (id, tag string, ok bool) {
	rest, ok := strings.CutPrefix(subject, prefix)
	if !ok {
		return "", "", false
	}
	tok, tag, ok := strings.Cut(rest, ".")
	if !ok || tok == "" || tag == "" {
		return "", "", false
	}
	return untoken(tok), tag, true
}

// AllJoin matches every joining master's request for the fleet's identity.
const AllJoin = prefixJoin + "*"

// JoinSubject is where a master joining with a join token whose key is
// publicKey asks for the fleet's identity.
func JoinSubject(publicKey string) string { return prefixJoin + token(publicKey) }

// JoinInbox is the inbox prefix of a joining master's connection.
func JoinInbox(publicKey string) string { return prefixInbox + "join_" + token(publicKey) }

// JoinKey returns the public key a join subject names.
func JoinKey(subject string) (string, bool) {
	k, ok := strings.CutPrefix(subject, prefixJoin)
	return k, ok && k != "" && !strings.ContainsAny(k, ".*>")
}
