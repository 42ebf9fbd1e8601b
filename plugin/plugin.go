package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	clients      map[string]*client.Client // by endpoint

	coalesce coalescer
	// send performs one vPoller call; tests replace it to count calls.
	send func(ctx context.Context, s Session, attempt time.Duration, req *vpoller.Request) (*vpoller.Response, error)
}

// New returns the plugin with the default configuration (what an agent
// without any Plugins.VPoller.* line gets).
func New() *VPoller {
	cfg, _ := ParseConfig(nil)
	p := &VPoller{log: slog.New(slog.DiscardHandler), cfg: cfg, clients: map[string]*client.Client{}}
	p.send = p.sendClient
	return p
}

// Plugin describes the plugin for agent2.Run.
func (p *VPoller) Plugin(version string) *agent2.Plugin {
	return &agent2.Plugin{Name: Name, Version: version, Metrics: Metrics(), Handler: p}
}

// UseLogger implements agent2.LogReceiver.
func (p *VPoller) UseLogger(l *slog.Logger) { p.log = l }

// Validate implements agent2.Configurator: it runs in the registration
// process at every agent start, so a broken configuration stops the agent
// with a message naming the option. No network work happens here.
func (p *VPoller) Validate(opts *agent2.Options) error {
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
	p.cfg, p.agentTimeout, p.clients = cfg, agentTimeout, map[string]*client.Client{}
	p.mu.Unlock()
	closeAll(old)
	return nil
}

// Start implements agent2.Runner. Clients connect lazily, on first use.
func (p *VPoller) Start() {}

// Stop implements agent2.Runner: it closes every vPoller connection.
func (p *VPoller) Stop() {
	p.mu.Lock()
	old := p.clients
	p.clients = map[string]*client.Client{}
	p.mu.Unlock()
	closeAll(old)
}

func closeAll(m map[string]*client.Client) {
	for _, c := range m {
		c.Close()
	}
}

// Export implements agent2.Exporter: one item value per call, each within
// a deadline that ends before the agent's.
func (p *VPoller) Export(ctx context.Context, r agent2.Request) (string, error) {
	m, ok := metricByKey(r.Key)
	if !ok {
		return "", fmt.Errorf("unknown key %s", r.Key)
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
	attempt := attemptTimeout(b, sess.Retries)

	resp, err := p.coalesce.do(ctx, sess.Endpoint, c.req, func(ctx context.Context, req *vpoller.Request) (*vpoller.Response, error) {
		// Errors are worded here, by the caller that made the call, so
		// that callers who joined it report what really happened.
		resp, err := p.send(ctx, sess, attempt, req)
		if err != nil {
			if errors.Is(err, client.ErrNoReply) || errors.Is(err, context.DeadlineExceeded) {
				return nil, noReplyError(sess.Endpoint, b, sess.Retries)
			}
			return nil, fmt.Errorf("vPoller at %s: %w", sess.Endpoint, err)
		}
		return resp, nil
	})
	if errors.Is(err, context.DeadlineExceeded) { // our own deadline, waiting for a shared call
		return "", noReplyError(sess.Endpoint, b, sess.Retries)
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
		b, err := lld.Discovery(c.req, resp, vpoller.Compact)
		return string(b), err
	case kindPoll:
		v, err := lld.Item(c.req, resp)
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

// sendClient sends through the endpoint's pooled client, making up to
// s.Retries attempts of at most attempt each (lazy pirate: a silent attempt
// abandons its socket and the request goes out again on a fresh one). The
// deadlines are ours, per request, so one client per endpoint serves items
// of any timeout and PoolSize caps the requests in flight per endpoint.
func (p *VPoller) sendClient(ctx context.Context, s Session, attempt time.Duration, req *vpoller.Request) (*vpoller.Response, error) {
	cl, err := p.client(s.Endpoint)
	if err != nil {
		return nil, err
	}
	for i := 1; ; i++ {
		actx, cancel := context.WithTimeout(ctx, attempt)
		resp, err := cl.Call(actx, req)
		cancel()
		if err == nil {
			return resp, nil
		}
		silent := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, client.ErrNoReply)
		if !silent || i >= s.Retries || ctx.Err() != nil {
			return nil, err
		}
		p.log.Warn("no reply from vPoller, retrying", "endpoint", s.Endpoint, "attempt", i, "of", s.Retries, "method", req.Method)
	}
}

// client returns the endpoint's client, created on first use (never in
// the registration run).
func (p *VPoller) client(endpoint string) (*client.Client, error) {
	p.mu.RLock()
	cl := p.clients[endpoint]
	p.mu.RUnlock()
	if cl != nil {
		return cl, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if cl = p.clients[endpoint]; cl != nil {
		return cl, nil
	}
	// One attempt per Call, bounded by our context: the attempt loop and
	// the deadlines are in sendClient.
	cl, err := client.New(endpoint, client.Options{Timeout: maxTimeoutSeconds * time.Second, Retries: 1, PoolSize: p.cfg.PoolSize, Logger: p.log})
	if err != nil {
		return nil, err
	}
	p.clients[endpoint] = cl
	return cl, nil
}
