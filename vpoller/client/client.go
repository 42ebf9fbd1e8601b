package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Client sends requests to one vPoller proxy endpoint. It is safe for
// concurrent use; each request in flight has a REQ socket of its own.
type Client struct {
	endpoint string
	opts     Options
	log      *slog.Logger

	slots chan struct{} // one token per socket in use: caps requests in flight

	// closing is cancelled by Close: in-flight calls give up.
	closing     context.Context
	stopCalling context.CancelFunc

	mu     sync.Mutex
	idle   []*zmtp.Conn // sockets that completed a request cleanly
	closed bool
	calls  sync.WaitGroup // Do calls in progress
}

// New returns a client for endpoint (tcp://host:port or ipc://path). It
// only validates its arguments: sockets are opened by the first requests,
// so a proxy that starts later is fine.
func New(endpoint string, opts Options) (*Client, error) {
	if err := validateEndpoint(endpoint); err != nil {
		return nil, fmt.Errorf("vpoller client: %w", err)
	}
	opts = opts.withDefaults()
	closing, cancel := context.WithCancel(context.Background())
	return &Client{
		endpoint:    endpoint,
		opts:        opts,
		log:         opts.Logger.With("endpoint", endpoint),
		slots:       make(chan struct{}, opts.PoolSize),
		closing:     closing,
		stopCalling: cancel,
	}, nil
}

// Endpoint returns the endpoint the client sends to.
func (c *Client) Endpoint() string { return c.endpoint }

// Do sends one request frame and returns the one reply frame, unchanged
// (the bytes a worker's helper produced, a trailing NUL included).
//
// Each attempt may take Options.Timeout; after a silent attempt the socket
// is discarded and the request is sent again on a fresh one, up to
// Options.Retries attempts in all, then the error wraps ErrNoReply. ctx
// bounds the whole call: when it is done Do returns at once with an error
// wrapping ctx.Err(). A resent request is not de-duplicated: the worker
// may run it twice (see the package documentation).
func (c *Client) Do(ctx context.Context, request []byte) ([]byte, error) {
	return c.DoWith(ctx, request, Policy{Attempts: c.opts.Retries, Timeout: c.opts.Timeout})
}

// Policy is how one call retries: Attempts in all (lazy pirate: a silent
// attempt abandons its socket and the request goes out again on a fresh
// one), each waiting at most Timeout for the reply.
type Policy struct {
	Attempts int
	Timeout  time.Duration
}

// DoWith is Do with the call's own retry policy instead of the client's
// (the plugin gives each item its share of the item's timeout). Zero
// fields take the client's Options.
func (c *Client) DoWith(ctx context.Context, request []byte, p Policy) ([]byte, error) {
	if p.Attempts <= 0 {
		p.Attempts = c.opts.Retries
	}
	if p.Timeout <= 0 {
		p.Timeout = c.opts.Timeout
	}
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

	staleForgiven := false
	var last error
	for attempt := 1; attempt <= p.Attempts; attempt++ {
		reply, reused, err := c.attempt(ctx, request, p.Timeout)
		if err == nil {
			return reply, nil
		}
		var refused *refusedError
		switch {
		case errors.Is(err, ErrClosed):
			return nil, fmt.Errorf("vpoller client: %s: %w", c.endpoint, ErrClosed)
		case errors.As(err, &refused) && errors.Is(err, zmtp.ErrAuth):
			return nil, fmt.Errorf("vpoller client: %s: the proxy refused our credentials: %w", c.endpoint, err)
		case errors.As(err, &refused):
			return nil, fmt.Errorf("vpoller client: %s: ZMTP handshake failed (not a vPoller proxy, or a mechanism mismatch): %w", c.endpoint, err)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("vpoller client: %s: attempt %d of %d: %w", c.endpoint, attempt, p.Attempts, ctx.Err())
		}
		var xerr *exchangeError
		if reused && !staleForgiven && errors.As(err, &xerr) {
			// An idle socket whose proxy went away since: not the
			// request's fault. Drop the other idle sockets too (same
			// proxy) and try again on a fresh one without using up an
			// attempt; only once per call, so this cannot loop.
			staleForgiven = true
			c.dropIdle()
			c.log.Debug("idle socket was stale, reconnecting", "err", err)
			attempt--
			continue
		}
		last = err
		if attempt < p.Attempts {
			c.log.Warn("Did not receive response, retrying...", "attempt", attempt, "of", p.Attempts, "cause", err)
		}
	}
	return nil, fmt.Errorf("vpoller client: %s: no reply after %d attempts of %v (last: %v): %w",
		c.endpoint, p.Attempts, p.Timeout, last, ErrNoReply)
}

// attempt makes one try within Options.Timeout: an idle socket or a fresh
// one, send, wait for the reply. A socket that completed cleanly goes back
// to the idle pool; any other is closed. reused tells whether the socket
// came from the idle pool.
func (c *Client) attempt(ctx context.Context, request []byte, timeout time.Duration) (reply []byte, reused bool, err error) {
	deadline := time.Now().Add(timeout)
	sock := c.takeIdle()
	reused = sock != nil
	if sock == nil {
		sock, err = c.dial(ctx, deadline)
		if err != nil {
			return nil, false, err
		}
	}
	reply, err = c.exchange(ctx, deadline, sock, request)
	if err != nil {
		return nil, reused, err
	}
	c.putIdle(sock)
	return reply, reused, nil
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
	c.idle = nil
	c.mu.Unlock()

	for _, s := range idle {
		_ = s.Close()
	}
	c.calls.Wait()
	return nil
}

func (c *Client) takeIdle() *zmtp.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.idle)
	if n == 0 {
		return nil
	}
	s := c.idle[n-1]
	c.idle[n-1] = nil
	c.idle = c.idle[:n-1]
	return s
}

func (c *Client) putIdle(s *zmtp.Conn) {
	c.mu.Lock()
	if !c.closed && len(c.idle) < c.opts.MaxIdle {
		c.idle = append(c.idle, s)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	_ = s.Close()
}

func (c *Client) dropIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, s := range idle {
		_ = s.Close()
	}
}
