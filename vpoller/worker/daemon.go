package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpoller/zabbix-vpoller/internal/buildinfo"
	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/metrics"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/mgmt"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// MsgStatus is the msg of the management status reply, as the original's.
const MsgStatus = "vPoller Worker status"

// DaemonOptions tune a Daemon beyond the configuration file.
type DaemonOptions struct {
	Logger *slog.Logger
	// Worker carries the connection and request tuning and the
	// Formatters; its Proxy, Concurrency and Helpers are taken from the
	// configuration.
	Worker Options
	// CloseTimeout bounds logging out of the vSphere sessions.
	CloseTimeout time.Duration
}

// Daemon is a whole worker process: agents loaded from the configuration,
// the vSphere service, the proxy connection and the management socket.
type Daemon struct {
	cfg    config.Worker
	svc    *vsphere.Service
	w      *Worker
	mgmt   *mgmt.Server
	log    *slog.Logger
	opts   DaemonOptions
	cancel context.CancelFunc
	done   chan error

	mgmtSecurity string
	metrics      *metrics.Server

	// reloading serialises Reload; loaded is what the last load of the
	// agent sources gave (see Reload).
	reloading sync.Mutex
	loaded    loadedAgents
	// ready is closed once w is set: the management socket answers
	// status before that with "starting".
	ready chan struct{}
}

// ResolvePaths makes the worker's relative paths (db, vsphere_hosts_dir)
// relative to the configuration file's directory, so a configuration
// works wherever the daemon is started from.
func ResolvePaths(cfg *config.Config) {
	cfg.Worker.DB = cfg.Resolve(cfg.Worker.DB)
	cfg.Worker.VSphereHostsDir = cfg.Resolve(cfg.Worker.VSphereHostsDir)
}

// Start loads the agents, binds the management socket and starts serving
// the proxy in the background. Relative paths in cfg are resolved against
// cfg.Path (see ResolvePaths). Stop it with Stop, or wait for a
// management "shutdown" with Done.
func Start(ctx context.Context, cfg *config.Config, opts DaemonOptions) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = 10 * time.Second
	}
	ResolvePaths(cfg)
	wc := cfg.Worker
	set, err := loadAgents(ctx, wc.DB, wc.VSphereHostsDir, opts.Logger, false)
	if err != nil {
		return nil, err
	}
	agents := set.agents
	if unavailable := set.unavailable(); len(agents) == 0 && len(unavailable) > 0 {
		names := make([]string, 0, len(unavailable))
		for n := range unavailable {
			names = append(names, n)
		}
		sort.Strings(names)
		opts.Logger.Warn("no vCenter can be served: requests for the unreadable ones are answered with the fix logged above",
			"unavailable", names, "vsphere_hosts_dir", wc.VSphereHostsDir)
	} else if len(agents) == 0 {
		opts.Logger.Warn("no vSphere agents configured: every request will get \"Unknown or missing agent name\"",
			"db", wc.DB, "vsphere_hosts_dir", wc.VSphereHostsDir)
	}
	m := wc.Mirror
	svc, err := vsphere.NewService(agents, vsphere.Options{Logger: opts.Logger,
		Mirror: vsphere.MirrorOptions{Off: !m.Enabled, MaxPaths: m.MaxPaths, PathExpiry: m.PathExpiry, MaxAge: m.MaxAge, Wait: m.Wait},
		Sweep:  vsphere.SweepOptions{Off: !m.Sweep, Expiry: m.SweepExpiry}})
	if err != nil {
		return nil, err
	}
	svc.SetUnavailable(set.unavailable())
	mgmtMech, mgmtDesc, err := mgmt.ServerSecurity(wc.MgmtSecurity)
	if err != nil {
		_ = svc.Close(ctx)
		return nil, fmt.Errorf("management security: %w", err)
	}
	d := &Daemon{cfg: wc, svc: svc, log: opts.Logger, opts: opts, done: make(chan error, 1), mgmtSecurity: mgmtDesc,
		ready: make(chan struct{}), loaded: newLoaded(set)}
	// The management socket is bound first: its endpoint, unique on this
	// host, is part of the worker's default id.
	d.mgmt, err = mgmt.Listen(ctx, wc.Mgmt, mgmt.Options{StatusMsg: MsgStatus, Status: d.Status, Security: mgmtMech, Logger: opts.Logger,
		Version: buildinfo.Version(), Reload: d.mgmtReload})
	if err != nil {
		_ = svc.Close(ctx)
		return nil, err
	}
	wo := opts.Worker
	wo.Proxy, wo.Concurrency, wo.Helpers, wo.Logger = wc.Proxy, wc.Concurrency, wc.Helpers, opts.Logger
	wo.Agents, wo.Unreachable = svc.Agents(), vsphere.Unreachable
	wo.AgentConcurrency, wo.BreakerFailures, wo.BreakerCooldown, wo.MaxReplyBytes = wc.AgentConcurrency, wc.BreakerFailures, wc.BreakerCooldown, wc.MaxReplyBytes
	wo.Queue, wo.ReleaseAfter = wc.Queue, wc.ReleaseAfter
	wo.SetRole = func(agent string, r Role) error { return svc.SetRole(agent, storeRole(r)) }
	if wo.ID = wc.ID; wo.ID == "" {
		host, _ := os.Hostname()
		wo.ID = host + " " + d.mgmt.Endpoint()
	}
	if wo.Mechanism, err = zmtp.ClientMechanism(wc.ProxyCurveServerKey, wc.ProxyCurveSecretKey); err != nil {
		_ = d.mgmt.Close()
		_ = svc.Close(ctx)
		return nil, fmt.Errorf("proxy_curve_server_key / proxy_curve_secret_key: %w", err)
	}
	if d.w, err = New(svc, wo); err != nil {
		_ = d.mgmt.Close()
		_ = svc.Close(ctx)
		return nil, err
	}
	w := d.w
	close(d.ready)
	if wc.MetricsListen != "" {
		reg, err := metrics.NewRegistry(append(w.Collectors(), d.vsphereCollector())...)
		if err == nil {
			d.metrics, err = metrics.Listen(wc.MetricsListen, reg, opts.Logger)
		}
		if err != nil {
			_ = d.mgmt.Close()
			_ = svc.Close(ctx)
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	// Names only: an agent's LogValue hides its password, but not when
	// formatted inside a list.
	opts.Logger.Info("vPoller worker starting", "version", buildinfo.Version(), "id", w.opts.ID, "proxy", wc.Proxy, "proxy_security", w.opts.Mechanism.Name(), "mgmt", wc.Mgmt,
		"mgmt_security", mgmtDesc, "concurrency", w.opts.Concurrency, "agent_concurrency", w.opts.AgentConcurrency, "agents", svc.Agents())
	// As served: defaults applied (host, port), the password hidden by
	// the configuration's LogValue.
	for _, a := range svc.Configs() {
		opts.Logger.Debug("vSphere agent", "agent", a)
	}
	go func() { d.done <- w.Run(runCtx) }()
	return d, nil
}

// MgmtAddr is the management socket's bound address.
func (d *Daemon) MgmtAddr() net.Addr { return d.mgmt.Addr() }

// ShutdownRequested is closed when a management "shutdown" was answered.
func (d *Daemon) ShutdownRequested() <-chan struct{} { return d.mgmt.ShutdownRequested() }

// Worker returns the proxy-facing worker (for its Stats).
func (d *Daemon) Worker() *Worker { return d.w }

// Stop stops taking requests, lets those in flight finish (bounded by the
// worker's DrainTimeout), closes the management socket and logs out of
// every vSphere session (bounded by CloseTimeout).
func (d *Daemon) Stop() error {
	d.cancel()
	err := <-d.done
	d.done <- err // Stop may be called again
	errs := []error{err}
	if e := d.mgmt.Close(); e != nil && !errors.Is(e, net.ErrClosed) {
		errs = append(errs, fmt.Errorf("close management socket: %w", e))
	}
	if d.metrics != nil {
		mctx, mcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = d.metrics.Close(mctx)
		mcancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.CloseTimeout)
	defer cancel()
	if e := d.svc.Close(ctx); e != nil {
		errs = append(errs, fmt.Errorf("vSphere logout: %w", e))
	}
	d.log.Info("vPoller worker stopped", "requests", d.w.Stats().Requests)
	return errors.Join(errs...)
}

// loadedAgents is what a load of the agent sources gave: each agent's
// configuration and the file that defined (or completed) it.
type loadedAgents struct {
	byName map[string]vsphere.AgentConfig
	byFile map[string]string // file path -> agent name
}

func newLoaded(set agentSet) loadedAgents {
	l := loadedAgents{byName: map[string]vsphere.AgentConfig{}, byFile: map[string]string{}}
	for _, a := range set.agents {
		l.byName[a.Name] = a
	}
	for p, n := range set.files {
		l.byFile[p] = n
	}
	return l
}

// Reload reads the agent sources again (the worker's SIGHUP) and serves
// what they say now, without a restart: new vCenters are added, removed
// ones logged out, changed ones get a new session; the others keep their
// sessions, mirrors and sweeps, and their requests go on. A per-vCenter
// file that cannot be read or parsed now is logged at ERROR with its path
// and the vCenter it defined keeps its previous definition. When the set
// of vCenters changed, the worker reconnects to its proxies to announce
// it (Worker.SetAgents). vpoller.conf itself is not read again: its
// settings need a restart. What changed is logged by name (never a
// password) and returned.
func (d *Daemon) Reload(ctx context.Context) (vsphere.Change, error) {
	d.reloading.Lock()
	defer d.reloading.Unlock()
	set, err := loadAgents(ctx, d.cfg.DB, d.cfg.VSphereHostsDir, d.log, true)
	if err != nil {
		d.log.Error("reload failed: every vCenter keeps its previous definition", "err", err)
		return vsphere.Change{}, err
	}
	byName := map[string]vsphere.AgentConfig{}
	for _, a := range set.agents {
		byName[a.Name] = a
	}
	defined := map[string]bool{} // by a file read now
	for _, n := range set.files {
		defined[n] = true
	}
	for _, b := range set.bad {
		name, had := d.loaded.byFile[b.path]
		prev, ok := d.loaded.byName[name]
		switch {
		case had && ok && !defined[name]:
			byName[name] = prev
			set.files[b.path] = name
			d.log.Error("vsphere host file not reloaded: its vCenter keeps its previous definition", "file", b.path, "vcenter", name, "err", b.err)
		case b.unreadable:
			// Logged by loadAgents, with the fix.
		default:
			d.log.Error("vsphere host file not loaded", "file", b.path, "err", b.err)
		}
	}
	cfgs := make([]vsphere.AgentConfig, 0, len(byName))
	for _, a := range byName {
		cfgs = append(cfgs, a)
	}
	sort.Slice(cfgs, func(i, j int) bool { return cfgs[i].Name < cfgs[j].Name })
	ch, err := d.svc.Update(cfgs)
	if err != nil {
		d.log.Error("reload failed: every vCenter keeps its previous definition", "err", err)
		return vsphere.Change{}, err
	}
	set.agents = cfgs
	d.loaded = newLoaded(set)
	d.svc.SetUnavailable(set.unavailable())
	reconnect := d.w.SetAgents(d.svc.Agents())
	d.log.Info("vCenters reloaded", "added", ch.Added, "removed", ch.Removed, "changed", ch.Changed,
		"vcenters", len(cfgs), "reannounced", reconnect)
	for _, name := range append(append([]string{}, ch.Added...), ch.Changed...) {
		if a, ok := d.svc.Agent(name); ok {
			d.log.Debug("vSphere agent", "agent", a.Config())
		}
	}
	return ch, nil
}

// mgmtReload is the management socket's reload (vpoller-worker reload):
// Reload, answered with what changed.
func (d *Daemon) mgmtReload() (vpoller.Object, error) {
	select {
	case <-d.ready:
	default:
		return nil, errors.New("the worker is still starting")
	}
	ch, err := d.Reload(context.Background())
	if err != nil {
		return nil, err
	}
	return vpoller.Object{{Key: "added", Value: stringsAny(ch.Added)}, {Key: "removed", Value: stringsAny(ch.Removed)},
		{Key: "changed", Value: stringsAny(ch.Changed)}, {Key: "agents", Value: stringsAny(d.svc.Agents())}}, nil
}

// MetricsAddr is the /metrics address, nil when not served.
func (d *Daemon) MetricsAddr() net.Addr {
	if d.metrics == nil {
		return nil
	}
	return d.metrics.Addr()
}

// vsphereCollector exposes the vSphere service's counters.
func (d *Daemon) vsphereCollector() prometheus.Collector {
	calls := prometheus.NewDesc("vpoller_worker_vsphere_soap_calls_total", "vSphere API calls made.", nil, nil)
	logins := prometheus.NewDesc("vpoller_worker_vsphere_logins_total", "vSphere logins.", nil, nil)
	coalesced := prometheus.NewDesc("vpoller_worker_vsphere_coalesced_total", "Requests answered by an identical one in flight.", nil, nil)
	return metrics.NewFunc([]*prometheus.Desc{calls, logins, coalesced}, func(ch chan<- prometheus.Metric) {
		s := d.svc.Stats()
		ch <- prometheus.MustNewConstMetric(calls, prometheus.CounterValue, float64(s.SOAPCalls))
		ch <- prometheus.MustNewConstMetric(logins, prometheus.CounterValue, float64(s.Logins))
		ch <- prometheus.MustNewConstMetric(coalesced, prometheus.CounterValue, float64(s.Coalesced))
	})
}

// MgmtEndpoint is the management socket's bound endpoint.
func (d *Daemon) MgmtEndpoint() string { return d.mgmt.Endpoint() }

// Status is the management status result: the original worker's fields
// in its order, then ours.
func (d *Daemon) Status() vpoller.Object {
	host, _ := os.Hostname()
	select {
	case <-d.ready:
	default:
		return vpoller.Object{{Key: "status", Value: "starting"}, {Key: "hostname", Value: host}}
	}
	ws := d.w.Stats()
	vs := d.svc.Stats()
	agents := make([]any, 0)
	for _, a := range d.svc.Agents() {
		agents = append(agents, a)
	}
	return vpoller.Object{
		{Key: "status", Value: "running"},
		{Key: "hostname", Value: host},
		{Key: "proxy", Value: d.cfg.Proxy},
		{Key: "mgmt", Value: d.cfg.Mgmt},
		{Key: "db", Value: d.cfg.DB},
		{Key: "concurrency", Value: d.w.opts.Concurrency},
		{Key: "helpers", Value: stringsAny(d.cfg.Helpers)},
		{Key: "tasks", Value: stringsAny(d.cfg.Tasks)},
		{Key: "agents", Value: agents},
		{Key: "requests", Value: ws.Requests},
		{Key: "in_flight", Value: ws.InFlight},
		{Key: "queued", Value: ws.Queued},
		{Key: "connected", Value: ws.Connected},
		{Key: "id", Value: d.w.opts.ID},
		{Key: "proxies", Value: linksArray(ws.Proxies)},
		{Key: "roles", Value: rolesObject(d.w.Roles())},
		{Key: "vsphere", Value: vpoller.Object{
			{Key: "soap_calls", Value: vs.SOAPCalls},
			{Key: "logins", Value: vs.Logins},
			{Key: "coalesced", Value: vs.Coalesced},
			{Key: "agents", Value: vs.AgentsObject()},
		}},
		{Key: "lanes", Value: d.w.LaneStatus()},
		{Key: "security", Value: vpoller.Object{
			{Key: "proxy", Value: d.w.opts.Mechanism.Name()},
			{Key: "mgmt", Value: d.mgmtSecurity},
		}},
		{Key: "unavailable", Value: unavailableObject(d.svc.Unavailable())},
	}
}

// unavailableObject renders the vCenters configured but not served, by
// name, with the reason.
func unavailableObject(m map[string]string) vpoller.Object {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := vpoller.Object{}
	for _, n := range names {
		out = append(out, vpoller.Field{Key: n, Value: m[n]})
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

func linksArray(ls []LinkStats) []any {
	out := make([]any, 0, len(ls))
	for _, l := range ls {
		out = append(out, vpoller.Object{{Key: "endpoint", Value: l.Endpoint}, {Key: "connected", Value: l.Connected},
			{Key: "vpoller_proxy", Value: l.VPollerProxy}, {Key: "connects", Value: l.Connects}})
	}
	return out
}

func rolesObject(roles map[string]Role) vpoller.Object {
	names := make([]string, 0, len(roles))
	for n := range roles {
		names = append(names, n)
	}
	sort.Strings(names)
	out := vpoller.Object{}
	for _, n := range names {
		out = append(out, vpoller.Field{Key: n, Value: string(roles[n])})
	}
	return out
}

// storeRole is the objects room's role for a worker role.
func storeRole(r Role) objects.Role {
	switch r {
	case RoleOwner:
		return objects.RoleOwner
	case RoleStandby:
		return objects.RoleStandby
	case RolePassive:
		return objects.RolePassive
	}
	return objects.RoleAuto
}
