package plugin

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
	"github.com/vpoller/zabbix-vpoller/plugin/internal/standin"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
)

func TestParseConfigEndpointList(t *testing.T) {
	for _, tc := range []struct {
		kv   []string
		def  string // the default session's endpoint
		prod string // Sessions.Prod's
		err  string
	}{
		{kv: []string{"Endpoint", "tcp://10.0.0.1:10123,tcp://10.0.0.2:10123"}, def: "tcp://10.0.0.1:10123,tcp://10.0.0.2:10123"},
		{kv: []string{"Endpoint", " tcp://10.0.0.1:10123 , tcp://10.0.0.2:10123 "}, def: "tcp://10.0.0.1:10123,tcp://10.0.0.2:10123"},
		{kv: []string{"Sessions.Prod.Endpoint", "tcp://a:1, ipc:///run/vpoller/front.sock"}, def: DefaultEndpoint, prod: "tcp://a:1,ipc:///run/vpoller/front.sock"},
		{kv: []string{"Endpoint", "tcp://a:1,tcp://a:1"}, err: `Plugins.VPoller.Endpoint (line 10): invalid endpoint "tcp://a:1,tcp://a:1" (want tcp://host:port, or a comma-separated list of them): endpoint list "tcp://a:1,tcp://a:1": tcp://a:1 is listed twice (elements 1 and 2)`},
		{kv: []string{"Endpoint", "tcp://a:1,"}, err: `Plugins.VPoller.Endpoint (line 10): invalid endpoint "tcp://a:1,"`},
		{kv: []string{"Sessions.Prod.Endpoint", "tcp://a:1,http://b:2"}, err: `Plugins.VPoller.Sessions.Prod.Endpoint (line 10): invalid endpoint`},
	} {
		cfg, err := ParseConfig(opts(tc.kv...))
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("%q: %v\nwant %s", tc.kv, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.kv, err)
		}
		if cfg.Default.Endpoint != tc.def || cfg.Sessions["prod"].Endpoint != tc.prod {
			t.Errorf("%q: default %q, prod %q; want %q, %q", tc.kv, cfg.Default.Endpoint, cfg.Sessions["prod"].Endpoint, tc.def, tc.prod)
		}
	}
	// An item key may give a list too (quoted, for its commas).
	cfg, _ := ParseConfig(nil)
	if s, err := cfg.resolve("tcp://a:1, tcp://b:2"); err != nil || s.Endpoint != "tcp://a:1,tcp://b:2" {
		t.Fatalf("resolve a list: %+v %v", s, err)
	}
}

// The item's budget is split over at least one attempt per proxy, each
// getting an even share of what is left.
func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		budget   time.Duration
		retries  int
		endpoint string
		attempts int
		timeout  time.Duration
	}{
		{2500 * time.Millisecond, 1, "tcp://a:1", 1, 2500 * time.Millisecond},
		{2500 * time.Millisecond, 2, "tcp://a:1", 2, 1250 * time.Millisecond},
		{2500 * time.Millisecond, 1, "tcp://a:1,tcp://b:2", 2, 1250 * time.Millisecond},
		{3 * time.Second, 1, "tcp://a:1,tcp://b:2,tcp://c:3", 3, time.Second},
		{3 * time.Second, 4, "tcp://a:1,tcp://b:2", 4, 750 * time.Millisecond},
		// the floor: 200 ms leave room for two attempts of 100 ms, not three
		{200 * time.Millisecond, 1, "tcp://a:1,tcp://b:2,tcp://c:3", 2, 100 * time.Millisecond},
		// Retries is never cut
		{200 * time.Millisecond, 3, "tcp://a:1", 3, 100 * time.Millisecond},
	} {
		got := policy(tc.budget, Session{Endpoint: tc.endpoint, Retries: tc.retries})
		if got != (client.Policy{Attempts: tc.attempts, Timeout: tc.timeout, Spread: true}) {
			t.Errorf("policy(%v, retries %d, %s) = %+v, want %d attempts of %v, spread", tc.budget, tc.retries, tc.endpoint, got, tc.attempts, tc.timeout)
		}
	}
}

// failovers returns the client's "retrying" warnings from a plugin log.
func failovers(t *testing.T, log *testutil.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		var rec map[string]any
		if line == "" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "Did not receive response, retrying..." {
			out = append(out, rec)
		}
	}
	return out
}

// A session with two proxy frontends, the second a real proxy and worker
// (with the embedded simulator): the first down, then silent. Items are
// answered within their timeout, and once the second has answered the
// items stick to it.
func TestExportFailsOver(t *testing.T) {
	chain := startEventChain(t)
	silent := startStandin(t, func(*vpoller.Request, []byte) (*vpoller.Response, time.Duration, bool) { return nil, 0, false })
	dead := "tcp://" + testutil.FreeAddr(t)
	for _, tc := range []struct {
		name, first, cause string
		item               time.Duration
	}{
		// 9.5 s budget, 2 attempts: the refused one leaves its share to the next.
		{"first down", dead, "connection refused", 10 * time.Second},
		// 4 s budget, 2 attempts of 2 s: the silent one takes its share.
		{"first silent", silent.Endpoint, "no reply within 2s", 4500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log testutil.Buffer
			p := New()
			p.UseLogger(slog.New(slog.NewJSONHandler(&log, nil)))
			if err := p.Configure(agent2.GlobalOptions{Timeout: 3}, opts("Endpoint", tc.first+", "+chain.endpoint)); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Stop)
			for i, vm := range standin.SimVMs {
				v, err := export(p, "vpoller.poll", tc.item, "vm.get", simVC, vm, "runtime.powerState")
				if err != nil || v != "poweredOn" {
					t.Fatalf("item %d (%s): %q %v", i, vm, v, err)
				}
				r := failovers(t, &log)
				if len(r) != 1 {
					t.Fatalf("after item %d: %d failovers logged, want 1 (the first item's; sticky after): %v", i, len(r), r)
				}
				if r[0]["endpoint"] != tc.first || r[0]["cause"] != tc.cause || r[0]["next"] != chain.endpoint || r[0]["of"] != 2.0 {
					t.Fatalf("failover %v, want from %s (%s) to %s, attempt 1 of 2", r[0], tc.first, tc.cause, chain.endpoint)
				}
			}
		})
	}
	if n := silent.Received(); n != 1 {
		t.Fatalf("the silent proxy saw %d requests, want 1 (the first item's first attempt)", n)
	}
}

// Both proxies silent: the item's budget bounds the whole failover (one
// attempt each, half the budget each), and the error names both.
func TestExportNoReplyFromAnyProxy(t *testing.T) {
	never := func(*vpoller.Request, []byte) (*vpoller.Response, time.Duration, bool) { return nil, 0, false }
	a, b := startStandin(t, never), startStandin(t, never)
	p := newPlugin(t, a.Endpoint+","+b.Endpoint)
	_, err := export(p, "vpoller.poll", 2*time.Second, "vm.get", simVC, "DC0_H0_VM0", "runtime.powerState")
	// The second attempt has the rest of the budget: the item's deadline
	// ends it.
	want := "No answer from vPoller at " + a.Endpoint + "," + b.Endpoint + " within 1.5s (2 attempts: " +
		a.Endpoint + " no reply within 750ms; " + b.Endpoint + " no reply before the call's deadline)"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
	if n := a.Received(); n != 1 {
		t.Fatalf("the first proxy saw %d requests, want 1", n)
	}
	if n := b.Received(); n > 1 {
		t.Fatalf("the second proxy saw %d requests, want at most 1 (the budget holds one attempt each)", n)
	}
}
