package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Client sends requests to a vPoller proxy, or to the first of several
// that answers. It is safe for concurrent use; each request in flight has
// a REQ socket of its own.
type Client struct {
	endpoint  string   // as configured
	endpoints []string // the list it names
	opts      Options
	log       *slog.Logger

	slots chan struct{} // one token per socket in use: caps requests in flight

	// current is the index of the endpoint that answered last: calls start
	// there, so in steady state every request goes to one proxy.
	current atomic.Int32

	// closing is cancelled by Close: in-flight calls give up.
	closing     context.Context
	stopCalling context.CancelFunc

	mu     sync.Mutex
	idle   [][]*zmtp.Conn // per endpoint: sockets that completed a request cleanly
	closed bool
	calls  sync.WaitGroup // Do calls in progress
}

// New returns a client for endpoint: tcp://host:port or ipc://path, or a
// comma-separated list of them (several proxy frontends; see DoWith for
// how a call walks the list). It only validates its arguments: sockets are
// opened by the first requests, so a proxy that starts later is fine.
func New(endpoint string, opts Options) (*Client, error) {
	eps, err := SplitEndpoints(endpoint)
	if err != nil {
		return nil, fmt.Errorf("vpoller client: %w", err)
	}
	opts = opts.withDefaults()
	closing, cancel := context.WithCancel(context.Background())
	return &Client{
		endpoint:    endpoint,
		endpoints:   eps,
		opts:        opts,
		log:         opts.Logger.With("endpoints", endpoint),
		slots:       make(chan struct{}, opts.PoolSize),
		idle:        make([][]*zmtp.Conn, len(eps)),
		closing:     closing,
		stopCalling: cancel,
	}, nil
}

// Endpoint returns the endpoint (or list) the client was made with, as
// given.
func (c *Client) Endpoint() string { return c.endpoint }

// Endpoints returns the proxy endpoints the client walks, in order.
func (c *Client) Endpoints() []string { return append([]string(nil), c.endpoints...) }

// Do sends one request frame and returns the one reply frame, unchanged
// (the bytes a worker's helper produced, a trailing NUL included).
//
// Each attempt may take Options.Timeout; after a silent attempt the socket
// is discarded and the request is sent again on a fresh one, up to
// Options.Retries attempts in all (at least one per endpoint), then the
// error wraps ErrNoReply. ctx bounds the whole call: when it is done Do
// returns at once with an error wrapping ctx.Err(). A resent request is
// not de-duplicated: the worker may run it twice (see the package
// documentation).
func (c *Client) Do(ctx context.Context, request []byte) ([]byte, error) {
	return c.DoWith(ctx, request, Policy{Attempts: c.opts.Retries, Timeout: c.opts.Timeout})
}

// Policy is how one call retries: Attempts in all (lazy pirate: a silent
// attempt abandons its socket and the request goes out again on a fresh
// one), each waiting at most Timeout for the reply.
type Policy struct {
	Attempts int
	Timeout  time.Duration
	// Spread gives each attempt an even share of the time left until
	// ctx's deadline, never less than Timeout. Time an attempt did not
	// use (a refused connection moves on at once) then goes to the
	// attempts after it instead of being lost: the plugin sets it, with
	// Timeout its budget divided by Attempts.
	Spread bool
}

// DoWith is Do with the call's own retry policy instead of the client's
// (the plugin gives each item its share of the item's timeout). Zero
// fields take the client's Options.
//
// With several endpoints the call starts at the one that answered last.
// An attempt that gets no reply in time, whose connection breaks, or
// whose connection is refused moves the next attempt to the next endpoint
// (skipping those that refused during this call while others have not);
// a refused connection ends its attempt at once rather than waiting for
// its timeout. When every endpoint has refused, an attempt keeps trying
// them every 100 ms until its timeout, as libzmq's reconnect does, so a
// proxy that is restarting is reached. A call has at least one attempt
// per endpoint; ctx still bounds it.
func (c *Client) DoWith(ctx context.Context, request []byte, p Policy) ([]byte, error) {
	if p.Attempts <= 0 {
		p.Attempts = c.opts.Retries
	}
	if p.Timeout <= 0 {
		p.Timeout = c.opts.Timeout
	}
	n := len(c.endpoints)
	attempts := max(p.Attempts, n)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("vpoller client: %s: %w", c.endpoint, ErrClosed)
	}
	c.calls.Add(1)
	c.mu.Unlock()
	defer c.calls.Done()

	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("vpoller client: %s: waiting for a free socket: %w", c.endpoint, ctx.Err())
	case <-c.closing.Done():
		return nil, fmt.Errorf("vpoller client: %s: %w", c.endpoint, ErrClosed)
	}
	defer func() { <-c.slots }()

	// refused[i]: endpoint i refused a connection (or our handshake)
	// during this call; rejected[i]: it refused the handshake.
	refused := make([]bool, n)
	rejected := make([]bool, n)
	var tried []Attempt
	fail := func(what string, err error, showTried bool) error {
		return &CallError{Endpoint: c.endpoint, Attempts: tried, Err: err, what: what, showTried: showTried}
	}
	next := int(c.current.Load())
	ctxDeadline, hasDeadline := ctx.Deadline()
	staleForgiven := false
	for attempt := 1; attempt <= attempts; attempt++ {
		timeout := p.Timeout
		if hasDeadline && p.Spread {
			timeout = max(timeout, time.Until(ctxDeadline)/time.Duration(attempts-attempt+1))
		}
		// Fail fast on a refused connection while another endpoint has
		// not refused yet; otherwise keep trying until the timeout.
		wait := true
		for j := range n {
			if j != next && !refused[j] {
				wait = false
			}
		}
		reply, used, reused, err := c.attempt(ctx, request, next, timeout, wait, rejected)
		if err == nil {
			c.current.Store(int32(used))
			return reply, nil
		}
		ep := c.endpoints[used]
		var rerr *refusedError
		var xerr *exchangeError
		var uerr *unreachableError
		switch {
		case errors.Is(err, ErrClosed):
			return nil, fmt.Errorf("vpoller client: %s: %w", c.endpoint, ErrClosed)
		case ctx.Err() != nil || hasDeadline && !time.Now().Before(ctxDeadline):
			// The call's deadline (an attempt whose own deadline is as
			// late may see it first: the runtime's timers race) or the
			// caller gave up.
			cerr := ctx.Err()
			if cerr == nil {
				cerr = context.DeadlineExceeded
			}
			var aerr error = &cutError{err: cerr}
			if errors.As(err, &uerr) {
				aerr = err // it kept being refused until the deadline: say so
			}
			tried = append(tried, Attempt{Endpoint: ep, Err: aerr})
			return nil, fail(fmt.Sprintf("attempt %d of %d", attempt, attempts), cerr, true)
		case reused && !staleForgiven && errors.As(err, &xerr):
			// An idle socket whose proxy went away since: not the
			// request's fault. Drop that endpoint's other idle sockets
			// too and try it again on a fresh one without using up an
			// attempt; only once per call, so this cannot loop.
			staleForgiven = true
			c.dropIdle(used)
			c.log.Debug("idle socket was stale, reconnecting", "endpoint", ep, "err", err)
			attempt--
			next = used
			continue
		case errors.As(err, &rerr):
			refused[used], rejected[used] = true, true
			tried = append(tried, Attempt{Endpoint: ep, Err: err})
			if all(rejected) {
				// Every proxy refused our handshake: retrying cannot help.
				what := "ZMTP handshake failed (not a vPoller proxy, or a mechanism mismatch)"
				if errors.Is(err, zmtp.ErrAuth) {
					what = "the proxy refused our credentials"
				}
				return nil, fail(what, rerr.err, n > 1)
			}
		case errors.As(err, &uerr):
			refused[used] = true
			c.dropIdle(used)
			tried = append(tried, Attempt{Endpoint: ep, Err: err})
		default:
			if errors.As(err, &xerr) {
				c.dropIdle(used)
			}
			tried = append(tried, Attempt{Endpoint: ep, Err: err})
		}
		next = c.after(used, refused)
		if attempt < attempts {
			c.log.Warn("Did not receive response, retrying...", "attempt", attempt, "of", attempts,
				"endpoint", ep, "cause", describe(err), "next", c.endpoints[next])
		}
	}
	return nil, fail(fmt.Sprintf("no reply after %d attempts of %v", len(tried), p.Timeout), ErrNoReply, true)
}

// after returns the endpoint the attempt after one on i goes to: the next
// in the list that has not refused during this call, else simply the
// next.
func (c *Client) after(i int, refused []bool) int {
	n := len(c.endpoints)
	for k := 1; k <= n; k++ {
		if j := (i + k) % n; !refused[j] {
			return j
		}
	}
	return (i + 1) % n
}

func all(b []bool) bool {
	for _, v := range b {
		if !v {
			return false
		}
	}
	return true
}

// attempt makes one try within timeout at endpoint i: an idle socket of
// that endpoint or a fresh connection, send, wait for the reply. With
// wait, a refused connection is retried (going round every endpoint)
// until the timeout; then the endpoint that connected is the one used. A
// socket that completed cleanly goes back to its endpoint's idle pool;
// any other is closed. reused tells whether the socket came from the
// idle pool.
func (c *Client) attempt(ctx context.Context, request []byte, i int, timeout time.Duration, wait bool, skip []bool) (reply []byte, used int, reused bool, err error) {
	deadline := time.Now().Add(timeout)
	used = i
	sock := c.takeIdle(i)
	reused = sock != nil
	if sock == nil {
		sock, used, err = c.dial(ctx, deadline, i, wait, skip)
		var uerr *unreachableError
		var serr *silentError
		switch {
		case errors.As(err, &uerr) && uerr.retried > 0:
			uerr.retried = timeout // what the attempt was given, not what a clock measured
		case errors.As(err, &serr):
			serr.timeout = timeout
		}
		if err != nil {
			return nil, used, false, err
		}
	}
	reply, err = c.exchange(ctx, deadline, sock, request)
	if errors.Is(err, errAttemptTimeout) {
		err = &silentError{timeout: timeout}
	}
	if err != nil {
		return nil, used, reused, err
	}
	c.putIdle(used, sock)
	return reply, used, reused, nil
}

// Call encodes req as the original client does, sends it and decodes the
// reply. A reply that is not a vPoller reply object is an error; a vPoller
// failure ({"success": 1, ...}) is not: check Response.Failed.
func (c *Client) Call(ctx context.Context, req *vpoller.Request) (*vpoller.Response, error) {
	return c.CallWith(ctx, req, Policy{})
}

// CallWith is Call with the call's own retry policy (see DoWith).
func (c *Client) CallWith(ctx context.Context, req *vpoller.Request, p Policy) (*vpoller.Response, error) {
	if req == nil {
		return nil, errors.New("vpoller client: nil request")
	}
	reply, err := c.DoWith(ctx, req.Encode(), p)
	if err != nil {
		return nil, err
	}
	resp, err := vpoller.DecodeResponse(reply)
	if err != nil {
		return nil, fmt.Errorf("vpoller client: %s: method %q: %w", c.endpoint, req.Method, err)
	}
	return resp, nil
}

// Close makes calls in progress return ErrClosed, waits for them, and
// closes every socket. It is safe to call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.stopCalling()
	idle := c.idle
	c.idle = make([][]*zmtp.Conn, len(c.endpoints))
	c.mu.Unlock()

	for _, pool := range idle {
		for _, s := range pool {
			_ = s.Close()
		}
	}
	c.calls.Wait()
	return nil
}

func (c *Client) takeIdle(i int) *zmtp.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	pool := c.idle[i]
	n := len(pool)
	if n == 0 {
		return nil
	}
	s := pool[n-1]
	pool[n-1] = nil
	c.idle[i] = pool[:n-1]
	return s
}

// putIdle keeps s for reuse with endpoint i; Options.MaxIdle caps each
// endpoint's pool.
func (c *Client) putIdle(i int, s *zmtp.Conn) {
	c.mu.Lock()
	if !c.closed && len(c.idle[i]) < c.opts.MaxIdle {
		c.idle[i] = append(c.idle[i], s)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	_ = s.Close()
}

// dropIdle closes endpoint i's idle sockets (its proxy went away).
func (c *Client) dropIdle(i int) {
	c.mu.Lock()
	idle := c.idle[i]
	c.idle[i] = nil
	c.mu.Unlock()
	for _, s := range idle {
		_ = s.Close()
	}
}

// idleCount is the number of idle sockets of endpoint i (for tests).
func (c *Client) idleCount(i int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.idle[i])
}
