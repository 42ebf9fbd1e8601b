package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
)

// Name is the plugin name: the agent configuration says
// Plugins.VPoller.System.Path=... and the names must match exactly.
const Name = "VPoller"

// VPoller serves the item keys. It implements agent2.Exporter,
// Configurator, Runner and LogReceiver. The zero value is not usable: use
// New.
type VPoller struct {
	log *slog.Logger

	mu           sync.RWMutex
	cfg          *Config
	agentTimeout time.Duration
	clients      map[string]*endpointClient // by Session.clientKey
	lastPrune    time.Time
	idle         time.Duration // clients unused this long are closed

	coalesce coalescer
	events   eventPositions // vpoller.events: each key's position in its event stream
	// send performs one vPoller call; tests replace it to count calls.
	send func(ctx context.Context, s Session, pol client.Policy, req *vpoller.Request) (*vpoller.Response, error)
	// agentConfig finds the agent's configuration file (the parent
	// process's), for checkAgentSpelling; tests replace it.
	agentConfig func() (string, bool)
}

// New returns the plugin with the default configuration (what an agent
// without any Plugins.VPoller.* line gets).
func New() *VPoller {
	cfg, _ := ParseConfig(nil)
	p := &VPoller{log: slog.New(slog.DiscardHandler), cfg: cfg, clients: map[string]*endpointClient{}, idle: clientIdle}
	p.send = p.sendClient
	p.agentConfig = func() (string, bool) { return agentConfigOf(os.Getppid()) }
	return p
}

// Plugin describes the plugin for agent2.Run.
func (p *VPoller) Plugin(version string) *agent2.Plugin {
	return &agent2.Plugin{Name: Name, Version: version, Metrics: Metrics(), Handler: p,
		MoreUsage: fmt.Sprintf(testUsage, "zabbix-agent2-plugin-vpoller", DefaultAgentConfig)}
}

// UseLogger implements agent2.LogReceiver.
func (p *VPoller) UseLogger(l *slog.Logger) { p.log = l }

// Validate implements agent2.Configurator: it runs in the registration
// process at every agent start, so a broken configuration stops the agent
// with a message naming the option. No network work happens here.
//
// It also warns about Plugins.<Name>.* lines of the agent's configuration
// whose <Name> is this plugin's in another case: the agent ignores them
// silently (see misspelt.go).
func (p *VPoller) Validate(opts *agent2.Options) error {
	p.checkAgentSpelling()
	_, err := ParseConfig(opts)
	return err
}

// Configure implements agent2.Configurator.
func (p *VPoller) Configure(g agent2.GlobalOptions, opts *agent2.Options) error {
	cfg, err := ParseConfig(opts)
	if err != nil {
		return err
	}
	agentTimeout := time.Duration(g.Timeout) * time.Second
	if agentTimeout > 0 && cfg.Default.Timeout >= agentTimeout {
		p.log.Warn(fmt.Sprintf("Plugins.%s.Timeout (%s) is not below the agent's Timeout (%s): agents 6.0/6.4 give up first (keep it below PluginTimeout)",
			Name, cfg.Default.Timeout, agentTimeout))
	}
	p.mu.Lock()
	old := p.clients
	p.cfg, p.agentTimeout, p.clients = cfg, agentTimeout, map[string]*endpointClient{}
	p.mu.Unlock()
	closeAll(old)
	// The state file is read here, in the operating process only (Validate
	// runs in the registration one); a problem with it is a WARN, never a
	// failure.
	p.events.useStore(cfg.EventsStateFile, p.log, time.Now())
	return nil
}

// Start implements agent2.Runner. Clients connect lazily, on first use.
func (p *VPoller) Start() {}

// Stop implements agent2.Runner: it closes every vPoller connection.
func (p *VPoller) Stop() {
	p.mu.Lock()
	old := p.clients
	p.clients = map[string]*endpointClient{}
	p.mu.Unlock()
	closeAll(old)
}

func closeAll(m map[string]*endpointClient) {
	for _, c := range m {
		c.cl.Close()
	}
}

// Export implements agent2.Exporter: one item value per call, each within
// a deadline that ends before the agent's.
func (p *VPoller) Export(ctx context.Context, r agent2.Request) (string, error) {
	m, ok := metricByKey(r.Key)
	if !ok {
		return "", fmt.Errorf("unknown key %s", r.Key)
	}
	if m.kind == kindStatus {
		return p.exportStatus(ctx, m, r.Params, r.Timeout)
	}
	c, err := parseCall(m, r.Params)
	if err != nil {
		return "", err
	}
	p.mu.RLock()
	cfg, agentTimeout := p.cfg, p.agentTimeout
	p.mu.RUnlock()
	sess, err := cfg.resolve(c.endpoint)
	if err != nil {
		return "", err
	}
	b := budget(r.Timeout, sess, agentTimeout)
	ctx, cancel := context.WithTimeout(ctx, b)
	defer cancel()
	pol := policy(b, sess)

	send := func(ctx context.Context, req *vpoller.Request) (*vpoller.Response, error) {
		// Errors are worded here, by the caller that made the call, so
		// that callers who joined it report what really happened.
		resp, err := p.send(ctx, sess, pol, req)
		if err != nil {
			if errors.Is(err, client.ErrNoReply) || errors.Is(err, context.DeadlineExceeded) {
				return nil, noReplyError(sess.Endpoint, b, pol.Attempts, err)
			}
			return nil, fmt.Errorf("vPoller at %s: %w", sess.Endpoint, err)
		}
		return resp, nil
	}
	if m.kind == kindEvents {
		// Not coalesced: a reply must be fresher than the key's previous
		// request, which a call already in flight may not be.
		return p.events.export(c, func(req *vpoller.Request) (*vpoller.Response, error) { return send(ctx, req) }, time.Now())
	}
	resp, err := p.coalesce.do(ctx, p.log, sess.Endpoint, c.req, send)
	if errors.Is(err, context.DeadlineExceeded) { // our own deadline, waiting for a shared call
		return "", noReplyError(sess.Endpoint, b, pol.Attempts, err)
	}
	if err != nil {
		return "", err
	}
	return render(c, resp)
}

// render turns a reply into the key's value.
func render(c *call, resp *vpoller.Response) (string, error) {
	if resp.Failed() {
		return "", errors.New(failMsg(resp))
	}
	switch c.metric.kind {
	case kindDiscover:
		b, err := lld.DiscoveryOf(c.method, resp, vpoller.Compact)
		return string(b), err
	case kindPoll:
		v, err := lld.ItemOf(c.method, c.req, resp)
		if err != nil {
			return "", err
		}
		return lld.Text(v)
	default:
		if resp.Result == nil {
			return "[]", nil
		}
		b, err := vpoller.Marshal(resp.Result, vpoller.Compact)
		if err != nil {
			return "", fmt.Errorf("%s: encode result: %w", c.req.Method, err)
		}
		return string(b), nil
	}
}

// failMsg is vPoller's own message ("Cannot find object vm01"), unchanged.
func failMsg(r *vpoller.Response) string {
	if r.Msg == "" {
		return "vPoller reported a failure without a message"
	}
	return r.Msg
}

// sendClient sends through the session's pooled client with the item's
// policy (see policy): the client's lazy pirate loop, which also walks
// the session's proxy list. The policy is per call, so one client per
// endpoint list serves items of any timeout and PoolSize caps the
// requests in flight per client.
func (p *VPoller) sendClient(ctx context.Context, s Session, pol client.Policy, req *vpoller.Request) (*vpoller.Response, error) {
	ec, err := p.client(s)
	if err != nil {
		return nil, err
	}
	defer p.release(ec)
	return ec.cl.CallWith(ctx, req, pol)
}

// Bounds of the per-endpoint clients: item keys may name any endpoint, so
// clients nobody used for clientIdle are closed, and at most maxClients
// exist at once.
const (
	clientIdle = 5 * time.Minute
	pruneEvery = 30 * time.Second
	maxClients = 256
	errTooMany = "too many vPoller endpoints in use at once (%d): close idle ones or use fewer distinct endpoints in item keys"
)

// endpointClient is one endpoint's client and its use.
type endpointClient struct {
	cl       *client.Client
	inUse    int       // calls in progress (under VPoller.mu)
	lastUsed time.Time // when the last call ended (under VPoller.mu)
}

// client returns the session's client, created on first use (never in
// the registration run), and marks it in use until release.
func (p *VPoller) client(s Session) (*endpointClient, error) {
	key := s.clientKey()
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); now.Sub(p.lastPrune) >= min(pruneEvery, p.idle) {
		p.lastPrune = now
		p.pruneLocked(now)
	}
	if ec := p.clients[key]; ec != nil {
		ec.inUse++
		return ec, nil
	}
	if len(p.clients) >= maxClients {
		p.pruneLocked(time.Now().Add(p.idle)) // anything not in use
		if len(p.clients) >= maxClients {
			return nil, fmt.Errorf(errTooMany, maxClients)
		}
	}
	mech := s.mech
	if mech == nil {
		mech = p.cfg.Default.mech
	}
	// Attempts and their timeouts come with each call (sendClient).
	cl, err := client.New(s.Endpoint, client.Options{PoolSize: p.cfg.PoolSize, Logger: p.log, Mechanism: mech})
	if err != nil {
		return nil, err
	}
	ec := &endpointClient{cl: cl, inUse: 1}
	p.clients[key] = ec
	return ec, nil
}

func (p *VPoller) release(ec *endpointClient) {
	p.mu.Lock()
	ec.inUse--
	ec.lastUsed = time.Now()
	p.mu.Unlock()
}

// pruneLocked closes the clients not in use whose last call ended before
// now minus the idle time (locked). Close only closes idle sockets here:
// nothing is in flight on these clients.
func (p *VPoller) pruneLocked(now time.Time) {
	for key, ec := range p.clients {
		if ec.inUse == 0 && now.Sub(ec.lastUsed) >= p.idle {
			delete(p.clients, key)
			ec.cl.Close()
		}
	}
}

// openClients is the number of per-endpoint clients (for tests).
func (p *VPoller) openClients() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.clients)
}
