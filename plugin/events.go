package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// vpoller.events keeps, per item key (hostname, name and endpoint
// parameters), the key of the last vSphere event it returned, in memory
// and in the state file (eventstate.go), from which a restarted plugin
// resumes.
const (
	// EventCap is the most events one poll returns (the worker's cap).
	EventCap = 1000
	// EventTimeLayout is the time of each line: Zabbix's "Log time
	// format" yyyy-MM-dd hh:mm:ss parses it.
	EventTimeLayout = "2006-01-02 15:04:05"
	// eventIdle: positions of keys not polled for this long are forgotten
	// (their next poll starts again at "now").
	eventIdle = 24 * time.Hour
	// maxEventKeys bounds the positions kept at once; beyond, the least
	// recently polled is forgotten.
	maxEventKeys = 10000
)

// sendFunc sends one request with the item's endpoint, budget and
// retries.
type sendFunc func(req *vpoller.Request) (*vpoller.Response, error)

// eventPositions are the positions of the vpoller.events keys. The zero
// value is ready (positions in memory only until useStore).
type eventPositions struct {
	mu        sync.Mutex
	m         map[string]*eventPos
	lastPrune time.Time
	store     *eventStore // nil: no state file
	version   uint64      // bumped by each saved change
	log       *slog.Logger
}

// eventPos is one key's position: the newest event key it has returned
// (or skipped past), once its first poll set it.
type eventPos struct {
	host, name, endpoint string // the key's parameters (immutable)

	mu      sync.Mutex // one poll of the key at a time
	started bool
	key     int64
	// restored: the position comes from the state file and its stream
	// was not polled since; the first poll checks it against the stream.
	restored bool

	used     time.Time // under eventPositions.mu
	saved    int64     // the position the state file gets (eventPositions.mu)
	savedSet bool      // saved is set (eventPositions.mu)
}

// get returns the position of the key, created unset on first use.
func (ps *eventPositions) get(host, name, endpoint string, now time.Time) *eventPos {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m == nil {
		ps.m = map[string]*eventPos{}
	}
	if now.Sub(ps.lastPrune) >= time.Minute {
		ps.lastPrune = now
		ps.pruneLocked(now)
	}
	id := eventID(host, name, endpoint)
	pos := ps.m[id]
	if pos == nil {
		if len(ps.m) >= maxEventKeys {
			ps.evictLocked()
		}
		pos = &eventPos{host: host, name: name, endpoint: endpoint}
		ps.m[id] = pos
	}
	pos.used = now
	return pos
}

// useStore makes path the state file (EventsStateOff or "": none) and
// adds the positions it holds for keys not yet known; they count as
// polled now, so that a long stop does not make the idle pruning forget
// them. Problems with the file are logged, never fatal.
func (ps *eventPositions) useStore(path string, log *slog.Logger, now time.Time) {
	ps.mu.Lock()
	cur := ps.store
	ps.log = log
	ps.mu.Unlock()
	if cur != nil && cur.path == path {
		return
	}
	st, streams := openEventStore(path, log)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.store = st
	if ps.m == nil {
		ps.m = map[string]*eventPos{}
	}
	for _, s := range streams {
		if ps.m[s.id()] != nil {
			continue
		}
		if len(ps.m) >= maxEventKeys {
			ps.evictLocked()
		}
		ps.m[s.id()] = &eventPos{host: s.Host, name: s.Name, endpoint: s.Endpoint, started: true, key: s.Key, restored: true,
			used: now, saved: s.Key, savedSet: true}
	}
}

// commit makes pos's position (its caller holds pos.mu) the one the state
// file keeps, and returns once a write that includes it is done (or
// failed: that is logged, and the poll still returns its lines).
func (ps *eventPositions) commit(pos *eventPos) {
	ps.mu.Lock()
	if pos.savedSet && pos.saved == pos.key {
		ps.mu.Unlock()
		return
	}
	pos.saved, pos.savedSet = pos.key, true
	ps.version++
	v, st := ps.version, ps.store
	ps.mu.Unlock()
	if st != nil {
		st.flush(v, ps.snapshot)
	}
}

// snapshot returns the saved positions for the state file, most recently
// polled first and at most maxStateStreams, with the version they are.
func (ps *eventPositions) snapshot() ([]stateStream, uint64) {
	ps.mu.Lock()
	out := make([]stateStream, 0, min(len(ps.m), maxStateStreams))
	for _, pos := range ps.m {
		if pos.savedSet {
			out = append(out, stateStream{Host: pos.host, Name: pos.name, Endpoint: pos.endpoint, Key: pos.saved,
				Polled: pos.used.UTC().Round(0)})
		}
	}
	v := ps.version
	ps.mu.Unlock()
	sortStreams(out)
	if len(out) > maxStateStreams {
		out = out[:maxStateStreams]
	}
	return out, v
}

func (ps *eventPositions) logger() *slog.Logger {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return ps.log
}

func (ps *eventPositions) pruneLocked(now time.Time) {
	for id, pos := range ps.m {
		if now.Sub(pos.used) >= eventIdle {
			delete(ps.m, id)
		}
	}
}

// evictLocked forgets the least recently polled key.
func (ps *eventPositions) evictLocked() {
	var oldest string
	var at time.Time
	for id, pos := range ps.m {
		if oldest == "" || pos.used.Before(at) {
			oldest, at = id, pos.used
		}
	}
	delete(ps.m, oldest)
}

// size is the number of positions kept (for tests).
func (ps *eventPositions) size() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.m)
}

// export answers vpoller.events[hostname,<name>,<endpoint>]: the events
// since the key's previous poll, one line each, oldest first:
//
//	<time> <severity> <eventType> <entity>: <message>
//
// with the time in the agent's local time zone (EventTimeLayout) and the
// vCenter's hostname for events of no entity. The first poll of a key
// only learns the newest event key (and checks the name) and returns "".
// A poll that finds more than EventCap new events returns the newest
// EventCap after one line saying how many were skipped (from the keys).
// A failed call or a malformed reply is an item error and leaves the
// position where it was, so the next poll returns what this one missed.
//
// With name, each poll first asks for the newest key of the whole
// stream: the position then follows the stream even while the object
// has no events, and the worker keeps answering from its buffer.
//
// Each new position is in the state file before the lines are returned.
// A position restored from it resumes where the previous plugin stopped:
// its first poll returns what happened meanwhile (beyond EventCap, the
// newest EventCap after the line counting those skipped). A restored
// position beyond the stream's newest key means another event stream
// (vCenter reinstalled, or another one under that name): it starts again
// at "now", with a WARN.
func (ps *eventPositions) export(c *call, send sendFunc, now time.Time) (string, error) {
	host := c.req.Hostname
	pos := ps.get(host, c.req.Name, c.endpoint, now)
	pos.mu.Lock()
	defer pos.mu.Unlock()
	first, newest := !pos.started, int64(math.MinInt64)
	if first || c.req.Name != "" || pos.restored {
		k, err := newestEventKey(send, host)
		if err != nil {
			return "", err
		}
		newest = k
	}
	if pos.restored {
		pos.restored = false
		if newest > 0 && newest < pos.key {
			ps.logger().Warn(fmt.Sprintf("vpoller.events[%s]: the stored position (event %d) is beyond the newest event of %s (%d): not the same event stream; starting at \"now\"",
				strings.TrimRight(strings.Join([]string{host, c.req.Name, c.endpoint}, ","), ","), pos.key, host, newest))
			pos.key = newest
			ps.commit(pos)
			return "", nil
		}
	}
	req := *c.req
	if first {
		if c.req.Name != "" { // checks the name: an unknown object fails its first poll
			req.Key, req.MaxSample = strconv.FormatInt(newest, 10), 1
			if _, err := eventRows(send, &req); err != nil {
				return "", err
			}
		}
		pos.key, pos.started = newest, true
		ps.commit(pos)
		return "", nil
	}
	req.Key, req.MaxSample = strconv.FormatInt(pos.key, 10), EventCap
	rows, err := eventRows(send, &req)
	if err != nil {
		return "", err
	}
	rows = slices.DeleteFunc(rows, func(r eventLine) bool { return r.key <= pos.key })
	var lines []string
	if len(rows) > 0 {
		if skipped := rows[0].key - pos.key - 1; len(rows) >= EventCap && skipped > 0 {
			lines = append(lines, fmt.Sprintf("%s warning vPollerEventsSkipped %s: %d events skipped (more than %d since the last poll)",
				rows[0].time, host, skipped, EventCap))
		}
		for _, r := range rows {
			entity := r.entity
			if entity == "" {
				entity = host
			}
			lines = append(lines, fmt.Sprintf("%s %s %s %s: %s", r.time, r.severity, r.typ, entity, r.message))
		}
		pos.key = rows[len(rows)-1].key
	}
	// The newest key of the stream was asked first: every event of the
	// object up to it is in rows.
	pos.key = max(pos.key, newest)
	ps.commit(pos)
	return strings.Join(lines, "\n"), nil
}

// newestEventKey is the key of the agent's newest event (0 when it has
// none).
func newestEventKey(send sendFunc, host string) (int64, error) {
	rows, err := eventRows(send, &vpoller.Request{Method: "event.get", Hostname: host, MaxSample: 1})
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	return rows[len(rows)-1].key, nil
}

// eventLine is one event.get row, ready for its line.
type eventLine struct {
	key                         int64
	time, severity, typ, entity string
	message                     string
}

// eventRows sends an event.get and reads its rows in key order; a reply
// it cannot read is an error, never a panic.
func eventRows(send sendFunc, req *vpoller.Request) ([]eventLine, error) {
	resp, err := send(req)
	if err != nil {
		return nil, err
	}
	if resp.Failed() {
		return nil, errors.New(failMsg(resp))
	}
	list, ok := resp.Result.([]any)
	if !ok && resp.Result != nil {
		return nil, fmt.Errorf("event.get: the result is not a list")
	}
	out := make([]eventLine, 0, len(list))
	for i, x := range list {
		o, ok := x.(vpoller.Object)
		if !ok {
			return nil, fmt.Errorf("event.get: result %d is not an object", i)
		}
		k, _ := o.Get("key")
		key, ok := integer(k)
		if !ok {
			return nil, fmt.Errorf("event.get: result %d has no integer key", i)
		}
		l := eventLine{key: key, time: eventTime(text(o, "createdTime")), severity: text(o, "severity"),
			typ: text(o, "eventType"), entity: text(o, "entity"), message: oneLine(text(o, "message"))}
		if l.severity == "" {
			l.severity = "info"
		}
		if l.entity == "" {
			l.entity = text(o, "entityMoRef")
		}
		out = append(out, l)
	}
	slices.SortStableFunc(out, func(a, b eventLine) int { return cmpInt(a.key, b.key) })
	return out, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// integer reads a whole number of the value model (json.Number from the
// wire, int64 in process).
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), true
		}
	}
	return 0, false
}

// text is a field as text: strings as they are, null or absent as "",
// anything else as its JSON.
func text(o vpoller.Object, key string) string {
	v, _ := o.Get(key)
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	}
	b, _ := vpoller.Marshal(v, vpoller.Compact)
	return string(b)
}

// eventTime turns the worker's Python str(datetime) text into the line's
// time in the local time zone; text it cannot read stays as it is.
func eventTime(s string) string {
	t, err := time.Parse("2006-01-02 15:04:05-07:00", s)
	if err != nil {
		return oneLine(s)
	}
	return t.In(time.Local).Format(EventTimeLayout)
}

// oneLine keeps a message on its line.
func oneLine(s string) string {
	return strings.TrimSpace(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s))
}
