package plugin

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
	"github.com/vpoller/zabbix-vpoller/plugin/internal/standin"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
)

// newPlugin returns a configured plugin talking to endpoint.
func newPlugin(t *testing.T, endpoint string, kv ...string) *VPoller {
	t.Helper()
	p := New()
	if err := p.Configure(agent2.GlobalOptions{Timeout: 3}, opts(append([]string{"Endpoint", endpoint}, kv...)...)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

func startStandin(t *testing.T, a standin.Answer) *standin.Server {
	t.Helper()
	s, err := standin.Start(a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func export(p *VPoller, key string, timeout time.Duration, params ...string) (string, error) {
	return p.Export(context.Background(), agent2.Request{Key: key, Params: params, Timeout: timeout})
}

func TestExportValues(t *testing.T) {
	s := startStandin(t, standin.Inventory)
	p := newPlugin(t, s.Endpoint)
	tests := []struct {
		key    string
		params []string
		want   string
		err    string
	}{
		{"vpoller.discover", []string{"vm.discover", "vcsim.local"},
			`{"data":[{"{#VSPHERE.VM.NAME}":"DC0_H0_VM0"},{"{#VSPHERE.VM.NAME}":"DC0_H0_VM1"},{"{#VSPHERE.VM.NAME}":"DC0_C0_RP0_VM0"},{"{#VSPHERE.VM.NAME}":"DC0_C0_RP0_VM1"}]}`, ""},
		{"vpoller.poll", []string{"vm.get", "vcsim.local", "DC0_H0_VM0", "runtime.powerState"}, "poweredOn", ""},
		{"vpoller.poll", []string{"vm.get", "vcsim.local", "DC0_H0_VM0", "summary.config.numCpu"}, "1", ""},
		{"vpoller.poll", []string{"vm.get", "vcsim.local", "DC0_H0_VM0", "config.template"}, "false", ""},
		{"vpoller.poll", []string{"vm.perf.metric.get", "vcsim.local", "DC0_H0_VM0", "", "", "", "", "cpu.usage.average.percent"}, "12.5", ""},
		{"vpoller.get", []string{"vm.get", "vcsim.local", "DC0_H0_VM0", "runtime.powerState,summary.config.numCpu,summary.config.memorySizeMB"},
			`[{"name":"DC0_H0_VM0","runtime.powerState":"poweredOn","summary.config.numCpu":1,"summary.config.memorySizeMB":32}]`, ""},
		{"vpoller.poll", []string{"vm.get", "vcsim.local", "nosuchvm", "runtime.powerState"}, "", "Cannot find object nosuchvm"},
		{"vpoller.poll", []string{"vm.get", "vcsim.local", "DC0_H0_VM0", "no.such.prop"}, "", `vm.get: the result has no property "no.such.prop"`},
		{"vpoller.get", []string{"vm.future.method", "vcsim.local"}, "", "Unknown or missing task/method name"},
		{"vpoller.poll", []string{"vm.get", "vcsim.local", "DC0_H0_VM0", "runtime.powerState", "", "", "", "", "", "", "nosession"}, "", `unknown session "nosession"`},
	}
	for _, tt := range tests {
		got, err := export(p, tt.key, 5*time.Second, tt.params...)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err && !strings.HasPrefix(err.Error(), tt.err) {
				t.Errorf("%s%q: (%q, %v), want error %q", tt.key, tt.params, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s%q:\n got %q, %v\nwant %q", tt.key, tt.params, got, err, tt.want)
		}
	}
	// the perf poll asked for the newest sample only
	for _, raw := range s.Requests() {
		if strings.Contains(string(raw), "perf.metric.get") && !strings.Contains(string(raw), `"properties": ["value"], "counter-name": "cpu.usage.average.percent", "instance": null, "max-sample": 1`) {
			t.Errorf("perf request %s", raw)
		}
	}
}

func TestRenderEmptyAndFailed(t *testing.T) {
	m, _ := metricByKey("vpoller.discover")
	c, _ := parseCall(m, []string{"vm.discover", "vc"})
	if got, err := render(c, vpoller.OK("Successfully discovered objects", []any{})); err != nil || got != `{"data":[]}` {
		t.Fatalf("empty discovery: %q %v", got, err)
	}
	if _, err := render(c, vpoller.Fail("Cannot connect to vc: timeout")); err == nil || err.Error() != "Cannot connect to vc: timeout" {
		t.Fatalf("failed reply: %v", err)
	}
	g, _ := metricByKey("vpoller.get")
	c, _ = parseCall(g, []string{"about", "vc"})
	got, err := render(c, vpoller.OK("ok", vpoller.Object{{Key: "version", Value: "8.0.0"}, {Key: "name", Value: `a "b" <c>`}}))
	if err != nil || got != `{"version":"8.0.0","name":"a \"b\" <c>"}` {
		t.Fatalf("get: %q %v", got, err)
	}
}

func TestExportNoReplyWithinDeadline(t *testing.T) {
	silent := startStandin(t, func(*vpoller.Request, []byte) (*vpoller.Response, time.Duration, bool) { return nil, 0, false })
	p := newPlugin(t, silent.Endpoint, "Retries", "2")
	for i, tc := range []struct {
		item time.Duration // 7.0 sends it; 6.0 does not
		want string
	}{
		{2 * time.Second, fmt.Sprintf("No answer from vPoller at %s within 1.5s (2 attempts)", silent.Endpoint)},
		{0, fmt.Sprintf("No answer from vPoller at %s within 2.5s (2 attempts)", silent.Endpoint)},
	} {
		start := time.Now()
		_, err := export(p, "vpoller.poll", tc.item, "vm.get", "vcsim.local", fmt.Sprintf("vm%d", i), "name")
		took := time.Since(start)
		if err == nil || err.Error() != tc.want {
			t.Fatalf("error %v, want %q", err, tc.want)
		}
		limit := tc.item
		if limit == 0 {
			limit = 3 * time.Second // the 6.0 agent's Timeout
		}
		if took >= limit {
			t.Fatalf("answered after %v: the agent (%v) would have given up", took, limit)
		}
	}
	// 2 items x 2 attempts; the second attempt starts at half the budget,
	// so on a loaded machine one may be cut by the deadline before it is
	// sent: at least one item must show its retry.
	if n := silent.Received(); n < 3 || n > 4 {
		t.Fatalf("%d requests reached vPoller, want 2 attempts x 2 items", n)
	}
}

func TestCoalescing(t *testing.T) {
	slow := startStandin(t, func(r *vpoller.Request, raw []byte) (*vpoller.Response, time.Duration, bool) {
		resp, _, ok := standin.Inventory(r, raw)
		return resp, 500 * time.Millisecond, ok
	})
	p := newPlugin(t, slow.Endpoint)
	const n = 40
	var wg sync.WaitGroup
	vals := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vals[i], errs[i] = export(p, "vpoller.poll", 5*time.Second, "vm.get", "vcsim.local", "DC0_H0_VM1", "runtime.powerState")
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || vals[i] != "poweredOn" {
			t.Fatalf("export %d: %q %v", i, vals[i], errs[i])
		}
	}
	if got := slow.Received(); got != 1 {
		t.Fatalf("%d identical concurrent exports sent %d requests, want 1", n, got)
	}
	// different requests are not merged, and they run in parallel
	start := time.Now()
	for _, vm := range standin.SimVMs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := export(p, "vpoller.poll", 5*time.Second, "vm.get", "vcsim.local", vm, "runtime.powerState"); err != nil || v != "poweredOn" {
				t.Errorf("%s: %q %v", vm, v, err)
			}
		}()
	}
	wg.Wait()
	if got := slow.Received(); got != 1+len(standin.SimVMs) {
		t.Fatalf("received %d", got)
	}
	if took := time.Since(start); took > 1500*time.Millisecond { // one after the other: 2 s
		t.Fatalf("%d different requests took %v: they queued behind one socket", len(standin.SimVMs), took)
	}
}

func TestExportPanicInSendIsItemError(t *testing.T) {
	p := New()
	p.send = func(ctx context.Context, s Session, _ client.Policy, req *vpoller.Request) (*vpoller.Response, error) {
		if req.Name == "boom" {
			panic("kaboom")
		}
		return vpoller.OK("ok", []any{vpoller.Object{{Key: "name", Value: req.Name}}}), nil
	}
	_, err := export(p, "vpoller.poll", time.Second, "vm.get", "vc", "boom", "name")
	if err == nil || !strings.Contains(err.Error(), "internal error while calling vPoller: kaboom") {
		t.Fatalf("panic: %v", err)
	}
	if v, err := export(p, "vpoller.poll", time.Second, "vm.get", "vc", "fine", "name"); err != nil || v != "fine" {
		t.Fatalf("after panic: %q %v", v, err)
	}
}

func TestValidateRefusesBrokenConfig(t *testing.T) {
	p := New()
	err := p.Validate(opts("Timeout", "-1"))
	if err == nil || !strings.Contains(err.Error(), "Plugins.VPoller.Timeout (line 10)") {
		t.Fatal(err)
	}
	if err := p.Validate(nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Configure(agent2.GlobalOptions{}, opts("Retries", "0")); err == nil || !strings.Contains(err.Error(), "Plugins.VPoller.Retries (line 10)") {
		t.Fatalf("Configure: %v", err)
	}
}

// An item key may name any endpoint: one served by a hostile peer (here:
// an absurd frame size after the handshake, which used to panic the
// plugin and so the whole Zabbix agent) is an error for that item only.
func TestHostileEndpointIsAnItemError(t *testing.T) {
	hostile := testutil.HostilePeer(t, append(testutil.Greeting("NULL", true), 0x02, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	s := startStandin(t, standin.Inventory)
	p := newPlugin(t, s.Endpoint)
	if _, err := export(p, "vpoller.poll", 2*time.Second, "vm.get", "vcsim.local", "DC0_H0_VM0", "runtime.powerState",
		"", "", "", "", "", "", hostile); err == nil {
		t.Fatal("no error from a hostile endpoint")
	}
	if got, err := export(p, "vpoller.poll", 2*time.Second, "vm.get", "vcsim.local", "DC0_H0_VM0", "runtime.powerState"); err != nil || got != "poweredOn" {
		t.Fatalf("the next item: %q %v", got, err)
	}
}

// Clients of endpoints nobody used for a while are closed: distinct
// endpoints in item keys do not grow the plugin's memory for good.
func TestIdleEndpointClientsClosed(t *testing.T) {
	s := startStandin(t, standin.Inventory)
	p := newPlugin(t, s.Endpoint)
	for range 3 { // the configured endpoint, named in the key: the same client
		if _, err := export(p, "vpoller.poll", time.Second, "vm.get", "vcsim.local", "DC0_H0_VM0", "runtime.powerState",
			"", "", "", "", "", "", s.Endpoint); err != nil {
			t.Fatal(err)
		}
	}
	for _, ep := range []string{"tcp://127.0.0.1:1", "tcp://127.0.0.1:2"} {
		_, _ = export(p, "vpoller.poll", 300*time.Millisecond, "vm.get", "vcsim.local", "x", "y", "", "", "", "", "", "", ep)
	}
	if n := p.openClients(); n != 3 {
		t.Fatalf("%d clients, want 3 (the configured endpoint and two others)", n)
	}
	p.mu.Lock()
	p.idle = 50 * time.Millisecond
	p.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	if _, err := export(p, "vpoller.poll", time.Second, "vm.get", "vcsim.local", "DC0_H0_VM0", "runtime.powerState"); err != nil {
		t.Fatal(err)
	}
	if n := p.openClients(); n != 1 {
		t.Fatalf("%d clients after the idle time, want 1 (the one just used)", n)
	}
}
