package vsphere

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

	"golang.org/x/sync/singleflight"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

var errClosed = errors.New("vsphere agent is closed")

// Agent is one vSphere endpoint with its single long-lived session, its
// inventory index and, for simulator agents, the simulator itself. Method
// handlers receive it; everything on it is safe for concurrent use.
type Agent struct {
	cfg   AgentConfig
	log   *slog.Logger
	stats *counters
	opts  Options

	bg     context.Context // lives until Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	connect singleflight.Group // concurrent first requests share one login

	mu     sync.Mutex
	vc     *vim25.Client
	sim    *simServer
	closed bool

	loginMu sync.Mutex    // serialises re-logins
	gen     atomic.Uint64 // session generation, bumped by each re-login

	idx   *index
	perf  *perfCatalog
	props *propBatcher
	perfQ *perfBatcher

	// simSetup, when set (tests), adjusts a simulator model after it is
	// created and before its server starts.
	simSetup func(*simulator.Model)
}

func newAgent(cfg AgentConfig, opts Options, stats *counters) *Agent {
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{cfg: cfg, opts: opts, stats: stats, bg: ctx, cancel: cancel,
		log: opts.Logger.With(slog.String("agent", cfg.Name))}
	a.idx = newIndex(a)
	a.perf = newPerfCatalog(a)
	a.props = newPropBatcher(a)
	a.perfQ = newPerfBatcher(a)
	return a
}

// Name is the agent name clients use in "hostname".
func (a *Agent) Name() string { return a.cfg.Name }

// Client returns the agent's vim25 client, connecting and logging in on
// first use. Calls made with it are counted, time-limited to the agent's
// Timeout, and transparently retried once after a re-login when vCenter
// says the session is no longer authenticated.
func (a *Agent) Client(ctx context.Context) (*vim25.Client, error) {
	a.mu.Lock()
	vc, closed := a.vc, a.closed
	a.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if vc != nil {
		return vc, nil
	}
	ch := a.connect.DoChan("connect", func() (any, error) {
		vc, err := a.dial()
		if err != nil && !errors.Is(err, errClosed) {
			a.log.Warn("cannot connect to vSphere agent", slog.Any("config", a.cfg), slog.Any("error", err))
			return nil, &ConnectError{Agent: a.cfg.Name, Err: err}
		}
		return vc, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*vim25.Client), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dial connects and logs in; it runs detached from any one request so that
// a caller giving up does not fail the others waiting for the same login.
func (a *Agent) dial() (*vim25.Client, error) {
	a.mu.Lock()
	if a.vc != nil || a.closed {
		vc := a.vc
		a.mu.Unlock()
		if vc == nil {
			return nil, errClosed
		}
		return vc, nil
	}
	a.mu.Unlock()

	ctx, cancel := context.WithTimeout(a.bg, a.cfg.Timeout)
	defer cancel()

	host, thumbprint := net.JoinHostPort(a.cfg.Host, strconv.Itoa(a.cfg.Port)), a.cfg.Thumbprint
	if a.cfg.Simulator {
		sim, err := a.simulator()
		if err != nil {
			return nil, err
		}
		host, thumbprint = sim.host, sim.thumbprint
	}
	u := &url.URL{Scheme: "https", Host: host, Path: vim25.Path}
	caFile := a.cfg.CAFile
	if a.cfg.Simulator {
		caFile = ""
	}
	tlsSetup, err := newAgentTLS(caFile, thumbprint, a.cfg.Insecure && !a.cfg.Simulator)
	if err != nil {
		return nil, err
	}
	sc := soap.NewClient(u, false)
	tlsSetup.install(sc)
	a.stats.call("RetrieveServiceContent")
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", host, err)
	}
	vc.RoundTripper = &sessionRT{a: a, next: &countingRT{next: sc, c: a.stats}}
	if err := a.login(ctx, vc); err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		a.logout(vc)
		return nil, errClosed
	}
	a.vc = vc
	a.wg.Add(1) // under a.mu while not closed: close's Wait cannot have started
	a.mu.Unlock()
	a.log.Info("connected to vSphere agent", slog.Any("config", a.cfg), slog.String("api", vc.ServiceContent.About.ApiVersion))
	go a.idx.run()
	return vc, nil
}

func (a *Agent) simulator() (*simServer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sim == nil {
		sim, err := startSimulator(a.cfg.SimulatorModel, a.cfg.Username, a.cfg.Password, a.log, a.simSetup)
		if err != nil {
			return nil, err
		}
		a.sim = sim
		a.log.Info("started embedded vSphere simulator", slog.String("model", a.cfg.SimulatorModel), slog.String("address", sim.host))
	}
	return a.sim, nil
}

func (a *Agent) login(ctx context.Context, vc *vim25.Client) error {
	_, err := methods.Login(ctx, vc, &types.Login{This: *vc.ServiceContent.SessionManager,
		UserName: a.cfg.Username, Password: a.cfg.Password})
	if err != nil {
		return fmt.Errorf("log in to %s as %s: %w", a.cfg.Name, a.cfg.Username, err)
	}
	a.stats.logins.Add(1)
	return nil
}

// track registers one more background goroutine (a.wg) unless the agent
// is closed; it reports whether the goroutine may start.
func (a *Agent) track() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.wg.Add(1)
	return true
}

func (a *Agent) generation() uint64 { return a.gen.Load() }

// relogin logs in again unless another caller already did since the
// failed call started (gen tells).
func (a *Agent) relogin(ctx context.Context, gen uint64) error {
	a.loginMu.Lock()
	defer a.loginMu.Unlock()
	if a.gen.Load() != gen {
		return nil
	}
	a.mu.Lock()
	vc := a.vc
	a.mu.Unlock()
	if vc == nil {
		return errClosed
	}
	a.log.Info("vSphere session expired, logging in again")
	if err := a.login(ctx, vc); err != nil {
		return err
	}
	a.gen.Add(1)
	return nil
}

func (a *Agent) logout(vc *vim25.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := methods.Logout(ctx, vc, &types.Logout{This: *vc.ServiceContent.SessionManager}); err != nil {
		a.log.Debug("logout failed", slog.Any("error", err))
	}
}

// close stops the index poller, logs out and stops the simulator.
func (a *Agent) close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
	a.mu.Lock()
	vc, sim := a.vc, a.sim
	a.vc, a.sim = nil, nil
	a.mu.Unlock()
	if vc != nil {
		a.logout(vc)
		vc.CloseIdleConnections()
	}
	if sim != nil {
		sim.close()
	}
}

// sessionRT gives every call a deadline and survives session expiry: a
// call refused as not authenticated triggers one re-login (shared by
// concurrent callers) and one retry.
type sessionRT struct {
	a    *Agent
	next soap.RoundTripper
}

func (r *sessionRT) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	ctx, cancel := context.WithTimeout(ctx, r.a.cfg.Timeout)
	defer cancel()
	gen := r.a.generation()
	err := r.next.RoundTrip(ctx, req, res)
	switch req.(type) {
	case *methods.LoginBody, *methods.LogoutBody:
		return err
	}
	if !notAuthenticated(err, res) {
		return err
	}
	if lerr := r.a.relogin(ctx, gen); lerr != nil {
		return fmt.Errorf("session expired and logging in again failed: %w", lerr)
	}
	fresh := newBody(res)
	err = r.next.RoundTrip(ctx, req, fresh)
	setBody(res, fresh)
	return err
}
