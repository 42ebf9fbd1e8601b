package agent2

import (
	"context"
	"fmt"
	"regexp"
	"time"
	"unicode"
	"unicode/utf8"
)

// Metric is one item key a plugin provides, as registered with the agent.
type Metric struct {
	Key string
	// Description must start with an upper-case letter and end with '.':
	// the agent refuses to start otherwise (6.0.14 even panics).
	Description string
}

// Request is one Export: an item key to compute.
type Request struct {
	ID  uint32
	Key string
	// Params are the key's parameters as the agent parsed them
	// (quotes removed; nil when the key had no brackets).
	Params []string
	// Timeout is the item timeout the agent sent (7.0+; it waits that plus
	// 0.5 s). Zero when the agent sent none (6.0/6.4 wait their
	// PluginTimeout instead, which the plugin must know from configuration).
	Timeout time.Duration
}

// Exporter computes item values. Export is called concurrently, one
// goroutine per request; ctx is cancelled when the agent terminates the
// plugin. The value always reaches the agent as a string.
type Exporter interface {
	Export(ctx context.Context, req Request) (string, error)
}

// Configurator receives the Plugins.<Name>.* configuration. Validate runs in
// the registration process at every agent start (an error stops the agent,
// the right outcome for a broken configuration); Configure runs first in the
// operating process. Neither should do network work.
type Configurator interface {
	Validate(opts *Options) error
	Configure(global GlobalOptions, opts *Options) error
}

// Runner is told when the agent starts and stops using the plugin (the
// operating process can be stopped and started again during the agent's life).
type Runner interface {
	Start()
	Stop()
}

// Plugin describes a loadable plugin.
type Plugin struct {
	// Name must equal the <Name> of Plugins.<Name>.System.Path exactly.
	Name string
	// Version is printed by -V.
	Version string
	Metrics []Metric
	// Handler serves Exports; it may also implement Configurator and Runner.
	Handler Exporter
	// MoreUsage, when set, ends the -h text: modes of the binary that
	// the plugin's main handles itself (a -t KEY test run, say).
	MoreUsage string
}

var metricKeyRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// check applies the agent's own registration rules, so a bad metric table
// becomes a clear registration error instead of an agent panic.
func (p *Plugin) check() error {
	if p == nil || p.Handler == nil {
		return fmt.Errorf("plugin has no handler")
	}
	if p.Name == "" {
		return fmt.Errorf("plugin has no name")
	}
	if len(p.Metrics) == 0 {
		return fmt.Errorf("plugin %s declares no metrics", p.Name)
	}
	seen := map[string]bool{}
	for _, m := range p.Metrics {
		if !metricKeyRE.MatchString(m.Key) {
			return fmt.Errorf("metric key %q: only letters, digits, '.', '_' and '-' are allowed", m.Key)
		}
		if seen[m.Key] {
			return fmt.Errorf("metric key %q declared twice", m.Key)
		}
		seen[m.Key] = true
		first, _ := utf8.DecodeRuneInString(m.Description)
		if !unicode.IsUpper(first) || m.Description[len(m.Description)-1] != '.' {
			return fmt.Errorf("metric %q: description %q must start with a capital letter and end with '.'", m.Key, m.Description)
		}
	}
	return nil
}

// interfaces is the Register bitmask for the handler's capabilities.
func (p *Plugin) interfaces() uint32 {
	bits := interfaceExporter
	if _, ok := p.Handler.(Configurator); ok {
		bits |= interfaceConfigurator
	}
	if _, ok := p.Handler.(Runner); ok {
		bits |= interfaceRunner
	}
	return bits
}

func (p *Plugin) metricPairs() []string {
	out := make([]string, 0, 2*len(p.Metrics))
	for _, m := range p.Metrics {
		out = append(out, m.Key, m.Description)
	}
	return out
}
