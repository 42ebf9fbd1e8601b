package vsphere

import (
	"log/slog"
	"sync"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// unknownAgentReply is the reply to a request whose hostname names no
// configured agent. Its msg starts with the original's MsgUnknownAgent
// (clients match on it) and goes on with what the original never said:
// the name asked for, the names this worker serves and that the match is
// exact, with the name probably meant.
func unknownAgentReply(name string, known []string) *vpoller.Response {
	served := "this worker serves " + vpoller.ListNames(known)
	if len(known) == 0 {
		served = "this worker serves no vCenter (add a file to its vsphere_hosts_dir or a row to its vconnector db, then reload it: vpoller-worker reload, or SIGHUP)"
	}
	if name == "" {
		return vpoller.Fail(MsgUnknownAgent + ": the request names no vCenter (hostname, -V); " + served)
	}
	return vpoller.Fail(MsgUnknownAgent + " " + vpoller.QuoteName(name) + ": " + served + " (" + vpoller.NameHint(name, known) + ")")
}

// Bounds of the unknown-name log: each name is logged at most once per
// unknownLogEvery; at most unknownLogNames names are remembered (beyond,
// the memory starts again, so a client sending random names costs at most
// one line per name and no unbounded memory).
const (
	unknownLogEvery = 10 * time.Minute
	unknownLogNames = 256
)

// unknownLog logs requests for unknown agent names, once per name and
// period, with how many were not logged since.
type unknownLog struct {
	mu   sync.Mutex
	seen map[string]*unknownSeen
}

type unknownSeen struct {
	logged     time.Time
	suppressed int64
}

// note records one request for name and logs it when due.
func (u *unknownLog) note(log *slog.Logger, name string, known []string, now time.Time) {
	u.mu.Lock()
	if u.seen == nil || len(u.seen) >= unknownLogNames && u.seen[name] == nil {
		u.seen = map[string]*unknownSeen{}
	}
	s := u.seen[name]
	if s != nil && now.Sub(s.logged) < unknownLogEvery {
		s.suppressed++
		u.mu.Unlock()
		return
	}
	var suppressed int64
	if s != nil {
		suppressed = s.suppressed
	}
	u.seen[name] = &unknownSeen{logged: now}
	u.mu.Unlock()
	log.Warn("request for a vCenter this worker does not serve; it was answered \""+MsgUnknownAgent+"\"",
		"vcenter", vpoller.ClipName(name), "served", vpoller.ListNames(known), "hint", vpoller.NameHint(name, known),
		"repeats_not_logged", suppressed, "logged_again_after", unknownLogEvery)
}
