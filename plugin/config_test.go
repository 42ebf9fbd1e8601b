package plugin

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
)

func opts(kv ...string) *agent2.Options {
	o := &agent2.Options{Plugin: "VPoller"}
	for i := 0; i+1 < len(kv); i += 2 {
		o.List = append(o.List, agent2.Option{Path: strings.Split(kv[i], "."), Value: kv[i+1], Line: i/2 + 10})
	}
	return o
}

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig(opts(
		"Endpoint", "tcp://10.0.0.5:10123",
		"Timeout", "2",
		"Retries", "2",
		"Sessions.Prod.Endpoint", "tcp://vpoller-prod:10123",
		"Sessions.Prod.Timeout", "5",
		"Sessions.Lab.Endpoint", "tcp://127.0.0.1:20123",
	))
	if err != nil {
		t.Fatal(err)
	}
	if plain(cfg.Default) != (Session{Endpoint: "tcp://10.0.0.5:10123", Timeout: 2 * time.Second, Retries: 2}) {
		t.Fatalf("default %+v", cfg.Default)
	}
	if got := plain(cfg.Sessions["prod"]); got != (Session{Name: "Prod", Endpoint: "tcp://vpoller-prod:10123", Timeout: 5 * time.Second, Retries: 2}) {
		t.Fatalf("prod %+v", got)
	}
	if got := cfg.Sessions["lab"]; got.Timeout != 2*time.Second || got.Retries != 2 {
		t.Fatalf("lab inherits the defaults: %+v", got)
	}
	for ep, want := range map[string]string{"": "tcp://10.0.0.5:10123", "PROD": "tcp://vpoller-prod:10123", "tcp://1.2.3.4:5": "tcp://1.2.3.4:5"} {
		s, err := cfg.resolve(ep)
		if err != nil || s.Endpoint != want {
			t.Errorf("resolve(%q) = %+v %v", ep, s, err)
		}
	}
	if _, err := cfg.resolve("nosuch"); err == nil || !strings.Contains(err.Error(), `unknown session "nosuch" (configured: Lab, Prod)`) {
		t.Fatalf("unknown session: %v", err)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	for _, o := range []*agent2.Options{nil, {}, opts()} {
		cfg, err := ParseConfig(o)
		if err != nil || plain(cfg.Default) != (Session{Endpoint: DefaultEndpoint, Retries: 1}) || len(cfg.Sessions) != 0 {
			t.Fatalf("%+v %v", cfg, err)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		kv   []string
		want string
	}{
		{[]string{"Timeout", "abc"}, `Plugins.VPoller.Timeout (line 10): "abc" is not a whole number from 1 to 600`},
		{[]string{"Timeout", "0"}, `Plugins.VPoller.Timeout (line 10): "0" is not a whole number from 1 to 600`},
		{[]string{"Retries", "11"}, `Plugins.VPoller.Retries (line 10): "11" is not a whole number from 1 to 10`},
		{[]string{"Endpoint", "http://x"}, `Plugins.VPoller.Endpoint (line 10): invalid endpoint "http://x"`},
		{[]string{"Endpoint", ""}, `Plugins.VPoller.Endpoint (line 10): empty endpoint`},
		{[]string{"Endpont", "tcp://a:1"}, `Plugins.VPoller.Endpont (line 10): unknown option`},
		{[]string{"Sessions.Prod.Uri", "tcp://a:1"}, `Plugins.VPoller.Sessions.Prod.Uri (line 10): unknown session option "Uri"`},
		{[]string{"Sessions.Prod.Timeout", "3"}, `Plugins.VPoller.Sessions.Prod: Endpoint is missing`},
		{[]string{"Sessions.Prod.Endpoint", "tcp://a:1", "Sessions.Prod.Retries", "x"}, `Plugins.VPoller.Sessions.Prod.Retries (line 11): "x" is not a whole number`},
		{[]string{"Sessions", "x"}, `Plugins.VPoller.Sessions (line 10): unknown option`},
	}
	for _, tt := range tests {
		_, err := ParseConfig(opts(tt.kv...))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v\nwant %q", tt.kv, err, tt.want)
		}
	}
}

func TestBudget(t *testing.T) {
	s := Session{Retries: 2}
	tests := []struct {
		item, sessTimeout, agent, want time.Duration
	}{
		{60 * time.Second, 0, 3 * time.Second, 59500 * time.Millisecond}, // 7.0: item timeout - margin
		{3 * time.Second, 10 * time.Second, 3 * time.Second, 2500 * time.Millisecond},
		{0, 0, 3 * time.Second, 2500 * time.Millisecond}, // 6.0, no Timeout: agent Timeout - margin
		{0, 0, 0, 2500 * time.Millisecond},               // 6.0, agent Timeout unknown: its default
		{0, 2 * time.Second, 3 * time.Second, 2 * time.Second},
		{600 * time.Millisecond, 0, 0, 200 * time.Millisecond}, // never below the floor
	}
	for _, tt := range tests {
		s.Timeout = tt.sessTimeout
		if got := budget(tt.item, s, tt.agent); got != tt.want {
			t.Errorf("budget(%v, %v, %v) = %v, want %v", tt.item, tt.sessTimeout, tt.agent, got, tt.want)
		}
	}
	if got := attemptTimeout(3*time.Second, 2); got != 1500*time.Millisecond {
		t.Fatal(got)
	}
	if got := noReplyError("tcp://127.0.0.1:10123", 2500*time.Millisecond, 1, nil).Error(); got != "No answer from vPoller at tcp://127.0.0.1:10123 within 2.5s (1 attempt)" {
		t.Fatal(got)
	}
}

// FuzzParseConfig: any configuration tree the agent could send is accepted
// or refused with an error naming an option; an accepted one always has a
// usable default endpoint and sane numbers.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"Name":"VPoller","Nodes":[{"Name":"Endpoint","Nodes":[{"Value":"dGNwOi8vMTI3LjAuMC4xOjEwMTIz","Line":2}],"Line":2},{"Name":"Timeout","Nodes":[{"Value":"Mg==","Line":3}],"Line":3}],"Line":1}`))
	f.Add([]byte(`{"Name":"VPoller","Nodes":[{"Name":"Sessions","Nodes":[{"Name":"Prod","Nodes":[{"Name":"Endpoint","Nodes":[{"Value":"dGNwOi8veDoxMDEyMw==","Line":4}],"Line":4},{"Name":"Retries","Nodes":[{"Value":"Mw==","Line":5}],"Line":5}],"Line":4}],"Line":4}],"Line":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := agent2.ParseOptions(raw)
		if err != nil {
			return
		}
		cfg, err := ParseConfig(o)
		if err != nil {
			if !strings.Contains(err.Error(), "Plugins.") {
				t.Fatalf("error names no option: %v", err)
			}
			return
		}
		for _, s := range append([]Session{cfg.Default}, slices.Collect(maps.Values(cfg.Sessions))...) {
			if s.Endpoint == "" || s.Retries < 1 || s.Retries > maxRetries || s.Timeout < 0 || s.Timeout > maxTimeoutSeconds*time.Second {
				t.Fatalf("accepted bad session %+v", s)
			}
		}
	})
}

// plain drops the mechanism built from the keys, for comparisons.
func plain(s Session) Session {
	s.mech = nil
	return s
}

func TestParseConfigCurve(t *testing.T) {
	dir := t.TempDir()
	srv, _ := curvekey.Generate()
	cli, _ := curvekey.Generate()
	pub, _, err := curvekey.WriteCertFiles(filepath.Join(dir, "proxy"), srv)
	if err != nil {
		t.Fatal(err)
	}
	_, sec, err := curvekey.WriteCertFiles(filepath.Join(dir, "agent"), cli)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(opts(
		"CurveServerKey", pub,
		"CurveSecretKey", sec,
		"Sessions.Plain.Endpoint", "tcp://127.0.0.1:20123",
		"Sessions.Plain.CurveServerKey", "",
		"Sessions.Plain.CurveSecretKey", "",
		"Sessions.Lab.Endpoint", "tcp://127.0.0.1:30123",
	))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Default.mech.Name() != "CURVE" || cfg.Sessions["lab"].mech.Name() != "CURVE" || cfg.Sessions["plain"].mech.Name() != "NULL" {
		t.Fatalf("mechanisms: default %s, lab %s, plain %s", cfg.Default.mech.Name(), cfg.Sessions["lab"].mech.Name(), cfg.Sessions["plain"].mech.Name())
	}
	if cfg.Default.clientKey() == cfg.Sessions["plain"].clientKey() {
		t.Fatal("different credentials share a client key")
	}
	for _, bad := range [][]string{
		{"CurveServerKey", pub},                                // no secret key
		{"CurveServerKey", pub, "CurveSecretKey", pub},         // a public certificate as secret
		{"CurveServerKey", "not-a-key", "CurveSecretKey", sec}, // no such key or file
		{"Sessions.X.Endpoint", "tcp://127.0.0.1:1", "Sessions.X.CurveSecretKey", sec},
	} {
		if _, err := ParseConfig(opts(bad...)); err == nil || !strings.Contains(err.Error(), "Curve") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// TestParseConfigEventsStateFile: "off" or an absolute file path; the
// default is DefaultEventsStateFile (this package's tests run with it off).
func TestParseConfigEventsStateFile(t *testing.T) {
	tests := []struct {
		value, want, err string
	}{
		{"off", EventsStateOff, ""},
		{" OFF ", EventsStateOff, ""},
		{"/var/lib/zabbix/vpoller-events.json", "/var/lib/zabbix/vpoller-events.json", ""},
		{"/var/lib/zabbix//x/../events.json", "/var/lib/zabbix/events.json", ""},
		{"", "", `Plugins.VPoller.EventsStateFile (line 10): empty path (give an absolute path, or "off")`},
		{"state.json", "", `Plugins.VPoller.EventsStateFile (line 10): "state.json" is not an absolute path (or "off")`},
		{"/var/lib/zabbix/", "", `Plugins.VPoller.EventsStateFile (line 10): "/var/lib/zabbix/" names a directory; give the file's path`},
	}
	for _, tt := range tests {
		cfg, err := ParseConfig(opts("EventsStateFile", tt.value))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: %v, want %q", tt.value, err, tt.err)
			}
			continue
		}
		if err != nil || cfg.EventsStateFile != tt.want {
			t.Errorf("%q: %+v %v, want %q", tt.value, cfg, err, tt.want)
		}
	}
	if cfg, _ := ParseConfig(nil); cfg.EventsStateFile != eventsStateDefault || eventsStateDefault != EventsStateOff {
		t.Errorf("default %q (package default %q)", cfg.EventsStateFile, eventsStateDefault)
	}
	if DefaultEventsStateFile != "/var/lib/zabbix/vpoller-events.json" {
		t.Errorf("DefaultEventsStateFile %q: the docs, the shipped configuration and the package say otherwise", DefaultEventsStateFile)
	}
}
