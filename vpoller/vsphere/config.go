package vsphere

import (
	"log/slog"
	"time"

	"github.com/vmware/govmomi/simulator"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

// The session and objects rooms' types that users of this package meet,
// under the names they had when everything lived here.
type (
	// AgentConfig describes one vSphere agent (see session.Config).
	AgentConfig = session.Config
	// ConnectError is a failure to reach or log in to an agent.
	ConnectError = session.ConnectError
	// LookupError is a failed object lookup ("Cannot find object ...").
	LookupError = objects.LookupError
	// Inventory is the documented content of an embedded simulator.
	Inventory = session.Inventory
	// MirrorOptions bound the watched property mirror.
	MirrorOptions = objects.MirrorOptions
	// SweepOptions tune the performance sweep.
	SweepOptions = objects.SweepOptions
)

// Defaults applied to zero AgentConfig fields.
const (
	DefaultPort    = session.DefaultPort
	DefaultTimeout = session.DefaultTimeout
)

// ParseThumbprint normalises a certificate thumbprint (see
// session.ParseThumbprint).
func ParseThumbprint(s string) (string, error) { return session.ParseThumbprint(s) }

// SimulatorInventory returns the documented content of an embedded
// simulator model ("vpx" or "", or "esx").
func SimulatorInventory(model string) Inventory { return session.SimulatorInventory(model) }

// Options tune a Service. Zero values select the defaults.
type Options struct {
	Logger *slog.Logger
	// Mirror bounds each agent's watched property mirror: reads of
	// watched properties cost vCenter nothing while the mirror is current.
	Mirror MirrorOptions
	// Sweep tunes each agent's performance sweep.
	Sweep SweepOptions
	// AlarmMaxAge bounds how old the alarm states <kind>.alarm.get
	// answers from may be (objects.DefaultAlarmMaxAge, 20 s, when zero):
	// each agent reads every object's alarm states at most once per
	// AlarmMaxAge, whatever the number of alarm items.
	AlarmMaxAge time.Duration
	// SimulatorSetup adjusts the model of each embedded simulator agent
	// before it serves (tests and benchmarks shape the simulated vCenter
	// with it).
	SimulatorSetup func(agent string, m *simulator.Model)
}
