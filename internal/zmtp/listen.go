package zmtp

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/endpoint"
	"github.com/vpoller/zabbix-vpoller/internal/lograte"
)

// Defaults of ListenConfig.
const (
	// DefaultMaxConns caps the established connections of one listener.
	DefaultMaxConns = 1024
	// DefaultMaxHandshakes caps the handshakes in progress on one
	// listener: a handshake takes milliseconds, so a few dozen at once is
	// plenty for honest peers, and the cap is what a flood of half-open
	// connections runs into.
	DefaultMaxHandshakes = 64
	// DefaultMaxHandshakesPerSource caps the handshakes in progress from
	// one address (IPv4 address, IPv6 /64; every ipc:// peer is one
	// source), so that one address cannot fill the handshake pool.
	DefaultMaxHandshakesPerSource = 32
)

// Authentication-failure backoff per source (see ListenConfig).
const (
	authDelayFirst  = 100 * time.Millisecond
	authDelayMax    = 5 * time.Second
	authQuiet       = time.Minute // a source this long without a failure is forgiven
	maxFailing      = 4096        // sources with failures remembered at once
	authLogInterval = 10 * time.Second
)

// handshakeGrace is how recently a handshake must have received bytes to
// count as making progress. A newcomer to a full pool whose handshakes
// all made progress this recently waits for a slot (honest peers
// connecting in a burst, a client pool opening its connections) instead
// of closing one; a handshake silent for longer is closed to make room,
// as a peer that sent 10 bytes and stopped is.
const handshakeGrace = time.Second

// queuePerHandshake sizes the queue of newcomers waiting for a handshake
// slot: this many per slot of MaxHandshakes (512 by default), enough for
// a client pool opening hundreds of connections at once.
const queuePerHandshake = 8

// ListenConfig configures a Listener.
//
// A listener keeps two pools. Handshakes: at most MaxHandshakes at once,
// at most MaxHandshakesPerSource from one address. A newcomer to a full
// pool waits, before a byte is read, in a queue of at most 8 per slot of
// MaxHandshakes; a slot that frees goes to the waiter whose address holds
// the fewest handshakes (then the earliest). A waiter may close the
// handshake that has waited longest for its peer (no byte received for
// longest, and none for handshakeGrace): one of its own address's when
// that address is at its share, else one of the address that holds the
// most handshakes. So a burst of honest peers from one address queues
// instead of resetting each other, a peer that sent 10 bytes and stopped
// goes before one exchanging keys, and a few addresses cannot push out a
// peer from another. A waiter not admitted within half the handshake
// timeout is closed (QueueExpired); a newcomer to a full queue closes the
// earliest waiter of the address with the most connections waiting or
// handshaking. A handshake never takes the place of an established
// connection.
// Established: at most MaxConns; see Evict.
//
// A source (address) whose handshake failed for its credentials (ErrAuth)
// has its next handshakes delayed, in their own goroutines before a byte
// is read: 100 ms after the first failure, doubling up to 5 s, and from
// one source they start no closer together than that delay. So guessing a
// PLAIN secret or probing CURVE keys runs at well under 10 attempts per
// second per source, while other sources are not slowed. A success from
// the source, or a minute without failure, forgives it. Refusals are
// logged at most once per 10 s, with their count.
type ListenConfig struct {
	Config
	// Name names the socket in logs ("frontend", "mgmt").
	Name string
	// MaxConns caps the established connections (handshake completed);
	// handshakes in progress are capped apart (MaxHandshakes). 0 means
	// DefaultMaxConns.
	MaxConns int
	// MaxHandshakes caps the handshakes in progress; 0 means
	// DefaultMaxHandshakes.
	MaxHandshakes int
	// MaxHandshakesPerSource caps the handshakes in progress from one
	// address; 0 means DefaultMaxHandshakesPerSource (never more than
	// MaxHandshakes).
	MaxHandshakesPerSource int
	// IPCMode is the mode of an ipc:// socket file; 0 means 0600, so only
	// the daemon's user (and root) can connect.
	IPCMode fs.FileMode
	// Evict, when MaxConns connections are established and a newcomer
	// completes its handshake (so has authenticated), makes room for it by
	// closing the established connection that has waited longest without
	// a message and is not busy (see Conn.SetBusy). Idle connections then
	// cannot lock out the clients that have something to ask, and peers
	// that cannot authenticate cannot evict anyone. Without Evict, or when
	// every connection is busy, the newcomer is closed.
	Evict  bool
	Logger *slog.Logger
}

// Listener accepts ZMTP connections: each is handshaken in its own
// goroutine under a deadline and then handed to the handler.
type Listener struct {
	ln    net.Listener
	cfg   ListenConfig
	log   *slog.Logger
	warn  *lograte.Limiter
	clock clock
	// seq orders progress: a handshake's progress is the seq of its last
	// read that brought bytes (or of its admission).
	seq atomic.Int64
	// hook, when set (by tests, before Serve), is told of events as they
	// happen: "queued" for a newcomer that waits for a handshake slot,
	// "progress" of a handshake, "auth_failed" once a failure is
	// recorded, "released" once a connection has left its pool.
	hook func(event, remote string)

	mu          sync.Mutex
	handshakes  map[*slot]struct{}
	waiting     map[*slot]struct{} // newcomers queued for a handshake slot
	established map[*slot]struct{}
	sources     map[string]*source // sources with handshakes or failures
	failing     list.List          // *source with failures, least recent failure first
	authLogAt   time.Time          // last authentication-failure log line
	authLogN    int64              // failures since that line

	accepted, refused, evicted, hsEvicted, failed, authFailed, authDelayed, acceptErrors atomic.Int64
	queued, queueExpired, queueEvicted                                                   atomic.Int64
}

// source is one remote address's share of a listener.
type source struct {
	key        string
	handshakes int
	waiting    int           // its connections queued for a handshake slot
	fails      int           // authentication failures since forgiven
	lastFail   time.Time     // of the last one
	next       time.Time     // earliest start of its next handshake
	elem       *list.Element // in Listener.failing while fails > 0
}

// slot is one accepted connection while it lives.
type slot struct {
	raw      net.Conn
	src      *source
	progress atomic.Int64
	// lastAt is the clock time (UnixNano) of the last progress.
	lastAt   atomic.Int64
	gone     chan struct{} // closed when evicted
	admitted chan struct{} // closed when a queued slot enters the handshake pool
	arrived  int64         // order of arrival, for the queue
	authWait time.Duration // delay before its handshake starts (set on entering)
	conn     *Conn         // set once established (under Listener.mu)
	evicted  bool          // closed to make room (under Listener.mu)
	entered  bool          // in the handshake pool, or past it (under Listener.mu)
}

// clock is the time a listener's authentication backoff runs on (tests
// replace it).
type clock interface {
	Now() time.Time
	// After fires once after d; stop cancels it.
	After(d time.Duration) (fire <-chan time.Time, stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) After(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// ListenerStats are a listener's counters since Listen.
type ListenerStats struct {
	Active     int64 // established connections open now
	Handshakes int64 // handshakes in progress now (delayed ones included)
	Accepted   int64 // connections established after their handshake
	// Refused counts connections closed after their handshake because
	// MaxConns were established and none could be evicted.
	Refused int64
	// Evicted counts established connections closed to make room for an
	// authenticated newcomer (ListenConfig.Evict).
	Evicted int64
	// HandshakesEvicted counts handshakes closed to make room in a full
	// handshake pool.
	HandshakesEvicted int64
	Failed            int64 // handshakes that failed (protocol, timeout)
	AuthFailed        int64 // handshakes refused for their credentials
	// AuthDelayed counts handshakes delayed because their source had
	// failed to authenticate.
	AuthDelayed int64
	// AcceptErrors counts failed accepts (EMFILE and the like); each was
	// retried after a backoff.
	AcceptErrors int64
	// Queued is the connections waiting for a handshake slot now;
	// QueuedTotal counts those that waited, QueueExpired those closed
	// after waiting half the handshake timeout, QueueEvicted those closed
	// to make room in a full queue.
	Queued, QueuedTotal, QueueExpired, QueueEvicted int64
}

// Listen binds endpoint (tcp://host:port, "*" for every interface, port 0
// for any; or ipc://path). Nothing is accepted until Serve.
func Listen(ep string, cfg ListenConfig) (*Listener, error) {
	e, err := endpoint.Parse(ep)
	if err != nil {
		return nil, err
	}
	if err := checkMetadata(cfg.Metadata); err != nil {
		return nil, err
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxHandshakes <= 0 {
		cfg.MaxHandshakes = DefaultMaxHandshakes
	}
	if cfg.MaxHandshakesPerSource <= 0 {
		cfg.MaxHandshakesPerSource = DefaultMaxHandshakesPerSource
	}
	cfg.MaxHandshakesPerSource = min(cfg.MaxHandshakesPerSource, cfg.MaxHandshakes)
	if cfg.IPCMode == 0 {
		cfg.IPCMode = 0o600
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	network, addr := e.ListenAddr()
	if network == "unix" {
		// The runtime directory (/run/vpoller) may not exist yet when
		// the daemon is started by hand.
		if err := os.MkdirAll(filepath.Dir(addr), 0o755); err != nil {
			return nil, fmt.Errorf("bind %s: %w (choose another path or a tcp endpoint)", ep, err)
		}
		if err := removeStaleSocket(addr); err != nil {
			return nil, fmt.Errorf("bind %s: %w", ep, err)
		}
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", ep, err)
	}
	if network == "unix" {
		if err := os.Chmod(addr, cfg.IPCMode); err != nil {
			ln.Close()
			return nil, fmt.Errorf("bind %s: %w", ep, err)
		}
	}
	return &Listener{
		ln:          ln,
		cfg:         cfg,
		log:         cfg.Logger.With("socket", cfg.Name),
		warn:        lograte.New(10 * time.Second),
		clock:       realClock{},
		handshakes:  map[*slot]struct{}{},
		waiting:     map[*slot]struct{}{},
		established: map[*slot]struct{}{},
		sources:     map[string]*source{},
	}, nil
}

// removeStaleSocket removes a socket file left by a process that is gone
// (nothing answers on it), as libzmq does; a live one is an error.
func removeStaleSocket(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s is in use by another process", path)
	}
	return os.Remove(path)
}

// Addr is the bound address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Endpoint is the bound address as an endpoint a client can dial.
func (l *Listener) Endpoint() string {
	a := l.ln.Addr()
	if a.Network() == "unix" {
		return "ipc://" + a.String()
	}
	return "tcp://" + a.String()
}

// Close stops accepting; Serve then returns after its connections ended.
func (l *Listener) Close() error { return l.ln.Close() }

// Stats returns the listener's counters.
func (l *Listener) Stats() ListenerStats {
	l.mu.Lock()
	active, hs, queued := len(l.established), len(l.handshakes), len(l.waiting)
	l.mu.Unlock()
	return ListenerStats{Active: int64(active), Handshakes: int64(hs), Accepted: l.accepted.Load(), Refused: l.refused.Load(),
		Evicted: l.evicted.Load(), HandshakesEvicted: l.hsEvicted.Load(), Failed: l.failed.Load(), AuthFailed: l.authFailed.Load(),
		AuthDelayed: l.authDelayed.Load(), AcceptErrors: l.acceptErrors.Load(),
		Queued: int64(queued), QueuedTotal: l.queued.Load(), QueueExpired: l.queueExpired.Load(), QueueEvicted: l.queueEvicted.Load()}
}

// Serve accepts connections until ctx is done or the listener is closed,
// and runs handle for each one that completes its handshake and is
// admitted, in its own goroutine. The connection is closed when handle
// returns, or when ctx is done (which makes a blocked ReadMsg return).
// Serve returns after every handler has returned. An accept error never
// stops the loop: it is logged and retried with backoff (an exhausted
// file table, EMFILE, is temporary). A panic in handle is logged and ends
// that connection only.
func (l *Listener) Serve(ctx context.Context, handle func(context.Context, *Conn)) error {
	stop := context.AfterFunc(ctx, func() { l.ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	// stopping wakes the handshakes still waiting out a delay.
	stopping := make(chan struct{})
	defer close(stopping)
	var delay time.Duration
	for {
		raw, err := l.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			l.acceptErrors.Add(1)
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			if l.warn.Allow() {
				l.log.Warn("accept failed; retrying", "err", err, "retry_in", delay, "suppressed", l.warn.Suppressed())
			}
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		delay = 0
		sl, queued := l.admit(raw)
		if queued && l.hook != nil {
			l.hook("queued", remoteName(raw))
		}
		wg.Go(func() {
			defer l.release(sl)
			l.serveConn(ctx, stopping, sl, handle)
		})
	}
}

// sourceKey is the address a connection's handshakes are counted and
// delayed by: the IPv4 address, the IPv6 /64 (one host usually holds a
// whole /64), or "local" for ipc://.
func sourceKey(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if ip4 := a.IP.To4(); ip4 != nil {
			return ip4.String()
		}
		return a.IP.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return "local"
}

// admit registers a new connection: in the handshake pool when it has
// room, else in the queue (see ListenConfig), where serveConn waits.
func (l *Listener) admit(raw net.Conn) (sl *slot, queued bool) {
	key := sourceKey(raw)
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	src := l.sources[key]
	if src == nil {
		src = &source{key: key}
		l.sources[key] = src
	}
	sl = &slot{raw: raw, src: src, gone: make(chan struct{}), admitted: make(chan struct{}), arrived: l.seq.Add(1)}
	// After each pump no waiter fits the pool: a newcomer that fits
	// passes nobody.
	if l.roomLocked(src) {
		l.enterLocked(sl, now)
		return sl, false
	}
	if len(l.waiting) >= queuePerHandshake*l.cfg.MaxHandshakes {
		l.evictWaiterLocked()
	}
	l.waiting[sl] = struct{}{}
	src.waiting++
	l.queued.Add(1)
	l.pumpLocked(now)
	return sl, true
}

// roomLocked tells whether a handshake from src fits the pool now.
func (l *Listener) roomLocked(src *source) bool {
	return src.handshakes < l.cfg.MaxHandshakesPerSource && len(l.handshakes) < l.cfg.MaxHandshakes
}

// enterLocked puts sl in the handshake pool.
func (l *Listener) enterLocked(sl *slot, now time.Time) {
	sl.entered = true
	sl.progress.Store(l.seq.Add(1))
	sl.lastAt.Store(now.UnixNano())
	l.handshakes[sl] = struct{}{}
	sl.src.handshakes++
	sl.authWait = l.authWaitLocked(sl.src, now)
}

// before orders waiters: the one whose address holds fewer handshakes,
// then the earlier.
func before(a, b *slot) bool {
	if a.src.handshakes != b.src.handshakes {
		return a.src.handshakes < b.src.handshakes
	}
	return a.arrived < b.arrived
}

// pumpLocked moves waiters into the handshake pool: into free slots
// first, best waiter first; then, for the waiters in turn, into the slot
// of a handshake silent for handshakeGrace that they may close. It
// returns when the next waiter could get in by closing one (zero: none
// to wait for).
func (l *Listener) pumpLocked(now time.Time) (retry time.Time) {
	for len(l.waiting) > 0 {
		var best *slot
		for w := range l.waiting {
			if l.roomLocked(w.src) && (best == nil || before(w, best)) {
				best = w
			}
		}
		if best != nil {
			l.grantLocked(best, now)
			continue
		}
		// No room for anyone: a stalled handshake makes room for the
		// best waiter that may close it. One victim per pool a waiter
		// looks into: its address's share, or the whole pool.
		retry = time.Time{}
		victims := map[*source]*slot{}
		var global *slot
		globalDone := false
		var chosen, victim *slot
		for w := range l.waiting {
			var v *slot
			if w.src.handshakes >= l.cfg.MaxHandshakesPerSource {
				var ok bool
				if v, ok = victims[w.src]; !ok {
					v = l.stalestLocked(w.src)
					victims[w.src] = v
				}
			} else {
				if !globalDone {
					global, globalDone = l.stalestLocked(nil), true
				}
				v = global
			}
			if v == nil {
				continue
			}
			if at := time.Unix(0, v.lastAt.Load()).Add(handshakeGrace); at.After(now) {
				if retry.IsZero() || at.Before(retry) {
					retry = at
				}
				continue
			}
			if chosen == nil || before(w, chosen) {
				chosen, victim = w, v
			}
		}
		if chosen == nil {
			return retry
		}
		pool := "handshakes"
		if chosen.src.handshakes >= l.cfg.MaxHandshakesPerSource {
			pool = "handshakes from one source"
		}
		l.evictHandshakeLocked(victim, pool)
		l.grantLocked(chosen, now)
	}
	return time.Time{}
}

// grantLocked moves waiter w into the handshake pool and wakes it.
func (l *Listener) grantLocked(w *slot, now time.Time) {
	l.enterLocked(w, now) // first: leaving the queue must not drop its source
	l.leaveWaitingLocked(w)
	close(w.admitted)
}

func (l *Listener) leaveWaitingLocked(sl *slot) {
	if _, ok := l.waiting[sl]; !ok {
		return
	}
	delete(l.waiting, sl)
	sl.src.waiting--
	l.dropSourceLocked(sl.src)
}

// evictWaiterLocked closes, for a newcomer to a full queue, the earliest
// waiter of the address with the most connections waiting or handshaking.
func (l *Listener) evictWaiterLocked() {
	var victim *slot
	load := func(s *slot) int { return s.src.waiting + s.src.handshakes }
	for w := range l.waiting {
		if victim == nil || load(w) > load(victim) || load(w) == load(victim) && w.arrived < victim.arrived {
			victim = w
		}
	}
	if victim == nil {
		return
	}
	l.leaveWaitingLocked(victim)
	victim.evictLocked()
	l.queueEvicted.Add(1)
	if l.warn.Allow() {
		l.log.Warn("queued connection closed to make room: too many waiting for a handshake slot", "limit", queuePerHandshake*l.cfg.MaxHandshakes,
			"closed", remoteName(victim.raw), "suppressed", l.warn.Suppressed())
	}
}

// await waits, before a byte is read, until sl (queued, or admitted
// already) is in the handshake pool; false when it was closed, the wait
// expired or the listener stops.
func (l *Listener) await(ctx context.Context, stopping <-chan struct{}, sl *slot) bool {
	l.mu.Lock()
	entered := sl.entered // admitted at once (most connections): no timer
	l.mu.Unlock()
	if entered {
		return true
	}
	limit := l.cfg.HandshakeTimeout
	if limit <= 0 {
		limit = DefaultHandshakeTimeout
	}
	expire, cancelExpire := l.clock.After(limit / 2)
	defer cancelExpire()
	for {
		l.mu.Lock()
		if sl.entered || sl.evicted {
			l.mu.Unlock()
			return sl.entered
		}
		retry := l.pumpLocked(l.clock.Now())
		if sl.entered {
			l.mu.Unlock()
			return true
		}
		l.mu.Unlock()
		var fire <-chan time.Time
		cancel := func() bool { return false }
		if !retry.IsZero() {
			fire, cancel = l.clock.After(max(retry.Sub(l.clock.Now()), time.Millisecond))
		}
		select {
		case <-sl.admitted:
			cancel()
			return true
		case <-fire:
			continue
		case <-expire:
			cancel()
			l.mu.Lock()
			entered := sl.entered
			if !entered && !sl.evicted {
				l.leaveWaitingLocked(sl)
				l.queueExpired.Add(1)
			}
			l.mu.Unlock()
			if !entered && l.warn.Allow() {
				l.log.Warn("connection closed: no handshake slot within half the handshake timeout", "peer", remoteName(sl.raw),
					"limit", l.cfg.MaxHandshakes, "per_source", l.cfg.MaxHandshakesPerSource, "suppressed", l.warn.Suppressed())
			}
			return entered
		case <-sl.gone:
			cancel()
			return false
		case <-ctx.Done():
			cancel()
			return false
		case <-stopping:
			cancel()
			return false
		}
	}
}

// stalestLocked picks the handshake a waiter may close: within src when
// given, else within the source(s) holding the most handshakes; the one
// whose last progress is oldest.
func (l *Listener) stalestLocked(src *source) *slot {
	most := 0
	if src == nil {
		for s := range l.handshakes {
			most = max(most, s.src.handshakes)
		}
	}
	var victim *slot
	for s := range l.handshakes {
		if src != nil && s.src != src || src == nil && s.src.handshakes < most {
			continue
		}
		if victim == nil || s.progress.Load() < victim.progress.Load() {
			victim = s
		}
	}
	return victim
}

// evictLocked closes sl to make room (Listener.mu held): its goroutine
// sees gone, and its end is not counted as a failure.
func (sl *slot) evictLocked() {
	sl.evicted = true
	close(sl.gone)
	sl.raw.Close()
}

func (l *Listener) evictHandshakeLocked(victim *slot, pool string) {
	if victim == nil {
		return
	}
	l.leaveHandshakesLocked(victim)
	victim.evictLocked()
	l.hsEvicted.Add(1)
	if l.warn.Allow() {
		l.log.Warn("handshake closed to make room: too many "+pool, "limit", l.cfg.MaxHandshakes, "per_source", l.cfg.MaxHandshakesPerSource,
			"closed", remoteName(victim.raw), "suppressed", l.warn.Suppressed())
	}
}

func (l *Listener) leaveHandshakesLocked(sl *slot) {
	if _, ok := l.handshakes[sl]; !ok {
		return
	}
	delete(l.handshakes, sl)
	sl.src.handshakes--
	l.dropSourceLocked(sl.src)
}

// dropSourceLocked forgets a source with nothing left to remember.
func (l *Listener) dropSourceLocked(src *source) {
	if src.handshakes == 0 && src.waiting == 0 && src.fails == 0 && l.sources[src.key] == src {
		delete(l.sources, src.key)
	}
}

// authDelay is the spacing of a source's handshakes after n failures.
func authDelay(n int) time.Duration {
	d := authDelayFirst
	for i := 1; i < n && d < authDelayMax; i++ {
		d *= 2
	}
	return min(d, authDelayMax)
}

// authWaitLocked is how long a new handshake from src waits before it
// starts: none unless the source failed recently; else the source's
// handshakes start one per authDelay.
func (l *Listener) authWaitLocked(src *source, now time.Time) time.Duration {
	if src.fails == 0 {
		return 0
	}
	if now.Sub(src.lastFail) >= authQuiet {
		l.forgiveLocked(src)
		return 0
	}
	start := now
	if src.next.After(now) {
		start = src.next
	}
	src.next = start.Add(authDelay(src.fails))
	return start.Sub(now)
}

// authFailedLocked notes a failed authentication from src (in the table:
// the failed handshake still counts in src.handshakes) and returns the
// delay its next handshakes are spaced by.
func (l *Listener) authFailedLocked(src *source, now time.Time) time.Duration {
	if src.elem == nil {
		src.elem = l.failing.PushBack(src)
	} else {
		l.failing.MoveToBack(src.elem)
	}
	if src.fails < 64 {
		src.fails++
	}
	src.lastFail = now
	d := authDelay(src.fails)
	if t := now.Add(d); t.After(src.next) {
		src.next = t
	}
	for l.failing.Len() > maxFailing {
		l.forgiveLocked(l.failing.Front().Value.(*source))
	}
	return d
}

func (l *Listener) forgetFailingLocked(src *source) {
	if src.elem != nil {
		l.failing.Remove(src.elem)
		src.elem = nil
	}
}

// forgiveLocked clears a source's failures.
func (l *Listener) forgiveLocked(src *source) {
	l.forgetFailingLocked(src)
	src.fails, src.lastFail, src.next = 0, time.Time{}, time.Time{}
	l.dropSourceLocked(src)
}

// authLogLocked reports whether an authentication failure may be logged
// now (one line per authLogInterval) and how many failures the line
// stands for (this one and those held back since the previous line).
func (l *Listener) authLogLocked(now time.Time) (bool, int64) {
	l.authLogN++
	if !l.authLogAt.IsZero() && now.Sub(l.authLogAt) < authLogInterval {
		return false, 0
	}
	n := l.authLogN
	l.authLogAt, l.authLogN = now, 0
	return true, n
}

func (l *Listener) progressed(sl *slot) {
	sl.progress.Store(l.seq.Add(1))
	sl.lastAt.Store(l.clock.Now().UnixNano())
	if l.hook != nil {
		l.hook("progress", remoteName(sl.raw))
	}
}

func (l *Listener) release(sl *slot) {
	sl.raw.Close()
	l.mu.Lock()
	l.leaveWaitingLocked(sl)
	l.leaveHandshakesLocked(sl)
	delete(l.established, sl)
	l.pumpLocked(l.clock.Now())
	l.mu.Unlock()
	if l.hook != nil {
		l.hook("released", remoteName(sl.raw))
	}
}

func (l *Listener) serveConn(ctx context.Context, stopping <-chan struct{}, sl *slot, handle func(context.Context, *Conn)) {
	raw := sl.raw
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	if !l.await(ctx, stopping, sl) {
		return
	}
	l.mu.Lock()
	wait := sl.authWait
	l.mu.Unlock()
	if wait > 0 {
		// The source failed to authenticate: wait here, in this
		// connection's goroutine and pool slot, before reading a byte.
		l.authDelayed.Add(1)
		fire, cancel := l.clock.After(wait)
		select {
		case <-fire:
		case <-sl.gone:
			cancel()
			return
		case <-ctx.Done():
			cancel()
			return
		case <-stopping:
			cancel()
			return
		}
		sl.progress.Store(l.seq.Add(1)) // its handshake begins now
		sl.lastAt.Store(l.clock.Now().UnixNano())
	}
	conn, err := open(raw, l.cfg.Config, true, func() { l.progressed(sl) })
	if err != nil {
		l.handshakeFailed(sl, err)
		return
	}
	if !l.establish(sl, conn) {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			l.log.Error("connection handler panicked; connection dropped", "peer", conn.RemoteAddr(), "panic", r, "stack", string(debug.Stack()))
		}
	}()
	handle(ctx, conn)
}

func (l *Listener) handshakeFailed(sl *slot, err error) {
	peer := remoteName(sl.raw)
	l.mu.Lock()
	if sl.evicted {
		// Closed to make room: counted as such, not as a failure.
		l.mu.Unlock()
		return
	}
	if !errors.Is(err, ErrAuth) {
		l.mu.Unlock()
		l.failed.Add(1)
		if errors.Is(err, ErrProtocol) && l.warn.Allow() {
			l.log.Warn("handshake failed", "peer", peer, "err", err, "suppressed", l.warn.Suppressed())
		} else {
			l.log.Debug("handshake failed", "peer", peer, "err", err)
		}
		return
	}
	l.authFailed.Add(1)
	now := l.clock.Now()
	delay := l.authFailedLocked(sl.src, now)
	logIt, n := l.authLogLocked(now)
	l.mu.Unlock()
	if logIt {
		l.log.Warn("connection refused: authentication failed", "peer", peer, "err", err,
			"failures", n, "source_delay", delay)
	}
	if l.hook != nil {
		l.hook("auth_failed", peer)
	}
}

// establish moves a connection whose handshake completed to the
// established pool, evicting the longest-idle connection for it when the
// pool is full and Evict allows; false when it must be closed instead.
func (l *Listener) establish(sl *slot, conn *Conn) bool {
	l.mu.Lock()
	if sl.evicted {
		l.mu.Unlock()
		return false
	}
	l.leaveHandshakesLocked(sl)
	l.pumpLocked(l.clock.Now())
	if sl.src.fails > 0 {
		l.forgiveLocked(sl.src)
	}
	var victim *slot
	if len(l.established) >= l.cfg.MaxConns {
		if victim = l.idlestLocked(); victim == nil {
			l.refused.Add(1)
			l.mu.Unlock()
			if l.warn.Allow() {
				l.log.Warn("connection refused: too many connections", "limit", l.cfg.MaxConns, "peer", conn.RemoteAddr(),
					"suppressed", l.warn.Suppressed())
			}
			return false
		}
		delete(l.established, victim)
		victim.evicted = true
		l.evicted.Add(1)
	}
	sl.conn = conn
	l.established[sl] = struct{}{}
	l.accepted.Add(1)
	l.mu.Unlock()
	if victim != nil {
		victim.conn.Close()
		if l.warn.Allow() {
			l.log.Warn("connection closed to make room: too many connections", "limit", l.cfg.MaxConns,
				"closed", victim.conn.RemoteAddr(), "for", conn.RemoteAddr(), "suppressed", l.warn.Suppressed())
		}
	}
	return true
}

// idlestLocked picks the established connection to evict: the one not
// busy that has waited longest without a message; nil without Evict.
func (l *Listener) idlestLocked() *slot {
	if !l.cfg.Evict {
		return nil
	}
	var idle *slot
	var idleSince int64
	for s := range l.established {
		if s.conn.busy() {
			continue
		}
		if at := s.conn.lastActive.Load(); idle == nil || at < idleSince {
			idle, idleSince = s, at
		}
	}
	return idle
}

// Dial connects to ep (tcp://host:port or ipc://path) and performs the
// handshake as the client end. ctx bounds the connect and the handshake,
// as does cfg.HandshakeTimeout.
func Dial(ctx context.Context, ep string, cfg Config) (*Conn, error) {
	e, err := endpoint.Parse(ep)
	if err != nil {
		return nil, err
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if err := checkMetadata(cfg.Metadata); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.HandshakeTimeout)
	defer cancel()
	network, addr := e.DialAddr()
	var d net.Dialer
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", ep, err)
	}
	// The handshake deadline is set by Open; ctx ending early releases it.
	release := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Now()) })
	conn, err := Open(raw, cfg, false)
	if !release() || err != nil {
		raw.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("connect %s: %w", ep, err)
	}
	return conn, nil
}
