package proxy

import (
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// maxDispatches is how many worker connections a request may be sent to:
// a request whose worker dies is re-sent once; if the second worker dies
// too, the request is taken for the cause (a poison request: with Python
// workers, one that crashes every worker in turn) and refused.
const maxDispatches = 2

// MsgLostTwice ends the reply to a request whose two workers died with it.
const MsgLostTwice = "worker lost twice"

// request is one client request on its way through the proxy.
type request struct {
	id         string   // the identity frame the worker sees and echoes back
	client     *peer    // where the reply goes
	envelope   [][]byte // the client's routing frames, echoed with the reply
	payload    []byte
	arrived    time.Time
	worker     *workerConn // nil while held for want of a worker
	dispatches int         // worker connections it was sent to
}

// workerConn is a worker connection and the requests it owes answers for.
type workerConn struct {
	*peer
	inflight map[string]*request
}

// broker is the dispatch state: connected workers, requests in flight and
// requests held until a worker can take them. One mutex guards it all;
// nothing under the lock blocks (queues are written without waiting).
type broker struct {
	log *slog.Logger
	// maxHeld and maxHeldBytes cap the requests waiting for a worker.
	maxHeld, maxHeldBytes int

	mu        sync.Mutex
	workers   []*workerConn
	rr        int // where the next tie-break scan starts
	pending   map[string]*request
	waiting   []*request
	heldBytes int
	prefix    [4]byte
	nextID    uint64
	counters  counters
}

type counters struct {
	served, redispatched, tooLarge, expired, unmatched, refused, poisoned uint64
}

func newBroker(log *slog.Logger, maxHeld, maxHeldBytes int) *broker {
	b := &broker{log: log, pending: make(map[string]*request), maxHeld: maxHeld, maxHeldBytes: maxHeldBytes}
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

// submit takes a new request from a client. When no worker can take it
// and the held requests are at their cap, it is refused at once: memory
// stays bounded while no worker is connected.
func (b *broker) submit(client *peer, envelope [][]byte, payload []byte) {
	b.mu.Lock()
	if b.pick() == nil && (len(b.waiting)+1 > b.maxHeld || b.heldBytes+len(payload) > b.maxHeldBytes) {
		held, bytes := len(b.waiting), b.heldBytes
		b.counters.refused++
		b.mu.Unlock()
		b.log.Warn("request refused: no worker can take it and the held requests are at their cap",
			"held", held, "held_bytes", bytes, "max_held_requests", b.maxHeld, "max_held_bytes", b.maxHeldBytes)
		reply := vpoller.Failf("Request not queued: no worker can take it and %d requests (%d bytes) already wait (limits: %d requests, %d bytes)",
			held, bytes, b.maxHeld, b.maxHeldBytes).Encode(vpoller.PythonASCII)
		client.enqueue(replyFrames(envelope, reply))
		return
	}
	defer b.mu.Unlock()
	req := &request{id: b.newID(), client: client, envelope: envelope, payload: payload, arrived: time.Now()}
	client.owed.Add(1)
	b.pending[req.id] = req
	b.dispatch(req)
}

// dispatch hands req to the worker with the fewest outstanding requests,
// or holds it (locked).
func (b *broker) dispatch(req *request) {
	w := b.pick()
	if w == nil {
		b.waiting = append(b.waiting, req)
		b.heldBytes += len(req.payload)
		return
	}
	req.worker = w
	req.dispatches++
	w.inflight[req.id] = req
	// pick skips full queues and we hold the lock, so enqueue fails only
	// when the connection is closing; its reader then calls workerGone,
	// which re-dispatches everything in inflight, this request included.
	w.enqueue([][]byte{[]byte(req.id), {}, req.payload})
}

// pick chooses the worker with the fewest outstanding requests whose send
// queue has room; ties go to the first one after the previous choice
// (round-robin). Nil when no worker can take a request (locked).
func (b *broker) pick() *workerConn {
	n := len(b.workers)
	best := -1
	for k := range n {
		i := (b.rr + k) % n
		w := b.workers[i]
		if w.full() {
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

// workerJoined adds a worker and gives it the held requests.
func (b *broker) workerJoined(w *workerConn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.workers = append(b.workers, w)
	b.retryWaiting()
}

// retryWaiting dispatches held requests while workers can take them (locked).
func (b *broker) retryWaiting() {
	held := b.waiting
	b.waiting, b.heldBytes = nil, 0
	for i, req := range held {
		if b.pick() == nil {
			for _, r := range held[i:] {
				b.waiting = append(b.waiting, r)
				b.heldBytes += len(r.payload)
			}
			return
		}
		b.dispatch(req)
	}
}

// workerGone removes a worker and re-dispatches what it still owed.
func (b *broker) workerGone(w *workerConn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.workers = slices.DeleteFunc(b.workers, func(x *workerConn) bool { return x == w })
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
}

// refuseLostTwice answers a request whose second worker died with it
// (locked): it is not sent to a third.
func (b *broker) refuseLostTwice(req *request) {
	delete(b.pending, req.id)
	req.client.owed.Add(-1)
	b.counters.poisoned++
	method := "request"
	if r, err := vpoller.DecodeRequest(req.payload); err == nil && r.Method != "" {
		method = r.Method
	}
	b.log.Warn("request dropped: the workers of its two attempts died with it", "method", method, "client", req.client.remote)
	reply := vpoller.Failf("Task %s failed: %s", method, MsgLostTwice).Encode(vpoller.PythonASCII)
	req.client.enqueue(replyFrames(req.envelope, reply))
}

// replied delivers a worker's reply to the client that asked.
func (b *broker) replied(w *workerConn, id string, reply []byte) {
	b.mu.Lock()
	req := b.pending[id]
	if req == nil || req.worker != w {
		b.counters.unmatched++
		b.mu.Unlock()
		b.log.Debug("dropping a worker frame that answers no outstanding request", "worker", w.remote, "bytes", len(reply))
		return
	}
	delete(b.pending, id)
	delete(w.inflight, id)
	b.counters.served++
	req.client.owed.Add(-1)
	b.mu.Unlock()
	if !req.client.enqueue(replyFrames(req.envelope, reply)) {
		b.log.Debug("client gone or not reading; reply dropped", "client", req.client.remote)
	}
}

// countTooLarge records a request refused for its size.
func (b *broker) countTooLarge() {
	b.mu.Lock()
	b.counters.tooLarge++
	b.mu.Unlock()
}

// expire drops requests held longer than hold or in flight longer than
// inflight (their clients have long given up and retried), and retries
// held requests whose workers' queues had no room.
func (b *broker) expire(now time.Time, hold, inflight time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.waiting[:0]
	for _, req := range b.waiting {
		if now.Sub(req.arrived) > hold {
			delete(b.pending, req.id)
			b.heldBytes -= len(req.payload)
			req.client.owed.Add(-1)
			b.counters.expired++
			b.log.Warn("request dropped: no worker took it in time", "held", now.Sub(req.arrived).Round(time.Millisecond), "client", req.client.remote)
			continue
		}
		kept = append(kept, req)
	}
	clear(b.waiting[len(kept):])
	b.waiting = kept
	for _, w := range b.workers {
		for id, req := range w.inflight {
			if now.Sub(req.arrived) > inflight {
				delete(w.inflight, id)
				delete(b.pending, id)
				req.client.owed.Add(-1)
				b.counters.expired++
				b.log.Warn("request dropped: worker did not answer in time", "worker", w.remote, "age", now.Sub(req.arrived).Round(time.Millisecond))
			}
		}
	}
	b.retryWaiting()
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
}

func (b *broker) stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Stats{
		Workers:      len(b.workers),
		Outstanding:  len(b.pending),
		Held:         len(b.waiting),
		HeldBytes:    b.heldBytes,
		Served:       b.counters.served,
		Redispatched: b.counters.redispatched,
		TooLarge:     b.counters.tooLarge,
		Expired:      b.counters.expired,
		Unmatched:    b.counters.unmatched,
		Refused:      b.counters.refused,
		Poisoned:     b.counters.poisoned,
	}
}
