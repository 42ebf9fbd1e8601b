// Package session is the session room of the vSphere agent: one long-lived,
// logged-in govmomi client per vSphere agent (vCenter or ESXi), with the
// TLS policy of the agent's configuration, a deadline on every call,
// transparent re-login when vCenter forgets the session, a login backoff
// once vCenter refuses the credentials (a wrong password must not lock the
// account in vCenter SSO), SOAP call counters, and the embedded simulator
// for agents configured as one. Beside it, the agent's vAPI (REST) session
// for vCenter's REST services such as tagging: same credentials and TLS
// policy, logged in on first use, logged in again when vCenter forgets it.
//
// It knows nothing of vPoller requests or of inventory: the objects room
// (package objects) and the method families (package vsphere) use a
// Session only through Client.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	govsession "github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"

	"github.com/vpoller/zabbix-vpoller/internal/flight"
)

// ErrClosed is returned for calls after Close.
var ErrClosed = errors.New("vsphere agent is closed")

// ConnectError is a failure to reach or log in to a vSphere agent. The
// worker's circuit breaker counts it (see vsphere.Unreachable).
type ConnectError struct {
	Agent string
	Err   error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("Cannot connect to vSphere agent %s: %v", e.Agent, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Options tune a Session.
type Options struct {
	Logger *slog.Logger
	// SimulatorSetup, for agents served by the embedded simulator,
	// adjusts the simulator's model after it is created and before it
	// serves: tests and benchmarks use it to shape the simulated vCenter.
	SimulatorSetup func(*simulator.Model)
	// Now is the clock of the login backoff (time.Now when nil); tests
	// inject one to walk through minutes of backoff without waiting.
	Now func() time.Time
}

// Session is one vSphere agent's single long-lived session. It connects
// and logs in on first use (concurrent first users share the login), and
// everything on it is safe for concurrent use.
type Session struct {
	cfg   Config
	opts  Options
	log   *slog.Logger
	stats *counters
	gate  *loginGate // login backoff, see login.go

	bg     context.Context // lives until Close
	cancel context.CancelFunc

	connect flight.Group[*vim25.Client]

	mu     sync.Mutex
	vc     *vim25.Client
	sim    *Simulator
	closed bool

	loginMu sync.Mutex    // serialises re-logins
	gen     atomic.Uint64 // login generation, bumped by each re-login

	rest restState // the vAPI (REST) session, see rest.go
}

// New prepares a session for cfg (already through Config.WithDefaults);
// it does no network work.
func New(cfg Config, opts Options) *Session {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Session{cfg: cfg, opts: opts, stats: newCounters(), gate: newLoginGate(opts.Now, cfg.LoginBackoff),
		bg: ctx, cancel: cancel, log: opts.Logger.With(slog.String("agent", cfg.Name))}
}

// Name is the agent name clients use in "hostname".
func (s *Session) Name() string { return s.cfg.Name }

// Timeout is the agent's per-call time limit.
func (s *Session) Timeout() time.Duration { return s.cfg.Timeout }

// Stats returns the session's counters and its login backoff.
func (s *Session) Stats() Stats {
	st := s.stats.snapshot()
	st.FailedLogins, st.NextLoginAt = s.gate.stats()
	return st
}

// Generation changes each time the session is replaced by a re-login;
// state that lives in a vCenter session (property collectors, views) is
// gone when it changes.
func (s *Session) Generation() uint64 { return s.gen.Load() }

// Simulator is the embedded simulator of a simulator agent once it runs
// (nil otherwise).
func (s *Session) Simulator() *Simulator {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sim
}

// Connected returns the client if the session is connected, without
// connecting.
func (s *Session) Connected() *vim25.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.vc
}

// Client returns the agent's vim25 client, connecting and logging in on
// first use. Calls made with it are counted, time-limited to the agent's
// Timeout, and transparently retried once after a re-login when vCenter
// says the session is no longer authenticated. While vCenter's refusal
// of the credentials pauses logins (see LoginBackoff), it fails at once
// with a *LoginError, without contacting vCenter.
func (s *Session) Client(ctx context.Context) (*vim25.Client, error) {
	s.mu.Lock()
	vc, closed := s.vc, s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if vc != nil {
		return vc, nil
	}
	if le := s.gate.refusal(); le != nil {
		return nil, le
	}
	// A panic in the login path (an odd answer from a vCenter) is this
	// login's error for every waiter, not the end of the worker.
	r := s.connect.Do(ctx, "connect", "vSphere login to "+s.cfg.Name, s.log, func() (*vim25.Client, error) {
		vc, err := s.dial()
		var le *LoginError
		if err != nil && !errors.Is(err, ErrClosed) && !errors.As(err, &le) { // a refusal was logged by the gate
			s.log.Warn("cannot connect to vSphere agent", slog.Any("config", s.cfg), slog.Any("error", err))
			return nil, &ConnectError{Agent: s.cfg.Name, Err: err}
		}
		return vc, err
	})
	return r.Val, r.Err
}

// dial connects and logs in; it runs detached from any one request so that
// a caller giving up does not fail the others waiting for the same login.
func (s *Session) dial() (*vim25.Client, error) {
	s.mu.Lock()
	if s.vc != nil || s.closed {
		vc := s.vc
		s.mu.Unlock()
		if vc == nil {
			return nil, ErrClosed
		}
		return vc, nil
	}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(s.bg, s.cfg.Timeout)
	defer cancel()

	host, thumbprint := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)), s.cfg.Thumbprint
	if s.cfg.Simulator {
		sim, err := s.simulator()
		if err != nil {
			return nil, err
		}
		host, thumbprint = sim.Host, sim.Thumbprint
	}
	u := &url.URL{Scheme: "https", Host: host, Path: vim25.Path}
	caFile := s.cfg.CAFile
	if s.cfg.Simulator {
		caFile = ""
	}
	tlsSetup, err := newAgentTLS(caFile, thumbprint, s.cfg.Insecure && !s.cfg.Simulator)
	if err != nil {
		return nil, err
	}
	sc := soap.NewClient(u, false)
	tlsSetup.install(sc)
	s.stats.call("RetrieveServiceContent")
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", host, err)
	}
	vc.RoundTripper = &sessionRT{s: s, next: &countingRT{next: sc, c: s.stats}}
	if err := s.login(ctx, vc); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.logout(vc)
		return nil, ErrClosed
	}
	s.vc = vc
	s.mu.Unlock()
	s.log.Info("connected to vSphere agent", slog.Any("config", s.cfg), slog.String("api", vc.ServiceContent.About.ApiVersion))
	return vc, nil
}

func (s *Session) simulator() (*Simulator, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sim == nil {
		sim, err := StartSimulator(s.cfg.SimulatorModel, s.cfg.Username, s.cfg.Password, s.log, s.opts.SimulatorSetup)
		if err != nil {
			return nil, err
		}
		s.sim = sim
		s.log.Info("started embedded vSphere simulator", slog.String("model", s.cfg.SimulatorModel), slog.String("address", sim.Host))
	}
	return s.sim, nil
}

// login logs vc in through the login backoff: a refusal by vCenter is a
// *LoginError (not a ConnectError: a configuration problem, not an
// outage); an error without an answer (network, timeout) is wrapped.
func (s *Session) login(ctx context.Context, vc *vim25.Client) error {
	err := s.attemptLogin(ctx, "SOAP", func() error {
		return govsession.NewManager(vc).Login(ctx, url.UserPassword(s.cfg.Username, s.cfg.Password))
	}, soapLoginFault)
	var le *LoginError
	switch {
	case errors.As(err, &le):
		return err
	case err != nil:
		return fmt.Errorf("log in to %s as %s: %w", s.cfg.Name, s.cfg.Username, err)
	}
	s.stats.logins.Add(1)
	return nil
}

// relogin logs in again unless another caller already did since the
// failed call started (gen tells).
func (s *Session) relogin(ctx context.Context, gen uint64) error {
	s.loginMu.Lock()
	defer s.loginMu.Unlock()
	if s.gen.Load() != gen {
		return nil
	}
	s.mu.Lock()
	vc := s.vc
	s.mu.Unlock()
	if vc == nil {
		return ErrClosed
	}
	s.log.Info("vSphere session expired, logging in again")
	if err := s.login(ctx, vc); err != nil {
		return err
	}
	s.gen.Add(1)
	return nil
}

func (s *Session) logout(vc *vim25.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := govsession.NewManager(vc).Logout(ctx); err != nil {
		s.log.Debug("logout failed", slog.Any("error", err))
	}
}

// Close logs out and stops the embedded simulator. Whoever uses the
// session (the objects room) must have stopped before.
func (s *Session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	vc, sim := s.vc, s.sim
	s.vc, s.sim = nil, nil
	s.mu.Unlock()
	s.closeREST() // before the SOAP logout: it uses the same transport
	s.cancel()
	if vc != nil {
		s.logout(vc)
		vc.CloseIdleConnections()
	}
	if sim != nil {
		sim.Close()
	}
}
