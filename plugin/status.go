package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/mgmt"
)

// statusMsgs are the msg of each daemon's status reply: the reply must
// come from the daemon the item names.
var statusMsgs = map[string]string{"proxy": "vPoller Proxy status", "worker": "vPoller Worker status"}

// exportStatus answers vpoller.status[daemon,mgmt]: the daemon's
// management status result as compact JSON, for a master item whose
// dependent items pick figures with JSONPath.
func (p *VPoller) exportStatus(ctx context.Context, m metric, params []string, itemTimeout time.Duration) (string, error) {
	if len(params) > len(m.params) {
		return "", fmt.Errorf("too many parameters (%d): %s", len(params), m.signature())
	}
	vals := make([]string, len(m.params))
	for i, prm := range m.params {
		if i < len(params) {
			vals[i] = strings.TrimSpace(params[i])
		}
		if vals[i] == "" {
			return "", fmt.Errorf("the %s parameter (%s) is required: %s", prm.name, ordinal(i+1), m.signature())
		}
	}
	daemon := strings.ToLower(vals[0])
	want, ok := statusMsgs[daemon]
	if !ok {
		return "", fmt.Errorf("the daemon parameter is %q: want proxy or worker", vals[0])
	}
	p.mu.RLock()
	cfg, agentTimeout := p.cfg, p.agentTimeout
	p.mu.RUnlock()
	target, err := cfg.mgmt(vals[1])
	if err != nil {
		return "", err
	}
	b := budget(itemTimeout, cfg.Default, agentTimeout)
	raw, err := mgmt.Call(ctx, target.Endpoint, "status", b, target.mech)
	if err != nil {
		if errors.Is(err, mgmt.ErrNoReply) {
			return "", fmt.Errorf("no status from the vPoller %s at %s within %s", daemon, target.Endpoint, b)
		}
		return "", fmt.Errorf("vPoller %s at %s: %w", daemon, target.Endpoint, err)
	}
	resp, err := vpoller.DecodeResponse(raw)
	if err != nil {
		return "", fmt.Errorf("vPoller %s at %s: %w", daemon, target.Endpoint, err)
	}
	if resp.Failed() {
		return "", errors.New(failMsg(resp))
	}
	if resp.Msg != want {
		return "", fmt.Errorf("%s is not a vPoller %s: its status says %q", target.Endpoint, daemon, resp.Msg)
	}
	out, err := vpoller.Marshal(resp.Result, vpoller.Compact)
	if err != nil {
		return "", fmt.Errorf("vPoller %s status: %w", daemon, err)
	}
	return string(out), nil
}
