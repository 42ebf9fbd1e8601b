package zmtp

import (
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

// DefaultMaxConns caps the connections of one listener.
const DefaultMaxConns = 1024

// ListenConfig configures a Listener.
type ListenConfig struct {
	Config
	// Name names the socket in logs ("frontend", "mgmt").
	Name string
	// MaxConns caps the connections open at once, handshakes included;
	// connections beyond it are closed at once. 0 means DefaultMaxConns.
	MaxConns int
	// IPCMode is the mode of an ipc:// socket file; 0 means 0600, so only
	// the daemon's user (and root) can connect.
	IPCMode fs.FileMode
	// Evict, when MaxConns is reached, makes room for a newcomer by
	// closing the connection that has waited longest without a message
	// (a handshake that has not completed first, then the least recently
	// active connection not busy; see Conn.SetBusy), instead of refusing
	// the newcomer. Idle or hostile connections then cannot lock out the
	// clients that have something to ask. Without Evict, or when every
	// connection is busy, the newcomer is refused.
	Evict  bool
	Logger *slog.Logger
}

// Listener accepts ZMTP connections: each is handshaken in its own
// goroutine under a deadline and then handed to the handler.
type Listener struct {
	ln   net.Listener
	cfg  ListenConfig
	log  *slog.Logger
	warn *lograte.Limiter

	mu    sync.Mutex
	slots map[*slot]struct{} // live connections, evicted ones until they end

	active, accepted, refused, evicted, failed, authFailed, acceptErrors atomic.Int64
}

// slot is one accepted connection while it lives.
type slot struct {
	raw     net.Conn
	started time.Time
	conn    *Conn // set once the handshake completed (under Listener.mu)
	evicted bool  // closed to make room (under Listener.mu)
}

// ListenerStats are a listener's counters since Listen.
type ListenerStats struct {
	Active     int64 // connections open now (handshaking or served)
	Accepted   int64 // connections that completed the handshake
	Refused    int64 // connections closed at once for the MaxConns cap
	Evicted    int64 // idle connections closed to make room (ListenConfig.Evict)
	Failed     int64 // handshakes that failed (protocol, timeout)
	AuthFailed int64 // handshakes refused for their credentials
	// AcceptErrors counts failed accepts (EMFILE and the like); each was
	// retried after a backoff.
	AcceptErrors int64
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
		ln:    ln,
		cfg:   cfg,
		log:   cfg.Logger.With("socket", cfg.Name),
		slots: map[*slot]struct{}{},
		warn:  lograte.New(10 * time.Second),
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
	return ListenerStats{Active: l.active.Load(), Accepted: l.accepted.Load(), Refused: l.refused.Load(), Evicted: l.evicted.Load(),
		Failed: l.failed.Load(), AuthFailed: l.authFailed.Load(), AcceptErrors: l.acceptErrors.Load()}
}

// Serve accepts connections until ctx is done or the listener is closed,
// and runs handle for each one that completes its handshake, in its own
// goroutine. The connection is closed when handle returns, or when ctx is
// done (which makes a blocked ReadMsg return). Serve returns after every
// handler has returned. An accept error never stops the loop: it is
// logged and retried with backoff (an exhausted file table, EMFILE, is
// temporary). A panic in handle is logged and ends that connection only.
func (l *Listener) Serve(ctx context.Context, handle func(context.Context, *Conn)) error {
	stop := context.AfterFunc(ctx, func() { l.ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
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
		sl := l.admit(raw)
		if sl == nil {
			raw.Close()
			l.refused.Add(1)
			if l.warn.Allow() {
				l.log.Warn("connection refused: too many connections", "limit", l.cfg.MaxConns, "peer", raw.RemoteAddr(), "suppressed", l.warn.Suppressed())
			}
			continue
		}
		wg.Go(func() {
			defer l.release(sl)
			l.serveConn(ctx, sl, handle)
		})
	}
}

// admit registers a new connection, making room by eviction when the
// listener is full and allowed to; nil when it must be refused.
func (l *Listener) admit(raw net.Conn) *slot {
	l.mu.Lock()
	defer l.mu.Unlock()
	live := 0
	for s := range l.slots {
		if !s.evicted {
			live++
		}
	}
	if live >= l.cfg.MaxConns {
		victim := l.victimLocked()
		if victim == nil {
			return nil
		}
		victim.evicted = true
		victim.raw.Close()
		l.evicted.Add(1)
		if l.warn.Allow() {
			l.log.Warn("connection closed to make room: too many connections", "limit", l.cfg.MaxConns,
				"closed", remoteName(victim.raw), "suppressed", l.warn.Suppressed())
		}
	}
	sl := &slot{raw: raw, started: time.Now()}
	l.slots[sl] = struct{}{}
	l.active.Add(1)
	return sl
}

// victimLocked picks the connection to evict: the oldest unfinished
// handshake, else the least recently active connection not busy.
func (l *Listener) victimLocked() *slot {
	if !l.cfg.Evict {
		return nil
	}
	var hs, idle *slot
	var idleSince int64
	for s := range l.slots {
		if s.evicted {
			continue
		}
		if s.conn == nil {
			if hs == nil || s.started.Before(hs.started) {
				hs = s
			}
			continue
		}
		if s.conn.busy() {
			continue
		}
		if at := s.conn.lastActive.Load(); idle == nil || at < idleSince {
			idle, idleSince = s, at
		}
	}
	if hs != nil {
		return hs
	}
	return idle
}

func (l *Listener) release(sl *slot) {
	sl.raw.Close()
	l.mu.Lock()
	delete(l.slots, sl)
	l.mu.Unlock()
	l.active.Add(-1)
}

func (l *Listener) serveConn(ctx context.Context, sl *slot, handle func(context.Context, *Conn)) {
	raw := sl.raw
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	conn, err := Open(raw, l.cfg.Config, true)
	if err != nil {
		if errors.Is(err, ErrAuth) {
			l.authFailed.Add(1)
			l.log.Warn("connection refused: authentication failed", "peer", remoteName(raw), "err", err)
		} else {
			l.failed.Add(1)
			if errors.Is(err, ErrProtocol) && l.warn.Allow() {
				l.log.Warn("handshake failed", "peer", remoteName(raw), "err", err, "suppressed", l.warn.Suppressed())
			} else {
				l.log.Debug("handshake failed", "peer", remoteName(raw), "err", err)
			}
		}
		return
	}
	l.accepted.Add(1)
	l.mu.Lock()
	sl.conn = conn
	evicted := sl.evicted
	l.mu.Unlock()
	if evicted {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			l.log.Error("connection handler panicked; connection dropped", "peer", conn.RemoteAddr(), "panic", r, "stack", string(debug.Stack()))
		}
	}()
	handle(ctx, conn)
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
