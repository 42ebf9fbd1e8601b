package plugin

import (
	"fmt"
	"strings"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// call is a parsed item key: the vPoller request, where to send it, and
// its method's Zabbix facts, looked up once per item.
type call struct {
	metric   metric
	req      *vpoller.Request
	method   lld.Method
	endpoint string // session name, URI, or "" for the default
}

// ordinal gives "1st", "2nd", ... for parameter positions in messages.
func ordinal(i int) string {
	suffix := "th"
	switch {
	case i%100 >= 11 && i%100 <= 13:
	case i%10 == 1:
		suffix = "st"
	case i%10 == 2:
		suffix = "nd"
	case i%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", i, suffix)
}

// parseCall turns key parameters into a vPoller request, applying the
// table's names and the method catalogue's rules, with messages a Zabbix
// user can act on.
func parseCall(m metric, params []string) (*call, error) {
	if len(params) > len(m.params) {
		return nil, fmt.Errorf("too many parameters (%d): %s takes at most %d: %s", len(params), m.key, len(m.params), m.signature())
	}
	c := &call{metric: m, req: &vpoller.Request{Method: m.method}}
	for i, p := range m.params {
		v := ""
		if i < len(params) {
			v = strings.TrimSpace(params[i])
		}
		if v == "" || v == "(null)" {
			if p.required {
				return nil, fmt.Errorf("the %s parameter (%s) is required: %s", p.name, ordinal(i+1), m.signature())
			}
			continue
		}
		if p.name == endpointParam {
			c.endpoint = v
			continue
		}
		p.set(c.req, v)
	}
	if err := c.checkMethod(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkMethod rejects a method used with the wrong key and requests that
// lack what the method needs, before anything is sent.
func (c *call) checkMethod() error {
	r := c.req
	mi, known := vpoller.Method(r.Method)
	c.method, _ = lld.Lookup(r.Method)
	if !known {
		if c.metric.kind == kindGet {
			return nil // a newer worker may know it: pass it on
		}
		return fmt.Errorf("unknown vPoller method %q", r.Method)
	}
	switch c.metric.kind {
	case kindDiscover:
		if c.method.Plugin != lld.KindLLD {
			return fmt.Errorf("%s is not a discovery method: use vpoller.poll[...] for one value or vpoller.get[...] for the whole result", r.Method)
		}
	case kindPoll:
		switch c.method.Plugin {
		case lld.KindLLD:
			return fmt.Errorf("%s is a discovery method: use vpoller.discover[%s,...] (or vpoller.get[...] for the raw result)", r.Method, r.Method)
		case lld.KindNone:
			return fmt.Errorf("%s returns no single value: use vpoller.get[%s,...] and a dependent item", r.Method, r.Method)
		}
		if mi.Action == vpoller.ActionPerf {
			// The newest sample's value: the worker returns max-sample
			// samples oldest first and lld.Item takes the last one.
			if len(r.Properties) == 0 {
				r.Properties = []string{"value"}
			}
			r.MaxSample = 1
		} else if len(r.Properties) == 0 && r.Method != "vm.process.get" {
			return fmt.Errorf("the property parameter (4th) is required for %s: %s", r.Method, c.metric.signature())
		}
	}
	if k := mi.Missing(r); k != "" {
		return fmt.Errorf("%s needs the %s parameter (%s): %s", r.Method, k, c.position(k), c.metric.signature())
	}
	return nil
}

// position names the key parameter that carries a wire key.
func (c *call) position(wireKey string) string {
	for i, p := range c.metric.params {
		if p.name == wireKey || (wireKey == vpoller.KeyProperties && p.name == "property") {
			return ordinal(i + 1)
		}
	}
	return "not available in " + c.metric.key
}
