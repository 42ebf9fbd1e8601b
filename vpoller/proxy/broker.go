package proxy

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/lograte"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/backend"
)

// maxDispatches is how many worker connections a request may be sent to:
// a request whose worker dies is re-sent once; if the second worker dies
// too, the request is taken for the cause (a poison request: with Python
// workers, one that crashes every worker in turn) and refused.
const maxDispatches = 2

// MsgLostTwice ends the reply to a request whose two workers died with it.
const MsgLostTwice = "worker lost twice"

// MsgNoWorkerServes starts the reply to a request for a vCenter that no
// connected worker serves.
const MsgNoWorkerServes = "No vPoller worker serves vCenter"

const (
	// servedMemory is how long a vCenter counts as served after its last
	// worker left: its requests are held meanwhile (the worker is
	// restarting), not refused.
	servedMemory = 10 * time.Minute
	// startupGrace is how long after start a request for a vCenter no
	// worker has announced yet is held rather than refused: workers
	// reconnect over the first seconds.
	startupGrace = 10 * time.Second
)

// request is one client request on its way through the proxy.
type request struct {
	id         string   // the identity frame the worker sees and echoes back
	client     *peer    // where the reply goes
	envelope   [][]byte // the client's routing frames, echoed with the reply
	payload    []byte
	charge     int64  // memory budget bytes its frames hold
	host       string // the vCenter it is for ("" when not readable)
	arrived    time.Time
	worker     *workerConn // nil while held for want of a worker
	dispatches int         // worker connections it was sent to
}

// workerConn is a worker connection and the requests it owes answers for.
type workerConn struct {
	*peer
	inflight map[string]*request
	// info is what one of our workers announced in its handshake; nil for
	// a worker that announced nothing (the Python worker), which serves
	// every vCenter.
	info *backend.Announcement
	// limit caps the requests it owes (the worker's announced queue, or
	// the proxy's per-worker cap).
	limit int
	// assigned is the last assignment sent to it.
	assigned string
}

// room reports whether the worker can take one more request now.
func (w *workerConn) room() bool { return !w.full() && len(w.inflight) < w.limit }

// vcStats counts one vCenter's requests at this proxy.
type vcStats struct{ routed, spilled uint64 }

// broker is the dispatch state: connected workers, who owns which vCenter,
// requests in flight and requests held until a worker can take them. One
// mutex guards it all; nothing under the lock blocks (queues are written
// without waiting).
type broker struct {
	log *slog.Logger
	now func() time.Time
	// maxHeld and maxHeldBytes cap the requests waiting for a worker;
	// maxInflight caps one worker's outstanding requests; spillWait is how
	// long a request waits for a full owner before the next worker in the
	// ranking takes it; standby makes the second-ranked worker keep a warm
	// mirror.
	maxHeld, maxHeldBytes, maxInflight int
	spillWait                          time.Duration
	standby                            bool
	budget                             zmtp.Budget // nil: none

	// warn keeps floods of refusals (which clients can cause) to a line
	// per period with their count.
	warn struct{ refused, lostTwice, expired *lograte.Limiter }

	mu         sync.Mutex
	charged    int64 // budget bytes held by pending requests
	started    time.Time
	workers    []*workerConn
	byID       map[string][]*workerConn // our workers by announced id
	place      placement
	lastServed map[string]time.Time // vCenter -> last time a worker served it
	vcs        map[string]*vcStats
	rr         int // where the next tie-break scan starts
	pending    map[string]*request
	held       heldQueue
	prefix     [4]byte
	nextID     uint64
	counters   counters
}

type counters struct {
	served, redispatched, tooLarge, expired, unmatched, refused, poisoned, unserved, spilled uint64
}

// brokerLimits are the broker's caps (see broker).
type brokerLimits struct {
	maxHeld, maxHeldBytes, maxInflight int
	spillWait                          time.Duration
	standby                            bool
	budget                             zmtp.Budget
}

func newBroker(log *slog.Logger, lim brokerLimits, now func() time.Time) *broker {
	if now == nil {
		now = time.Now
	}
	if lim.maxInflight <= 0 {
		lim.maxInflight = DefaultMaxInflightPerWorker
	}
	b := &broker{log: log, now: now, maxHeld: lim.maxHeld, maxHeldBytes: lim.maxHeldBytes, maxInflight: lim.maxInflight,
		spillWait: lim.spillWait, standby: lim.standby, budget: lim.budget, started: now(), held: heldQueue{byHost: map[string][]*request{}},
		pending: make(map[string]*request), byID: map[string][]*workerConn{}, lastServed: map[string]time.Time{},
		vcs: map[string]*vcStats{}}
	b.warn.refused, b.warn.lostTwice, b.warn.expired = lograte.New(10*time.Second), lograte.New(10*time.Second), lograte.New(10*time.Second)
	// A random prefix keeps ids unique across proxy restarts, so a late
	// reply from a worker that reconnected cannot match a new request.
	_, _ = rand.Read(b.prefix[:])
	return b
}

// newID returns a fresh request identity (locked).
func (b *broker) newID() string {
	b.nextID++
	var id [12]byte
	copy(id[:4], b.prefix[:])
	binary.BigEndian.PutUint64(id[4:], b.nextID)
	return string(id[:])
}

// submit takes a new request from a client and sends it to the worker
// that should answer it, holds it until one can, or refuses it at once
// with a reply that says why (no worker serves its vCenter; the held
// requests are at their cap: memory stays bounded while no worker can
// take requests).
//
// The request's frames hold charge bytes of the memory budget until it is
// answered, refused or dropped.
func (b *broker) submit(client *peer, envelope [][]byte, payload []byte, charge int64) {
	host := requestHostname(payload)
	b.mu.Lock()
	defer b.mu.Unlock()
	req := &request{id: b.newID(), client: client, envelope: envelope, payload: payload, charge: charge, host: host, arrived: b.now()}
	client.owed.Add(1)
	b.pending[req.id] = req
	b.charged += charge
	if host != "" {
		st := b.vcs[host]
		if st == nil && len(b.vcs) < maxTrackedVCenters {
			st = &vcStats{}
			b.vcs[host] = st
		}
		if st != nil {
			st.routed++
		}
	}
	b.dispatch(req)
}

// maxTrackedVCenters bounds the per-vCenter counters (clients choose the
// names).
const maxTrackedVCenters = 4096

// dispatch sends req to the worker route chooses, or holds it when none
// can take it now, or refuses it (locked). Re-dispatched requests come
// here too, so the held caps hold on every path. Requests already held
// for its vCenter go first.
func (b *broker) dispatch(req *request) {
	if len(b.held.byHost[req.host]) > 0 || !b.try(req) {
		b.hold(req)
	}
}

// try sends req to a worker or refuses it; false when it must wait
// (locked).
func (b *broker) try(req *request) bool {
	w, refusal := b.route(req)
	switch {
	case refusal != "":
		b.finish(req, vpoller.Fail(refusal))
	case w != nil:
		req.worker = w
		req.dispatches++
		w.inflight[req.id] = req
		// route only picks workers with room and we hold the lock, so
		// enqueue fails only when the connection is closing; its
		// reader then calls workerGone, which re-dispatches everything
		// in inflight, this request included.
		w.enqueue([][]byte{[]byte(req.id), {}, req.payload})
	default:
		return false
	}
	return true
}

// hold keeps req until a worker can take it, within the held caps, or
// refuses it (locked).
func (b *broker) hold(req *request) {
	if b.held.n+1 > b.maxHeld || b.held.bytes+len(req.payload) > b.maxHeldBytes {
		held, bytes := b.held.n, b.held.bytes
		b.counters.refused++
		if b.warn.refused.Allow() {
			b.log.Warn("request refused: no worker can take it and the held requests are at their cap",
				"vcenter", req.host, "held", held, "held_bytes", bytes, "max_held_requests", b.maxHeld, "max_held_bytes", b.maxHeldBytes,
				"suppressed", b.warn.refused.Suppressed())
		}
		b.finish(req, vpoller.Failf("Request not queued: no worker can take it and %d requests (%d bytes) already wait (limits: %d requests, %d bytes)",
			held, bytes, b.maxHeld, b.maxHeldBytes))
		return
	}
	b.held.push(req)
}

// heldQueue is the requests waiting for a worker: one queue per vCenter
// ("" for requests without one), oldest first, so that a reply from a
// worker retries only what that worker could take.
type heldQueue struct {
	byHost   map[string][]*request
	n, bytes int
}

func (q *heldQueue) push(r *request) {
	q.byHost[r.host] = append(q.byHost[r.host], r)
	q.n++
	q.bytes += len(r.payload)
}

// drain hands host's requests, oldest first, to take until it keeps one
// (returns false).
func (q *heldQueue) drain(host string, take func(*request) bool) {
	list := q.byHost[host]
	i := 0
	for ; i < len(list); i++ {
		if !take(list[i]) {
			break
		}
		q.n--
		q.bytes -= len(list[i].payload)
	}
	if i == len(list) {
		delete(q.byHost, host)
		return
	}
	clear(list[:i])
	q.byHost[host] = list[i:]
}

// keep drops the requests for which keep is false.
func (q *heldQueue) filter(keep func(*request) bool) {
	for host, list := range q.byHost {
		kept := list[:0]
		for _, r := range list {
			if keep(r) {
				kept = append(kept, r)
				continue
			}
			q.n--
			q.bytes -= len(r.payload)
		}
		clear(list[len(kept):])
		if len(kept) == 0 {
			delete(q.byHost, host)
		} else {
			q.byHost[host] = kept
		}
	}
}

// finish answers req from the proxy itself and forgets it (locked).
func (b *broker) finish(req *request, reply *vpoller.Response) {
	b.forget(req)
	req.client.enqueue(replyFrames(req.envelope, reply.Encode(vpoller.PythonASCII)))
}

// forget drops req from the pending requests and gives its bytes back to
// the budget (locked).
func (b *broker) forget(req *request) {
	delete(b.pending, req.id)
	req.client.owed.Add(-1)
	b.charged -= req.charge
	if b.budget != nil {
		b.budget.Release(req.charge)
	}
}

// route chooses the worker for req (locked): nil to hold it, or a refusal
// message.
//
//   - A vCenter that our workers serve goes to its owner when it has
//     room; a request that has waited spillWait for that goes to the next
//     worker in the ranking with room (spill), then to a worker that
//     serves every vCenter (a Python worker); else it waits.
//   - A vCenter none of our workers serves goes to a Python worker when
//     one is connected; else it waits while a worker may still come for
//     it (one served it lately, or the proxy just started), or is refused
//     with a message naming it and the vCenters that are served.
//   - A request without a readable vCenter goes to the least busy worker.
func (b *broker) route(req *request) (*workerConn, string) {
	if req.host == "" {
		return b.leastBusy(func(*workerConn) bool { return true }), ""
	}
	anyWorker := func(w *workerConn) bool { return w.info == nil }
	ranked := b.place.ranking[req.host]
	if len(ranked) == 0 {
		if w := b.leastBusy(anyWorker); w != nil {
			return w, ""
		}
		now := b.now()
		if len(b.workers) == 0 || now.Sub(b.started) < startupGrace || now.Sub(b.lastServed[req.host]) < servedMemory {
			return nil, ""
		}
		b.counters.unserved++
		return nil, fmt.Sprintf("%s %s (served: %s; %s)", MsgNoWorkerServes, vpoller.QuoteName(req.host), b.servedNames(), vpoller.NameHint(req.host, b.servedList()))
	}
	owner := b.connFor(b.place.owner[req.host])
	if owner != nil && owner.room() {
		return owner, ""
	}
	if owner != nil && b.now().Sub(req.arrived) < b.spillWait {
		return nil, "" // a burst the owner may clear in time
	}
	for _, id := range ranked {
		if w := b.connFor(id); w != nil && w != owner && w.room() {
			b.spill(req.host)
			return w, ""
		}
	}
	if w := b.leastBusy(anyWorker); w != nil {
		b.spill(req.host)
		return w, ""
	}
	return nil, ""
}

func (b *broker) spill(host string) {
	b.counters.spilled++
	if st := b.vcs[host]; st != nil {
		st.spilled++
	}
}

// connFor is the connection of worker id with room and the fewest
// requests owed, else any of its connections, nil when it has none
// (locked). A worker has one connection per proxy; two only while a
// reconnect overlaps the old connection's end.
func (b *broker) connFor(id string) *workerConn {
	var best *workerConn
	for _, w := range b.byID[id] {
		if best == nil || (w.room() && !best.room()) || (w.room() == best.room() && len(w.inflight) < len(best.inflight)) {
			best = w
		}
	}
	return best
}

// leastBusy chooses among the workers ok accepts the one with room and
// the fewest outstanding requests; ties go to the first one after the
// previous choice (round-robin). Nil when none can take a request
// (locked).
func (b *broker) leastBusy(ok func(*workerConn) bool) *workerConn {
	n := len(b.workers)
	best := -1
	for k := range n {
		i := (b.rr + k) % n
		w := b.workers[i]
		if !ok(w) || !w.room() {
			continue
		}
		if best < 0 || len(w.inflight) < len(b.workers[best].inflight) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	b.rr = best + 1
	return b.workers[best]
}

// servedNames lists the vCenters our workers serve, sorted (locked).
func (b *broker) servedNames() string { return vpoller.ListNames(b.servedList()) }

// servedList is the vCenters some connected worker serves (locked).
func (b *broker) servedList() []string {
	names := make([]string, 0, len(b.place.ranking))
	for vc := range b.place.ranking {
		names = append(names, vc)
	}
	return names
}

// workerJoined adds a worker, recomputes who owns what and gives it the
// held requests.
func (b *broker) workerJoined(w *workerConn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w.limit = b.maxInflight
	if w.info != nil {
		if w.info.Queue > 0 {
			w.limit = min(w.limit, w.info.Queue)
		}
		b.byID[w.info.ID] = append(b.byID[w.info.ID], w)
	}
	b.workers = append(b.workers, w)
	b.replace()
	b.retryHeld(nil)
}

// replace recomputes the placement from the connected workers and tells
// each of our workers its share when it changed (locked).
func (b *broker) replace() {
	now := b.now()
	for vc := range b.place.ranking {
		b.lastServed[vc] = now // served until now, at least
	}
	serves := make(map[string][]string, len(b.byID))
	for id, conns := range b.byID {
		serves[id] = conns[len(conns)-1].info.Serves
	}
	b.place = place(serves)
	for vc := range b.place.ranking {
		b.lastServed[vc] = now
	}
	for vc, at := range b.lastServed {
		if now.Sub(at) > servedMemory {
			delete(b.lastServed, vc)
		}
	}
	for id, conns := range b.byID {
		a := backend.Assignment{Owner: b.place.owned[id]}
		if b.standby {
			a.Standby = b.place.backs[id]
		}
		frames := a.Frames()
		for _, w := range conns {
			if w.assigned != string(frames[2]) && w.enqueue(frames) {
				w.assigned = string(frames[2])
			}
		}
	}
}

// retryHeld dispatches held requests while workers can take them: those
// that worker w could take, or all when w is nil (locked).
func (b *broker) retryHeld(w *workerConn) {
	for host := range b.held.byHost {
		if w != nil && w.info != nil && host != "" {
			if _, ok := slices.BinarySearch(w.info.Serves, host); !ok {
				continue
			}
		}
		b.held.drain(host, b.try)
	}
}

// workerGone removes a worker, recomputes who owns what and re-dispatches
// what it still owed.
func (b *broker) workerGone(w *workerConn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.workers = slices.DeleteFunc(b.workers, func(x *workerConn) bool { return x == w })
	if w.info != nil {
		id := w.info.ID
		b.byID[id] = slices.DeleteFunc(b.byID[id], func(x *workerConn) bool { return x == w })
		if len(b.byID[id]) == 0 {
			delete(b.byID, id)
		}
	}
	b.replace()
	owed := make([]*request, 0, len(w.inflight))
	for _, req := range w.inflight {
		owed = append(owed, req)
	}
	w.inflight = map[string]*request{}
	// Oldest first, so re-dispatch keeps the arrival order.
	slices.SortFunc(owed, func(x, y *request) int { return x.arrived.Compare(y.arrived) })
	lost := 0
	for _, req := range owed {
		req.worker = nil
		if req.dispatches >= maxDispatches {
			lost++
			b.refuseLostTwice(req)
			continue
		}
		b.counters.redispatched++
		b.dispatch(req)
	}
	if len(owed) > 0 {
		b.log.Warn("worker connection lost with requests outstanding; re-dispatched", "worker", w.remote,
			"requests", len(owed)-lost, "refused_lost_twice", lost, "workers_left", len(b.workers))
	}
	b.retryHeld(nil)
}

// refuseLostTwice answers a request whose second worker died with it
// (locked): it is not sent to a third.
func (b *broker) refuseLostTwice(req *request) {
	b.counters.poisoned++
	method := "request"
	if r, err := vpoller.DecodeRequest(req.payload); err == nil && r.Method != "" {
		method = r.Method
	}
	if b.warn.lostTwice.Allow() {
		b.log.Warn("request dropped: the workers of its two attempts died with it", "method", method, "client", req.client.remote,
			"suppressed", b.warn.lostTwice.Suppressed())
	}
	b.finish(req, vpoller.Failf("Task %s failed: %s", method, MsgLostTwice))
}

// replied delivers a worker's reply, whose frames hold charge bytes of
// the memory budget until written, to the client that asked.
func (b *broker) replied(w *workerConn, id string, reply []byte, charge int64) {
	req := b.take(w, id)
	if req == nil {
		b.release(charge)
		b.log.Debug("dropping a worker frame that answers no outstanding request", "worker", w.remote, "bytes", len(reply))
		return
	}
	if !req.client.enqueueCharged(replyFrames(req.envelope, reply), charge) {
		b.release(charge)
		b.log.Debug("client gone or not reading; reply dropped", "client", req.client.remote)
	}
}

// take removes the request id that w answered from the pending ones and
// lets held requests go to w, which has room again; nil when w owes no
// such request.
func (b *broker) take(w *workerConn, id string) *request {
	b.mu.Lock()
	defer b.mu.Unlock()
	req := b.pending[id]
	if req == nil || req.worker != w {
		b.counters.unmatched++
		return nil
	}
	delete(w.inflight, id)
	b.forget(req)
	b.counters.served++
	if b.held.n > 0 {
		b.retryHeld(w)
	}
	return req
}

// release gives n bytes back to the memory budget.
func (b *broker) release(n int64) {
	if b.budget != nil {
		b.budget.Release(n)
	}
}

// countTooLarge records a request refused for its size.
func (b *broker) countTooLarge() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.counters.tooLarge++
}

// expire drops requests held longer than hold or in flight longer than
// inflight (their clients have long given up and retried), and retries
// held requests whose workers' queues had no room.
func (b *broker) expire(now time.Time, hold, inflight time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held.filter(func(req *request) bool {
		if now.Sub(req.arrived) <= hold {
			return true
		}
		b.forget(req)
		b.counters.expired++
		if b.warn.expired.Allow() {
			b.log.Warn("request dropped: no worker took it in time", "vcenter", req.host, "held", now.Sub(req.arrived).Round(time.Millisecond),
				"client", req.client.remote, "suppressed", b.warn.expired.Suppressed())
		}
		return false
	})
	for _, w := range b.workers {
		for id, req := range w.inflight {
			if now.Sub(req.arrived) > inflight {
				delete(w.inflight, id)
				b.forget(req)
				b.counters.expired++
				if b.warn.expired.Allow() {
					b.log.Warn("request dropped: worker did not answer in time", "worker", w.remote, "age", now.Sub(req.arrived).Round(time.Millisecond),
						"suppressed", b.warn.expired.Suppressed())
				}
			}
		}
	}
	b.retryHeld(nil)
}

// Stats is a snapshot of the proxy's counters.
type Stats struct {
	Workers      int    // connected worker connections
	Outstanding  int    // requests in flight or held
	Held         int    // of which waiting for a worker
	HeldBytes    int    // payload bytes of the held requests
	Served       uint64 // replies delivered to clients
	Redispatched uint64 // requests sent again after their worker connection died
	TooLarge     uint64 // requests refused for their size
	Expired      uint64 // requests dropped after their deadline
	Unmatched    uint64 // worker frames that answered no outstanding request
	Refused      uint64 // requests refused because the held requests were at their cap
	Poisoned     uint64 // requests refused after their second worker died with them
	Unserved     uint64 // requests refused because no worker serves their vCenter
	Spilled      uint64 // requests sent past their vCenter's owner
	// RequestBytes is the memory budget the pending requests hold (held
	// and in flight); InflightBytes the payload bytes of those in flight.
	RequestBytes, InflightBytes int64
	// VCenters is, per vCenter our workers serve or clients asked for,
	// who owns it here and what it was sent.
	VCenters map[string]VCenterStats
	// WorkerConns lists the worker connections.
	WorkerConns []WorkerStats
}

// VCenterStats is one vCenter's placement and traffic at this proxy.
type VCenterStats struct {
	Owner, Standby  string // worker ids ("" when none)
	Routed, Spilled uint64
}

// WorkerStats is one worker connection.
type WorkerStats struct {
	ID       string // announced id; "" for a worker that announced none (serves every vCenter)
	Remote   string
	Inflight int
	Limit    int
	Owns     []string
	Standby  []string
	// Heartbeats tells a worker that has answered a PING: it is dropped
	// when it falls silent.
	Heartbeats bool
}

func (b *broker) stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Stats{
		Workers:      len(b.workers),
		Outstanding:  len(b.pending),
		Held:         b.held.n,
		HeldBytes:    b.held.bytes,
		Served:       b.counters.served,
		Redispatched: b.counters.redispatched,
		TooLarge:     b.counters.tooLarge,
		Expired:      b.counters.expired,
		Unmatched:    b.counters.unmatched,
		Refused:      b.counters.refused,
		Poisoned:     b.counters.poisoned,
		Unserved:     b.counters.unserved,
		Spilled:      b.counters.spilled,
		RequestBytes: b.charged,
		VCenters:     map[string]VCenterStats{},
	}
	for _, w := range b.workers {
		for _, r := range w.inflight {
			s.InflightBytes += int64(len(r.payload))
		}
	}
	for vc := range b.place.ranking {
		v := VCenterStats{Owner: b.place.owner[vc]}
		if b.standby {
			v.Standby = b.place.standby[vc]
		}
		s.VCenters[vc] = v
	}
	for vc, st := range b.vcs {
		v := s.VCenters[vc]
		v.Routed, v.Spilled = st.routed, st.spilled
		s.VCenters[vc] = v
	}
	for _, w := range b.workers {
		ws := WorkerStats{Remote: w.remote, Inflight: len(w.inflight), Limit: w.limit, Heartbeats: !w.conn.LastPong().IsZero()}
		if w.info != nil {
			ws.ID = w.info.ID
			ws.Owns = b.place.owned[ws.ID]
			if b.standby {
				ws.Standby = b.place.backs[ws.ID]
			}
		}
		s.WorkerConns = append(s.WorkerConns, ws)
	}
	return s
}
