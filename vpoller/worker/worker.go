package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpoller/zabbix-vpoller/internal/endpoint"
	"github.com/vpoller/zabbix-vpoller/internal/guard"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/backend"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultConcurrency     = 16
	DefaultRequestTimeout  = 9 * time.Second
	DefaultMaxRequestBytes = 8 << 20
	DefaultDialTimeout     = 5 * time.Second
	DefaultSendTimeout     = 10 * time.Second
	DefaultDrainTimeout    = 30 * time.Second
	DefaultMinBackoff      = 100 * time.Millisecond
	DefaultMaxBackoff      = 5 * time.Second
	DefaultAgentQueue      = 1000
	DefaultBreakerFailures = 3
	DefaultBreakerCooldown = 30 * time.Second
	DefaultMaxReplyBytes   = 64 << 20
	DefaultReleaseAfter    = 5 * time.Minute
)

// Executor answers one request; *vsphere.Service is the real one. It must
// always return a reply and honour ctx.
type Executor interface {
	Execute(ctx context.Context, req *vpoller.Request) *vpoller.Response
}

// Formatter renders a reply the way a result helper of the original
// vPoller does (vpoller.helpers.zabbix, ...). It is never given nil and
// must not fail: problems become text in its output, as in the original;
// a panic becomes the request's error reply.
type Formatter = func(req *vpoller.Request, resp *vpoller.Response) []byte

// Options configure a Worker. Zero values select the defaults.
type Options struct {
	// Proxy is the proxies' backend endpoints (tcp://host:port or
	// ipc://path), comma-separated: the worker keeps a connection to
	// each. Required.
	Proxy string
	// ID names the worker to our proxies, which rank the workers of each
	// vCenter by it; keep it the same across restarts. Default: the host
	// name.
	ID string
	// Queue is how many requests the worker takes from each proxy ahead
	// of Concurrency (default 4 x Concurrency); it announces it, and our
	// proxies never send more.
	Queue int
	// SetRole is told when a vSphere agent's role changes (owner,
	// standby, passive), from the assignments of our proxies: the
	// vSphere service starts or drops the agent's mirror and sweep. Nil
	// only records the roles for status.
	SetRole func(agent string, role Role) error
	// ReleaseAfter is how long an agent keeps its role after no proxy
	// names this worker its owner or standby, before it is made passive
	// (its mirror and sweep dropped). Default DefaultReleaseAfter.
	ReleaseAfter time.Duration
	// Now is the clock of the role grace periods (default time.Now).
	Now func() time.Time
	// Concurrency is how many requests run at once. vSphere work is I/O
	// bound, so this is not tied to the CPU count. When all are busy the
	// worker stops reading, so the proxy sees the backpressure.
	Concurrency int
	// RequestTimeout bounds one request's execution.
	RequestTimeout time.Duration
	// MaxRequestBytes bounds a request frame; larger ones are answered
	// with MsgTooLarge without being decoded.
	MaxRequestBytes int
	// Helpers are the helper names the worker offers (the [worker]
	// helpers setting); names Formatters does not have are ignored with a
	// warning.
	Helpers []string
	// Formatters are the result helpers the worker can apply, by the name
	// a request puts in its "helper" field. They are Zabbix knowledge, so
	// this package has none of its own: cmd/vpoller-worker passes
	// lld/helpers.Formatters(). Nil offers no helper (every reply plain).
	Formatters map[string]Formatter
	// DialTimeout bounds one connection attempt including the handshake.
	DialTimeout time.Duration
	// SendTimeout bounds writing one reply; a proxy that does not take it
	// in time is treated as a broken connection.
	SendTimeout time.Duration
	// DrainTimeout bounds how long Run waits for requests in flight after
	// its context is cancelled; they are then cancelled.
	DrainTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay between reconnects.
	MinBackoff, MaxBackoff time.Duration
	// Mechanism secures the proxy connection (zmtp.CurveClient); nil is
	// NULL, what the original proxy speaks.
	Mechanism zmtp.Mechanism
	// Agents are the vSphere agents the executor serves (default: the
	// executor's Agents(), when it has that method); each gets a lane
	// (bulkhead and circuit breaker), and they are announced to the
	// proxies. Requests for other names run without one (the executor
	// refuses them at once).
	Agents []string
	// AgentConcurrency caps one agent's requests running at once; 0 means
	// half of Concurrency when there are several agents, else all of it.
	AgentConcurrency int
	// AgentQueue caps one agent's requests waiting for a slot (they hold
	// no worker slot while they wait); beyond it requests are refused at
	// once with MsgAgentBusy.
	AgentQueue int
	// BreakerFailures consecutive failures classified by Unreachable open
	// an agent's circuit; BreakerCooldown later one probe may pass.
	BreakerFailures int
	BreakerCooldown time.Duration
	// Unreachable classifies the Cause of a failure reply; nil counts
	// only timeouts (context.DeadlineExceeded).
	Unreachable func(error) bool
	// MaxReplyBytes bounds a reply; a larger one is replaced by an error
	// reply so that the proxy's limit is not hit.
	MaxReplyBytes int
	Logger        *slog.Logger
}

// MsgTooLarge starts the reply to a frame above MaxRequestBytes.
const MsgTooLarge = "Request too large"

// Stats are a Worker's counters.
type Stats struct {
	Requests   uint64 // requests answered (a reply was produced and sent or attempted)
	InFlight   int64  // requests being handled now
	Queued     int64  // requests read and waiting for a slot
	Connected  bool   // a proxy connection is up
	Reconnects uint64 // connections established after the first (all proxies)
	// Proxies is each proxy connection's state, in configured order.
	Proxies []LinkStats
}

// LinkStats is one proxy connection's state.
type LinkStats struct {
	Endpoint  string
	Connected bool
	// VPollerProxy tells our proxy (it announces itself) from an original.
	VPollerProxy bool
	Connects     uint64
}

// link is one proxy connection's state.
type link struct {
	up, ours atomic.Bool
	connects atomic.Uint64
	// reannounce asks the connection to be replaced by one that
	// announces the current agents (SetAgents); buffered, one pending.
	reannounce chan struct{}
}

// Worker serves one proxy connection at a time, reconnecting when it
// breaks. Create it with New and start it with Run.
type Worker struct {
	exec    Executor
	opts    Options
	log     *slog.Logger
	helpers map[string]Formatter
	latency *prometheus.HistogramVec

	// mu guards lanes and agents, which SetAgents changes (a reload).
	mu     sync.RWMutex
	lanes  map[string]*lane
	agents []string // announced to the proxies

	proxies []string
	links   []*link
	roles   *roleTable

	requests   atomic.Uint64
	inFlight   atomic.Int64
	queued     atomic.Int64
	reconnects atomic.Uint64
}

// New checks opts and prepares a worker; it does no network work.
func New(exec Executor, opts Options) (*Worker, error) {
	if exec == nil {
		return nil, errors.New("worker: nil executor")
	}
	proxies, err := parseProxies(opts.Proxy)
	if err != nil {
		return nil, err
	}
	if a, ok := exec.(interface{ Agents() []string }); ok && opts.Agents == nil {
		// The vCenters announced to the proxies and given lanes: those
		// the executor serves, unless the caller narrowed them.
		opts.Agents = a.Agents()
	}

	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	def(&opts.RequestTimeout, DefaultRequestTimeout)
	def(&opts.DialTimeout, DefaultDialTimeout)
	def(&opts.SendTimeout, DefaultSendTimeout)
	def(&opts.DrainTimeout, DefaultDrainTimeout)
	def(&opts.MinBackoff, DefaultMinBackoff)
	def(&opts.MaxBackoff, DefaultMaxBackoff)
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Mechanism == nil {
		opts.Mechanism = zmtp.Null()
	}
	if opts.AgentConcurrency <= 0 {
		opts.AgentConcurrency = opts.Concurrency
		if len(opts.Agents) > 1 {
			opts.AgentConcurrency = max(1, opts.Concurrency/2)
		}
	}
	opts.AgentConcurrency = min(opts.AgentConcurrency, opts.Concurrency)
	if opts.AgentQueue <= 0 {
		opts.AgentQueue = DefaultAgentQueue
	}
	if opts.BreakerFailures <= 0 {
		opts.BreakerFailures = DefaultBreakerFailures
	}
	def(&opts.BreakerCooldown, DefaultBreakerCooldown)
	if opts.Unreachable == nil {
		opts.Unreachable = func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
	}
	if opts.MaxReplyBytes <= 0 {
		opts.MaxReplyBytes = DefaultMaxReplyBytes
	}
	if opts.Queue <= 0 {
		opts.Queue = 4 * opts.Concurrency
	}
	def(&opts.ReleaseAfter, DefaultReleaseAfter)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ID == "" {
		opts.ID, _ = os.Hostname()
	}
	w := &Worker{exec: exec, opts: opts, log: opts.Logger, helpers: map[string]Formatter{}, lanes: map[string]*lane{}, latency: newLatency(),
		proxies: proxies}
	for range proxies {
		w.links = append(w.links, &link{reannounce: make(chan struct{}, 1)})
	}
	w.roles = newRoleTable(opts.Agents, opts.SetRole, opts.ReleaseAfter, opts.Now, w.log)
	w.agents = append([]string(nil), opts.Agents...)
	sort.Strings(w.agents)
	for _, a := range opts.Agents {
		w.lanes[a] = w.newLane(a)
	}
	for _, n := range opts.Helpers {
		if f := opts.Formatters[n]; f != nil {
			w.helpers[n] = f
		} else {
			w.log.Warn("helper not available, requests naming it get the plain reply", "helper", n)
		}
	}
	return w, nil
}

func (w *Worker) newLane(agent string) *lane {
	l := newLane(agent, w.opts.AgentConcurrency, w.opts.AgentQueue, w.opts.BreakerFailures, w.opts.BreakerCooldown, w.log)
	l.observe = w.observer(agent)
	return l
}

// lane is agent's lane, nil for a name the worker does not serve.
func (w *Worker) lane(agent string) *lane {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.lanes[agent]
}

// laneSnapshot is a copy of the lanes by agent name.
func (w *Worker) laneSnapshot() map[string]*lane {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make(map[string]*lane, len(w.lanes))
	for n, l := range w.lanes {
		out[n] = l
	}
	return out
}

// Agents returns the vSphere agents the worker announces, sorted.
func (w *Worker) Agents() []string {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return append([]string(nil), w.agents...)
}

// SetAgents changes the vSphere agents the worker serves and announces
// (a reload: the executor serves them already). An added agent gets a
// lane and role auto; a removed one loses both (its requests in flight
// finish in their lane). When the set changed, every proxy connection is
// replaced by one that announces the new set (the set is part of the
// handshake, docs/broker.md): the new connection is made first, then the
// old one closed; what the proxy still owed on the old one it sends again
// on the new one. It reports whether the set changed.
func (w *Worker) SetAgents(agents []string) bool {
	agents = append([]string(nil), agents...)
	sort.Strings(agents)
	agents = slices.Compact(agents)
	w.mu.Lock()
	if slices.Equal(agents, w.agents) {
		w.mu.Unlock()
		return false
	}
	lanes := make(map[string]*lane, len(agents))
	for _, a := range agents {
		if l := w.lanes[a]; l != nil {
			lanes[a] = l
		} else {
			lanes[a] = w.newLane(a)
		}
	}
	w.lanes, w.agents = lanes, agents
	w.mu.Unlock()
	w.roles.setAgents(agents)
	for _, l := range w.links {
		select {
		case l.reannounce <- struct{}{}:
		default: // one is pending already; it will announce the newest set
		}
	}
	return true
}

// LaneStatus reports each vSphere agent's bulkhead and circuit, by name.
func (w *Worker) LaneStatus() vpoller.Object {
	lanes := w.laneSnapshot()
	names := make([]string, 0, len(lanes))
	for n := range lanes {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(vpoller.Object, 0, len(names))
	for _, n := range names {
		out = append(out, vpoller.Field{Key: n, Value: lanes[n].status()})
	}
	return out
}

// Stats returns the worker's counters.
func (w *Worker) Stats() Stats {
	st := Stats{Requests: w.requests.Load(), InFlight: w.inFlight.Load(), Queued: w.queued.Load(), Reconnects: w.reconnects.Load()}
	for i, l := range w.links {
		up := l.up.Load()
		st.Connected = st.Connected || up
		st.Proxies = append(st.Proxies, LinkStats{Endpoint: w.proxies[i], Connected: up, VPollerProxy: l.ours.Load(), Connects: l.connects.Load()})
	}
	return st
}

// Roles reports each vSphere agent's role, from the assignments of our
// proxies ("auto" while none has assigned one).
func (w *Worker) Roles() map[string]Role { return w.roles.current() }

// parseProxies reads the comma-separated proxy endpoints.
func parseProxies(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, err := endpoint.Parse(p); err != nil {
			return nil, fmt.Errorf("worker: proxy %w", err)
		}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("worker: proxy %s is listed twice", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("worker: proxy endpoint missing (want tcp://host:port, or several separated by commas)")
	}
	return out, nil
}

// Run serves until ctx is cancelled, then stops reading requests, lets
// the ones in flight finish (at most DrainTimeout, then cancels them),
// closes the connections and returns nil. It keeps one connection to each
// proxy of Options.Proxy; connection failures are not errors: Run logs
// them and reconnects with capped exponential backoff.
//
// Each connection's reader never waits for a free slot: it puts requests
// in a queue that one feeder takes them from as slots free up, so it is
// always there to answer a proxy's PING and to take an assignment. The
// queue holds Queue requests per proxy (our proxies never send more); a
// full queue stops the readers, so other proxies see the backpressure.
func (w *Worker) Run(ctx context.Context) error {
	// Requests run on execCtx, which outlives ctx by the drain period.
	execCtx, cancelExec := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelExec()
	var handlers sync.WaitGroup
	sem := make(chan struct{}, w.opts.Concurrency)
	jobs := make(chan incoming, w.opts.Queue*len(w.proxies))
	drained := make(chan struct{})

	var wg sync.WaitGroup
	// A panic in one of these is logged and the loop runs again: the
	// worker's other vCenters and connections go on.
	wg.Go(func() {
		guard.Loop(ctx, w.log, "worker feeder", func(ctx context.Context) { w.feed(ctx, execCtx, jobs, sem, &handlers) })
	})
	for i, ep := range w.proxies {
		wg.Go(func() {
			guard.Loop(ctx, w.log, "worker proxy connection", func(ctx context.Context) { w.serveProxy(ctx, i, ep, jobs, drained) })
		})
	}
	if w.opts.ReleaseAfter > 0 {
		wg.Go(func() { guard.Loop(ctx, w.log, "worker role releases", w.releaseLoop) })
	}
	<-ctx.Done()
	// Stopping: readers take no more requests; let those in flight answer
	// on their connections, then close them.
	w.drain(&handlers, cancelExec)
	close(drained)
	wg.Wait()
	w.log.Info("worker stopped", "proxies", w.opts.Proxy, "requests", w.requests.Load())
	return nil
}

// incoming is a request read from a proxy connection, waiting for a slot.
type incoming struct {
	conn   *peerConn
	frames [][]byte
}

// feed gives queued requests to free slots until ctx ends; what is still
// queued then is not taken (our proxy re-dispatches it when the
// connection closes, clients of other proxies retry).
func (w *Worker) feed(ctx, execCtx context.Context, jobs <-chan incoming, sem chan struct{}, handlers *sync.WaitGroup) {
	for {
		var in incoming
		select {
		case <-ctx.Done():
			return
		case in = <-jobs:
		}
		select {
		case <-ctx.Done():
			return
		case sem <- struct{}{}:
		}
		w.queued.Add(-1)
		handlers.Add(1)
		w.inFlight.Add(1)
		w.dispatch(execCtx, in.conn, in.frames, sem, handlers)
	}
}

// serveProxy keeps a connection to proxy number i (endpoint ep) until ctx
// ends, reconnecting when it breaks; once ctx has ended it keeps the last
// connection open until drained is closed, so that replies of requests in
// flight can still be sent. On a reannounce (SetAgents) it connects again
// with the new announcement first and then closes the old connection.
func (w *Worker) serveProxy(ctx context.Context, i int, ep string, jobs chan<- incoming, drained <-chan struct{}) {
	st := w.links[i]
	var next *peerConn // a connection made for a reannounce
	for ctx.Err() == nil {
		conn := next
		next = nil
		if conn == nil {
			// A pending reannounce is served by this dial.
			select {
			case <-st.reannounce:
			default:
			}
			var err error
			if conn, err = w.dial(ctx, ep); err != nil {
				return // ctx cancelled
			}
		}
		if st.connects.Add(1) > 1 {
			w.reconnects.Add(1)
		}
		ours := conn.c.PeerMeta(backend.PropProxy) != ""
		st.ours.Store(ours)
		st.up.Store(true)
		w.log.Info("connected to proxy", "proxy", ep, "vpoller_proxy", ours)
		readerDone := make(chan error, 1)
		go func() {
			var err error
			if perr := guard.Run(w.log, "worker reader", func() { err = w.read(ctx, i, conn, jobs) }); perr != nil {
				err = perr
			}
			readerDone <- err
		}()
	wait:
		select {
		case err := <-readerDone:
			conn.close()
			st.up.Store(false)
			if ctx.Err() == nil {
				// Handlers of this connection finish on their own; their
				// replies cannot be sent and are dropped (the proxy
				// re-dispatches or the client retries).
				w.log.Warn("proxy connection lost, reconnecting", "proxy", ep, "err", err)
				continue
			}
			return
		case <-st.reannounce:
			// The new connection first, so that the proxy always knows
			// this worker; requests it sent on the old one and still
			// awaits are sent again on the new one when the old closes.
			nc, err := w.dial(ctx, ep)
			if err != nil {
				break wait // ctx cancelled: drain as below
			}
			w.log.Info("reconnecting to proxy to announce the new vCenters", "proxy", ep, "serves", len(w.Agents()))
			conn.close()
			<-readerDone
			next = nc
			continue
		case <-ctx.Done():
		}
		<-drained
		conn.close()
		<-readerDone
		st.up.Store(false)
		return
	}
	if next != nil {
		next.close()
	}
	st.up.Store(false)
}

// drain waits for the handlers, at most DrainTimeout, then cancels the
// requests still running and waits for their (immediate) return.
func (w *Worker) drain(handlers *sync.WaitGroup, cancelExec context.CancelFunc) {
	done := make(chan struct{})
	go func() { handlers.Wait(); close(done) }()
	t := time.NewTimer(w.opts.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		w.log.Warn("requests still running after the drain timeout; cancelling them",
			"in_flight", w.inFlight.Load(), "drain_timeout", w.opts.DrainTimeout)
		cancelExec()
		<-done
	}
}

// dial connects to ep with capped exponential backoff until it succeeds
// or ctx ends. Each attempt is bounded by DialTimeout.
func (w *Worker) dial(ctx context.Context, ep string) (*peerConn, error) {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(w.opts.MinBackoff),
		backoff.WithMaxInterval(w.opts.MaxBackoff),
		backoff.WithMaxElapsedTime(0), // keep trying; each attempt is bounded
	)
	failures := 0
	limits := zmtp.Limits{MaxMessage: int64(w.opts.MaxRequestBytes) + envelopeAllowance,
		Discard: max(4*int64(w.opts.MaxRequestBytes), 64<<20)}
	for {
		// Built for each attempt: SetAgents may change the set meanwhile.
		meta := map[string]string{backend.PropWorker: backend.Announcement{ID: w.opts.ID, Serves: w.Agents(), Queue: w.opts.Queue}.Encode()}
		conn, err := dialPeer(ctx, ep, w.opts.DialTimeout, w.opts.Mechanism, limits, meta)
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		failures++
		delay := b.NextBackOff()
		// Log the first failure and then sparingly, not every attempt.
		if failures == 1 || failures%10 == 0 {
			w.log.Warn("cannot connect to proxy", "proxy", ep, "attempts", failures, "retry_in", delay, "err", err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// envelopeAllowance is room for routing frames beside a request of
// MaxRequestBytes.
const envelopeAllowance = 4 << 10

// read is the connection's only reader: it answers PINGs (inside
// ReadMsg), applies assignments from our proxy, and queues requests for
// the feeder. It returns when the connection breaks or, once ctx is
// cancelled, when the connection is closed.
func (w *Worker) read(ctx context.Context, i int, conn *peerConn, jobs chan<- incoming) error {
	ours := w.links[i].ours.Load()
	for {
		frames, err := conn.recv()
		if te, ok := zmtp.IsTooLarge(err); ok {
			w.log.Warn("request too large", "bytes", te.Size, "limit", w.opts.MaxRequestBytes)
			reply := vpoller.Failf("%s: %d bytes, the limit is %d", MsgTooLarge, te.Size, w.opts.MaxRequestBytes).Encode(vpoller.PythonASCII)
			w.requests.Add(1)
			_ = conn.send(append(routingEnvelope(te.Head), reply), w.opts.SendTimeout)
			continue
		}
		if err != nil {
			return err
		}
		if ours && backend.IsControl(frames) {
			a, err := backend.ParseAssignment(frames)
			if err != nil {
				w.log.Warn("unreadable control message from the proxy", "proxy", w.proxies[i], "err", err)
				continue
			}
			w.roles.assign(i, a)
			continue
		}
		if ctx.Err() != nil {
			// Stopping: not taken. A proxy that tracks outstanding
			// requests per connection (ours) re-dispatches it when this
			// connection closes; clients of other proxies retry.
			w.log.Debug("request arrived while stopping; not taken")
			continue
		}
		w.queued.Add(1)
		select {
		case jobs <- incoming{conn: conn, frames: frames}:
		case <-ctx.Done():
			w.queued.Add(-1)
		}
	}
}

// routingEnvelope is the routing part of a refused message's first
// frames: up to and including the empty delimiter.
func routingEnvelope(head [][]byte) [][]byte {
	for i, f := range head {
		if len(f) == 0 {
			return append([][]byte{}, head[:i+1]...)
		}
	}
	if len(head) > 0 {
		return [][]byte{head[0]}
	}
	return nil
}
