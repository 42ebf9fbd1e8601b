package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/buildinfo"
	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/endpoint"
	"github.com/vpoller/zabbix-vpoller/internal/guard"
	"github.com/vpoller/zabbix-vpoller/internal/lograte"
	"github.com/vpoller/zabbix-vpoller/internal/metrics"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/backend"
	"github.com/vpoller/zabbix-vpoller/vpoller/mgmt"
)

// Management messages of the original proxy.
const (
	StatusMsg = "vPoller Proxy status"
	// UnknownMethodMsg keeps the Python proxy's spelling: tools may match it.
	UnknownMethodMsg = "Uknown method name received"
)

// Proxy is a vPoller broker. Create it with New, run it with Run.
type Proxy struct {
	opts   Options
	log    *slog.Logger
	broker *broker
	budget *zmtp.MemoryBudget
	// replyBytes is the budget held by replies queued for clients.
	replyBytes atomic.Int64
	// silentDropped counts workers dropped for missing heartbeats.
	silentDropped atomic.Uint64
	warn          *lograte.Limiter

	ready     chan struct{}
	addrs     Addrs // set before ready is closed
	listeners [2]*zmtp.Listener
	security  [3]string // frontend, backend, mgmt mechanism descriptions
}

// Addrs are the endpoints the proxy actually bound (a configured port 0
// becomes the chosen port).
type Addrs struct {
	Frontend, Backend, Mgmt string
	// Metrics is the /metrics address (host:port), "" when not served.
	Metrics string
}

// minDiscard is the least size up to which an over-size message is read
// and thrown away so that its sender gets an error reply; beyond it (or
// 4x the limit when that is more) the connection is closed instead.
const minDiscard = 64 << 20

// New checks opts and fills its zero fields with the defaults (see
// Options); nothing is bound until Run.
func New(opts Options) (*Proxy, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	budget := zmtp.NewMemoryBudget(int64(opts.MaxMemory))
	b := newBroker(opts.Logger, brokerLimits{maxHeld: opts.MaxHeldRequests, maxHeldBytes: opts.MaxHeldBytes,
		maxInflight: opts.MaxInflightPerWorker, spillWait: opts.SpillWait, standby: opts.Standby, budget: budget}, opts.Now)
	return &Proxy{opts: opts, log: opts.Logger, broker: b, budget: budget, ready: make(chan struct{}), warn: lograte.New(10 * time.Second)}, nil
}

// Ready is closed once Run has bound every socket; Addrs is valid then.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// Addrs returns the bound endpoints (zero before Ready).
func (p *Proxy) Addrs() Addrs {
	select {
	case <-p.ready:
		return p.addrs
	default:
		return Addrs{}
	}
}

// Stats returns the current counters.
func (p *Proxy) Stats() Stats { return p.broker.stats() }

func serverSettings(s config.Security) zmtp.ServerSettings {
	return zmtp.ServerSettings{CurveSecretKey: s.CurveSecretKey, CurveAllow: s.CurveAllow}
}

// Run binds the frontend, backend and management sockets and serves until
// ctx is done or a shutdown request arrives on the management socket. It
// returns after every connection and goroutine it started has ended.
func (p *Proxy) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	frontMech, frontDesc, err := zmtp.ServerMechanism(serverSettings(p.opts.FrontendSecurity))
	if err != nil {
		return fmt.Errorf("frontend security: %w", err)
	}
	backMech, backDesc, err := zmtp.ServerMechanism(serverSettings(p.opts.BackendSecurity))
	if err != nil {
		return fmt.Errorf("backend security: %w", err)
	}
	mgmtMech, mgmtDesc, err := mgmt.ServerSecurity(p.opts.MgmtSecurity)
	if err != nil {
		return fmt.Errorf("management security: %w", err)
	}
	p.security = [3]string{frontDesc, backDesc, mgmtDesc}
	front, err := zmtp.Listen(p.opts.Frontend, zmtp.ListenConfig{
		Config: zmtp.Config{Type: zmq4.Router, Mechanism: frontMech, HandshakeTimeout: p.opts.HandshakeTimeout,
			Limits: zmtp.Limits{MaxMessage: int64(p.opts.MaxRequestBytes), Discard: max(4*int64(p.opts.MaxRequestBytes), minDiscard),
				Budget: p.budget}},
		// A full frontend closes its longest-idle client (one with no
		// reply owed) for a newcomer that has authenticated: idle
		// connections cannot lock clients out.
		Name: "frontend", MaxConns: p.opts.MaxClients, Evict: true, Logger: p.log,
		MaxHandshakes: p.opts.MaxHandshakes, MaxHandshakesPerSource: p.opts.MaxHandshakesPerSource,
	})
	if err != nil {
		return fmt.Errorf("frontend: %w", err)
	}
	defer front.Close()
	back, err := zmtp.Listen(p.opts.Backend, zmtp.ListenConfig{
		Config: zmtp.Config{Type: zmq4.Dealer, Mechanism: backMech, HandshakeTimeout: p.opts.HandshakeTimeout,
			Limits: zmtp.Limits{MaxMessage: int64(p.opts.MaxReplyBytes), Discard: max(4*int64(p.opts.MaxReplyBytes), minDiscard),
				Budget: p.budget},
			Metadata: map[string]string{backend.PropProxy: "1"}},
		Name: "backend", MaxConns: p.opts.MaxWorkers, Logger: p.log,
		MaxHandshakes: p.opts.MaxHandshakes, MaxHandshakesPerSource: p.opts.MaxHandshakesPerSource,
	})
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	defer back.Close()
	p.listeners = [2]*zmtp.Listener{front, back}
	srv, err := mgmt.Listen(ctx, p.opts.Mgmt, mgmt.Options{
		StatusMsg:  StatusMsg,
		Status:     p.status,
		UnknownMsg: UnknownMethodMsg,
		Security:   mgmtMech,
		Logger:     p.log,
		Version:    buildinfo.Version(),
	})
	if err != nil {
		return fmt.Errorf("management: %w", err)
	}
	defer srv.Close()

	p.addrs = Addrs{Frontend: front.Endpoint(), Backend: back.Endpoint(), Mgmt: srv.Endpoint()}
	if p.opts.MetricsListen != "" {
		reg, err := metrics.NewRegistry(p.collector())
		if err != nil {
			return err
		}
		ms, err := metrics.Listen(p.opts.MetricsListen, reg, p.log)
		if err != nil {
			return err
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = ms.Close(ctx)
		}()
		p.addrs.Metrics = ms.Addr().String()
	}
	close(p.ready)
	p.log.Info("vPoller proxy running", "frontend", p.addrs.Frontend, "backend", p.addrs.Backend, "mgmt", p.addrs.Mgmt,
		"frontend_security", frontDesc, "backend_security", backDesc, "mgmt_security", mgmtDesc)
	for _, s := range []struct{ name, ep string }{{"frontend", p.opts.Frontend}, {"backend", p.opts.Backend}} {
		if endpoint.Exposed(s.ep) && ((s.name == "frontend" && frontMech.Name() == "NULL") || (s.name == "backend" && backMech.Name() == "NULL")) {
			p.log.Warn("socket reachable from other hosts without CURVE: anyone who reaches it can "+
				map[string]string{"frontend": "query your vCenters", "backend": "act as a worker and read requests"}[s.name],
				"socket", s.name, "endpoint", s.ep, "fix", s.name+"_curve_secret_key and "+s.name+"_curve_allow")
		}
	}
	for _, s := range []struct {
		name string
		mech zmtp.Mechanism
	}{{"frontend", frontMech}, {"backend", backMech}} {
		if zmtp.AcceptsAnyKey(s.mech) {
			p.log.Warn("CURVE socket accepts any client key ("+s.name+"_curve_allow = *): traffic is encrypted, but anyone who reaches it can "+
				map[string]string{"frontend": "query your vCenters", "backend": "act as a worker and read requests"}[s.name],
				"socket", s.name, "fix", "list the keys allowed in "+s.name+"_curve_allow")
		}
	}

	var wg sync.WaitGroup
	wg.Go(func() { _ = front.Serve(ctx, p.serveClient) })
	wg.Go(func() { _ = back.Serve(ctx, p.serveWorker) })
	wg.Go(func() { guard.Loop(ctx, p.log, "proxy janitor", p.janitor) })

	select {
	case <-ctx.Done():
	case <-srv.ShutdownRequested():
	}
	p.log.Info("vPoller proxy stopping")
	cancel()
	wg.Wait()
	s := p.Stats()
	p.log.Info("vPoller proxy stopped", "served", s.Served, "redispatched", s.Redispatched, "dropped_unanswered", s.Outstanding)
	return nil
}

// serveClient reads requests from one client connection.
func (p *Proxy) serveClient(ctx context.Context, conn *zmtp.Conn) {
	c := newPeer(conn, p.opts.Queue, func(n int64) {
		p.replyBytes.Add(-n)
		p.budget.Release(n)
	}, func(n int64) { p.replyBytes.Add(n) })
	conn.SetBusy(func() bool { return c.owed.Load() > 0 })
	var wg sync.WaitGroup
	defer wg.Wait() // runs last: after close ends both goroutines
	defer c.close()
	wg.Go(func() { p.guarded(c, "proxy client writer", func() { c.writeLoop(p.opts.WriteTimeout, p.log) }) })
	wg.Go(func() { c.closeWhenDone(ctx) })
	p.log.Debug("client connected", "peer", c.remote)
	idle := p.opts.ClientIdleTimeout
	for {
		if idle > 0 {
			_ = conn.SetReadDeadline(time.Now().Add(idle))
		}
		frames, err := conn.ReadMsg()
		if errors.Is(err, zmtp.ErrIdle) {
			if c.owed.Load() > 0 {
				continue // waiting for its replies, not idle
			}
			p.log.Debug("idle client connection closed", "peer", c.remote, "idle", idle)
			return
		}
		if te, ok := zmtp.IsTooLarge(err); ok {
			p.broker.countTooLarge()
			p.log.Warn("request too large, refused", "peer", c.remote, "bytes", te.Size, "limit", te.Limit)
			reply := vpoller.Failf("Request too large: %d bytes (limit %d)", te.Size, te.Limit).Encode(vpoller.PythonASCII)
			c.enqueue(replyFrames(routingEnvelope(te.Head), reply))
			continue
		}
		if errors.Is(err, zmtp.ErrBudget) || errors.Is(err, zmtp.ErrStalled) {
			if p.warn.Allow() {
				p.log.Warn("client connection closed: its request did not fit in the memory budget, or stalled",
					"peer", c.remote, "err", err, "max_memory", p.budget.Limit(), "used", p.budget.Used(), "suppressed", p.warn.Suppressed())
			}
			return
		}
		if err != nil {
			p.log.Debug("client disconnected", "peer", c.remote, "err", err)
			return
		}
		charge := zmtp.MsgBytes(frames)
		envelope, payload, err := splitEnvelope(frames)
		if err != nil {
			p.budget.Release(charge)
			p.log.Debug("ignoring client message", "peer", c.remote, "err", err)
			continue
		}
		p.broker.submit(c, envelope, payload, charge)
	}
}

// serveWorker reads replies from one worker connection.
func (p *Proxy) serveWorker(ctx context.Context, conn *zmtp.Conn) {
	c := newPeer(conn, p.opts.Queue, p.budget.Release, nil)
	w := &workerConn{peer: c, inflight: map[string]*request{}}
	if meta := conn.PeerMeta(backend.PropWorker); meta != "" {
		a, err := backend.ParseAnnouncement(meta)
		if err != nil {
			// Served as a worker for every vCenter, as a Python one.
			p.log.Warn("worker announcement unreadable; the worker gets requests for any vCenter", "peer", c.remote, "err", err)
		} else {
			w.info = &a
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer p.broker.workerGone(w)
	defer c.close()
	wg.Go(func() { p.guarded(c, "proxy worker writer", func() { c.writeLoop(p.opts.WriteTimeout, p.log) }) })
	wg.Go(func() { c.closeWhenDone(ctx) })
	wg.Go(func() { p.guarded(c, "proxy worker heartbeat", func() { p.heartbeat(c) }) })
	p.broker.workerJoined(w)
	if w.info != nil {
		p.log.Info("worker connected", "peer", c.remote, "id", w.info.ID, "serves", w.info.Serves, "queue", w.info.Queue)
	} else {
		p.log.Info("worker connected (serves every vCenter)", "peer", c.remote)
	}
	for {
		frames, err := conn.ReadMsg()
		if te, ok := zmtp.IsTooLarge(err); ok {
			// The reply is gone, the worker is fine: tell its client.
			p.log.Warn("worker reply too large, dropped", "worker", c.remote, "bytes", te.Size, "limit", te.Limit)
			if len(te.Head) > 0 {
				p.broker.replied(w, string(te.Head[0]),
					vpoller.Failf("Reply too large: %d bytes (limit %d)", te.Size, te.Limit).Encode(vpoller.PythonASCII), 0)
			}
			continue
		}
		if err != nil {
			p.log.Info("worker disconnected", "peer", c.remote, "err", err)
			return
		}
		charge := zmtp.MsgBytes(frames)
		id, reply, err := splitWorkerReply(frames)
		if err != nil {
			p.budget.Release(charge)
			p.log.Debug("dropping worker message", "peer", c.remote, "err", err)
			continue
		}
		p.broker.replied(w, id, reply, charge)
	}
}

// guarded runs one of a connection's goroutines; a panic in it closes
// that connection only.
func (p *Proxy) guarded(c *peer, what string, f func()) {
	if guard.Run(p.log, what, f) != nil {
		c.close()
	}
}

// heartbeat PINGs a worker every WorkerHeartbeat and closes its
// connection when it has sent nothing (no reply, no PONG) for
// WorkerTimeout: a frozen worker's requests then go to another. A worker
// that never answered a PING (a peer without heartbeats) is judged by its
// connection only. It returns when the connection is closed.
func (p *Proxy) heartbeat(c *peer) {
	tick := time.NewTicker(p.opts.WorkerHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		silent := time.Since(c.conn.LastRead())
		if silent > p.opts.WorkerTimeout && !c.conn.LastPong().IsZero() {
			p.silentDropped.Add(1)
			p.log.Warn("worker silent: no reply and no PONG; dropping it, its requests go to another worker",
				"worker", c.remote, "silent", silent.Round(time.Millisecond), "worker_timeout", p.opts.WorkerTimeout)
			c.close()
			return
		}
		// A worker that stopped reading fills its socket: the PING
		// waits at most the heartbeat period.
		_ = c.conn.Ping(p.opts.WorkerHeartbeat)
	}
}

// janitor expires old requests and retries held ones.
func (p *Proxy) janitor(ctx context.Context) {
	every := min(time.Second, min(p.opts.HoldTimeout, p.opts.InflightTimeout)/4)
	if w := p.opts.SpillWait / 2; w > 0 {
		every = min(every, w)
	}
	tick := time.NewTicker(max(every, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			p.broker.expire(now, p.opts.HoldTimeout, p.opts.InflightTimeout)
		}
	}
}

// status is the management status result: the original proxy's fields in
// its order, then ours.
func (p *Proxy) status() vpoller.Object {
	host, _ := os.Hostname()
	s := p.Stats()
	obj := vpoller.Object{
		{Key: "status", Value: "running"},
		{Key: "hostname", Value: host},
		{Key: "mgmt", Value: shown(p.opts.Mgmt, p.addrs.Mgmt)},
		{Key: "frontend", Value: shown(p.opts.Frontend, p.addrs.Frontend)},
		{Key: "backend", Value: shown(p.opts.Backend, p.addrs.Backend)},
		{Key: "workers", Value: s.Workers},
		{Key: "outstanding", Value: s.Outstanding},
		{Key: "served", Value: s.Served},
		{Key: "redispatched", Value: s.Redispatched},
		{Key: "held", Value: s.Held},
		{Key: "held_bytes", Value: s.HeldBytes},
		{Key: "refused_held_full", Value: s.Refused},
		{Key: "lost_twice", Value: s.Poisoned},
		{Key: "too_large", Value: s.TooLarge},
		{Key: "expired", Value: s.Expired},
		{Key: "unserved", Value: s.Unserved},
		{Key: "spilled", Value: s.Spilled},
		{Key: "workers_silent_dropped", Value: p.silentDropped.Load()},
		{Key: "memory", Value: p.memoryObject(s)},
		{Key: "vcenters", Value: vcentersObject(s.VCenters)},
		{Key: "worker_connections", Value: workersArray(s.WorkerConns)},
	}
	for i, name := range []string{"frontend_connections", "backend_connections"} {
		if l := p.listeners[i]; l != nil {
			ls := l.Stats()
			obj = append(obj, vpoller.Field{Key: name, Value: vpoller.Object{
				{Key: "active", Value: ls.Active}, {Key: "accepted", Value: ls.Accepted}, {Key: "refused", Value: ls.Refused},
				{Key: "evicted", Value: ls.Evicted}, {Key: "handshakes", Value: ls.Handshakes},
				{Key: "handshakes_evicted", Value: ls.HandshakesEvicted}, {Key: "auth_delayed", Value: ls.AuthDelayed},
				{Key: "handshake_failed", Value: ls.Failed}, {Key: "auth_failed", Value: ls.AuthFailed},
				{Key: "accept_errors", Value: ls.AcceptErrors}, {Key: "queued", Value: ls.Queued},
				{Key: "queued_total", Value: ls.QueuedTotal}, {Key: "queue_expired", Value: ls.QueueExpired},
				{Key: "queue_evicted", Value: ls.QueueEvicted},
			}})
		}
	}
	return append(obj, vpoller.Field{Key: "security", Value: vpoller.Object{
		{Key: "frontend", Value: p.security[0]}, {Key: "backend", Value: p.security[1]}, {Key: "mgmt", Value: p.security[2]},
	}})
}

// shown is the endpoint status reports: the configured one, as the
// original does, unless it asked for any free port (":0"), where only the
// bound one is useful.
func shown(configured, bound string) string {
	if strings.HasSuffix(configured, ":0") {
		return bound
	}
	return configured
}

// vcentersObject renders the per-vCenter placement for status, by name.
func vcentersObject(vcs map[string]VCenterStats) vpoller.Object {
	names := make([]string, 0, len(vcs))
	for n := range vcs {
		names = append(names, n)
	}
	sort.Strings(names)
	out := vpoller.Object{}
	for _, n := range names {
		v := vcs[n]
		out = append(out, vpoller.Field{Key: n, Value: vpoller.Object{
			{Key: "owner", Value: v.Owner}, {Key: "standby", Value: v.Standby},
			{Key: "routed", Value: v.Routed}, {Key: "spilled", Value: v.Spilled},
		}})
	}
	return out
}

func workersArray(ws []WorkerStats) []any {
	out := make([]any, 0, len(ws))
	for _, w := range ws {
		out = append(out, vpoller.Object{
			{Key: "id", Value: w.ID}, {Key: "remote", Value: w.Remote},
			{Key: "in_flight", Value: w.Inflight}, {Key: "limit", Value: w.Limit},
			{Key: "owns", Value: stringsAny(w.Owns)}, {Key: "standby_for", Value: stringsAny(w.Standby)},
			{Key: "heartbeats", Value: w.Heartbeats},
		})
	}
	return out
}

func stringsAny(in []string) []any {
	out := make([]any, 0, len(in))
	for _, s := range in {
		out = append(out, s)
	}
	return out
}

// memoryObject renders the memory budget for status: the limit, what is
// taken, and by what (requests held or in flight, replies queued for
// clients, the rest frames being read).
func (p *Proxy) memoryObject(s Stats) vpoller.Object {
	used, replies := p.budget.Used(), p.replyBytes.Load()
	return vpoller.Object{
		{Key: "limit", Value: p.budget.Limit()},
		{Key: "used", Value: used},
		{Key: "requests", Value: s.RequestBytes},
		{Key: "held_bytes", Value: s.HeldBytes},
		{Key: "in_flight_bytes", Value: s.InflightBytes},
		{Key: "replies_queued", Value: replies},
		{Key: "reading", Value: max(0, used-s.RequestBytes-replies)},
	}
}
