package vsphere

import (
	"context"
	"log/slog"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects/eventstream"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects/tagging"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

// Agent is one vSphere endpoint as the method families see it: its
// session (the session room) and its objects (the objects room: index,
// property mirror, perf sweep, batchers). Method handlers receive it;
// everything on it is safe for concurrent use.
type Agent struct {
	cfg    AgentConfig
	log    *slog.Logger
	sess   *session.Session
	store  *objects.Store
	events *eventstream.Stream
	tags   *tagging.State

	tagWarning tagWarning

	data *dataSnapshots // license, certificate, appliance and vSAN snapshots (snapshots.go)
}

func newAgent(cfg AgentConfig, opts Options) (*Agent, error) {
	log := opts.Logger.With(slog.String("agent", cfg.Name))
	so := session.Options{Logger: opts.Logger}
	if opts.SimulatorSetup != nil {
		so.SimulatorSetup = func(m *simulator.Model) { opts.SimulatorSetup(cfg.Name, m) }
	}
	sess := session.New(cfg, so)
	store, err := objects.New(sess, objects.Options{Logger: log, Timeout: cfg.Timeout, Mirror: opts.Mirror, Sweep: opts.Sweep,
		AlarmMaxAge: opts.AlarmMaxAge})
	if err != nil {
		return nil, err
	}
	tags := tagging.New(sess, tagging.Options{Timeout: cfg.Timeout, Logger: log})
	a := &Agent{cfg: cfg, log: log, sess: sess, store: store, tags: tags,
		events: eventstream.New(sess, eventstream.Options{Timeout: cfg.Timeout})}
	a.data = newDataSnapshots(a)
	return a, nil
}

// Config is the agent's configuration, defaults applied. Log it whole
// (its LogValue hides the password), never its fields one by one.
func (a *Agent) Config() AgentConfig { return a.cfg }

// Name is the agent name clients use in "hostname".
func (a *Agent) Name() string { return a.cfg.Name }

// Client returns the agent's vim25 client, connecting and logging in on
// first use (see session.Session.Client).
func (a *Agent) Client(ctx context.Context) (*vim25.Client, error) { return a.sess.Client(ctx) }

// Simulator is the agent's embedded simulator once it runs (nil for a
// real vCenter): tests and benchmarks act on the simulated vCenter
// through it, as another user would.
func (a *Agent) Simulator() *session.Simulator { return a.sess.Simulator() }

// Store is the agent's objects room.
func (a *Agent) Store() *objects.Store { return a.store }

// close stops the objects room and destroys the event collector, then
// logs out and stops the simulator.
func (a *Agent) close() {
	a.store.Close()
	a.events.Close()
	a.sess.Close()
}
