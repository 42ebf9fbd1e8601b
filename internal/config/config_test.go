package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/ini.v1"
)

// original is the vpoller.conf that py-vpoller ships.
const original = `[proxy]
frontend = tcp://*:10123
backend  = tcp://*:10124
mgmt     = tcp://*:9999

[worker]
db       = /var/lib/vconnector/vconnector.db
proxy    = tcp://localhost:10124
mgmt     = tcp://*:10000
helpers  = vpoller.helpers.zabbix, vpoller.helpers.czabbix
tasks    = vpoller.vsphere.tasks

[cache]
enabled      = True
maxsize      = 0
ttl          = 3600
housekeeping = 480
`

func TestParseOriginalFile(t *testing.T) {
	c, err := Parse([]byte(original))
	if err != nil {
		t.Fatal(err)
	}
	want := Default().Proxy
	want.Frontend, want.Backend, want.Mgmt = "tcp://*:10123", "tcp://*:10124", "tcp://*:9999"
	if c.Proxy != want {
		t.Errorf("proxy: got %+v want %+v", c.Proxy, want)
	}
	if c.Worker.DB != "/var/lib/vconnector/vconnector.db" || c.Worker.Proxy != "tcp://localhost:10124" || c.Worker.Mgmt != "tcp://*:10000" {
		t.Errorf("worker: %+v", c.Worker)
	}
	if !reflect.DeepEqual(c.Worker.Helpers, []string{"vpoller.helpers.zabbix", "vpoller.helpers.czabbix"}) {
		t.Errorf("helpers: %q", c.Worker.Helpers)
	}
	if c.Worker.Concurrency != 16 {
		t.Errorf("concurrency default: %d", c.Worker.Concurrency)
	}
	// [cache] is accepted and ignored: the mirror replaces a value cache.
}

func TestParseArticleLayout(t *testing.T) {
	proxy, err := Parse([]byte("[Default]\nfrontend = tcp://*:10123\nbackend = tcp://*:10124\nmgmt = tcp://*:9999\n"))
	if err != nil {
		t.Fatal(err)
	}
	if proxy.Proxy.Mgmt != "tcp://*:9999" || proxy.Worker.Mgmt != DefaultWorkerMgmt {
		t.Errorf("proxy file: proxy %+v worker mgmt %q", proxy.Proxy, proxy.Worker.Mgmt)
	}
	worker, err := Parse([]byte("[Default]\nproxy = tcp://localhost:10124\nmgmt = tcp://*:10000\nvsphere_hosts_dir = /etc/vpoller/vsphere\nconcurrency = 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if worker.Worker.Mgmt != "tcp://*:10000" || worker.Proxy.Mgmt != DefaultProxyMgmt ||
		worker.Worker.VSphereHostsDir != "/etc/vpoller/vsphere" || worker.Worker.Concurrency != 4 {
		t.Errorf("worker file: %+v / proxy mgmt %q", worker.Worker, worker.Proxy.Mgmt)
	}
}

func TestDefaultsBindLoopback(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range []string{c.Proxy.Frontend, c.Proxy.Backend} {
		if filepath.Base(ep) == "" || ep[:16] != "tcp://127.0.0.1:" {
			t.Errorf("default endpoint %q does not bind loopback", ep)
		}
	}
	// Management sockets are local files by default, not tcp.
	for _, ep := range []string{c.Proxy.Mgmt, c.Worker.Mgmt} {
		if !strings.HasPrefix(ep, "ipc:///run/vpoller/") {
			t.Errorf("default management endpoint %q is not an ipc socket", ep)
		}
	}
}

func TestParseHardeningKeys(t *testing.T) {
	c, err := Parse([]byte(`[proxy]
max_reply_bytes = 2048
max_clients = 10
max_workers = 3
max_held_requests = 5
max_held_bytes = 1024
client_idle_timeout = 0
frontend_curve_secret_key = /etc/vpoller/curve/proxy.key_secret
frontend_curve_allow = /etc/vpoller/curve/clients.d
backend_curve_secret_key = /etc/vpoller/curve/proxy.key_secret
backend_curve_allow = /etc/vpoller/curve/workers.d
mgmt_secret_file = /etc/vpoller/mgmt.secret
metrics_listen = 127.0.0.1:9110

[worker]
agent_concurrency = 4
breaker_failures = 7
breaker_cooldown = 12
max_reply_bytes = 4096
proxy_curve_server_key = /etc/vpoller/curve/proxy.key
proxy_curve_secret_key = /etc/vpoller/curve/worker.key_secret
mgmt_curve_secret_key = /etc/vpoller/curve/worker.key_secret
mgmt_curve_allow = /etc/vpoller/curve/admins.d
metrics_listen = 127.0.0.1:9111
`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Proxy
	if p.MaxReplyBytes != 2048 || p.MaxClients != 10 || p.MaxWorkers != 3 || p.MaxHeldRequests != 5 || p.MaxHeldBytes != 1024 || p.ClientIdleTimeout != 0 {
		t.Errorf("proxy limits: %+v", p)
	}
	if p.FrontendSecurity != (Security{CurveSecretKey: "/etc/vpoller/curve/proxy.key_secret", CurveAllow: "/etc/vpoller/curve/clients.d"}) ||
		p.BackendSecurity.CurveAllow != "/etc/vpoller/curve/workers.d" || p.MgmtSecurity != (Security{SecretFile: "/etc/vpoller/mgmt.secret"}) {
		t.Errorf("proxy security: %+v", p)
	}
	w := c.Worker
	if w.AgentConcurrency != 4 || w.BreakerFailures != 7 || w.BreakerCooldown != 12*time.Second || w.MaxReplyBytes != 4096 {
		t.Errorf("worker limits: %+v", w)
	}
	if w.ProxyCurveServerKey != "/etc/vpoller/curve/proxy.key" || w.ProxyCurveSecretKey != "/etc/vpoller/curve/worker.key_secret" ||
		w.MgmtSecurity != (Security{CurveSecretKey: "/etc/vpoller/curve/worker.key_secret", CurveAllow: "/etc/vpoller/curve/admins.d"}) {
		t.Errorf("worker security: %+v", w)
	}
	if p.MetricsListen != "127.0.0.1:9110" || w.MetricsListen != "127.0.0.1:9111" {
		t.Errorf("metrics_listen: %q %q", p.MetricsListen, w.MetricsListen)
	}
	if !w.MgmtSecurity.Enabled() || (Security{}).Enabled() {
		t.Error("Security.Enabled")
	}
}

func TestParseErrors(t *testing.T) {
	for name, text := range map[string]string{
		"bad concurrency":  "[worker]\nconcurrency = lots\n",
		"zero concurrency": "[worker]\nconcurrency = 0\n",
		"broken ini":       "[worker\nproxy = x\n",
		"zero breaker":     "[worker]\nbreaker_failures = 0\n",
		"negative idle":    "[proxy]\nclient_idle_timeout = -5\n",
		"tiny reply":       "[proxy]\nmax_reply_bytes = 10\n",
		"metrics no port":  "[worker]\nmetrics_listen = localhost\n",
	} {
		if _, err := Parse([]byte(text)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.conf")); !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(original))
	f.Add([]byte("[Default]\nproxy = tcp://localhost:10124\n"))
	f.Add([]byte("[cache]\nttl = 99999999999999999999\n"))
	if raw, err := os.ReadFile("../../conf/vpoller.conf"); err == nil {
		f.Add(raw)
	}
	f.Add([]byte("[proxy]\nfrontend_curve_secret_kye = /k\n"))
	f.Add([]byte("[proxy]\nfrontend_curve_secret_key = /k ; key\nfrontend_curve_allow = *\n[worker]\ndb = \"/a #b\"\n"))
	f.Add([]byte("[worker]\ndb = \"\"\"x\nconcurrency = 2\n\"\"\"\n"))
	f.Add([]byte("[worker]\ndb = `x\n`\n"))
	f.Add([]byte("a = b\n[Default]\nmgmt = x\nproxy = y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if c.Worker.Concurrency < 1 || c.Proxy.MaxRequestBytes < 1024 {
			t.Fatalf("invalid config accepted: %+v", c)
		}
		for _, s := range []Security{c.Proxy.FrontendSecurity, c.Proxy.BackendSecurity} {
			if (s.CurveSecretKey == "") != (s.CurveAllow == "") {
				t.Fatalf("CURVE half configured and accepted: %+v", s)
			}
		}
		// The scan that gives line numbers and ini.v1, which reads the
		// values, saw the same keys.
		lay, _ := scanLayout(data)
		f, err := ini.LoadSources(iniOptions, data)
		if err != nil {
			t.Fatalf("accepted, but ini.v1 says %v", err)
		}
		for section, keys := range lay.keys {
			sec, err := f.GetSection(section)
			if err != nil {
				t.Fatalf("section %q scanned, not in ini.v1", section)
			}
			for k := range keys {
				if !sec.HasKey(k) {
					t.Fatalf("key %q of [%s] scanned, not in ini.v1", k, section)
				}
			}
		}
		// What was accepted reads the same again.
		again, err := Parse(data)
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("second parse: %v", err)
		}
	})
}

func TestParseAgentFile(t *testing.T) {
	f, err := ParseAgentFile([]byte("[Default]\nhostname = vc01\nusername = u\npassword = p\ntimeout = 2.5\nport = 8443\ninsecure = yes\nca_file = ca.pem\nthumbprint = AB:CD\n"), "/etc/vpoller/vsphere.d/vc01.conf")
	if err != nil {
		t.Fatal(err)
	}
	if f.Hostname != "vc01" || f.Timeout != 2500*time.Millisecond || f.Port != 8443 || !f.Insecure || f.CAFile != "/etc/vpoller/vsphere.d/ca.pem" ||
		f.Thumbprint != "AB:CD" || !f.Set["password"] || f.Set["simulator"] {
		t.Fatalf("%+v", f)
	}
	for _, bad := range []string{"username = u\n", "hostname = a b\n", "hostname = x\nport = 0\n", "hostname = x\nfoo = 1\n",
		"hostname = x\ninsecure = perhaps\n", "hostname = x\nsimulator_model = esx\n", "hostname = x\n[a]\nport = 1\n[b]\nport = 2\n"} {
		if _, err := ParseAgentFile([]byte(bad), "/x.conf"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLoadOrDefault(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := loadOrDefault(filepath.Join(dir, "missing.conf"), filepath.Join(dir, "default.conf")); err == nil {
		t.Error("an explicitly named missing file accepted")
	}
	c, defaulted, err := loadOrDefault("", filepath.Join(dir, "default.conf"))
	if err != nil || !defaulted || c.Proxy.Mgmt != DefaultProxyMgmt {
		t.Fatalf("absent default file: %v %v %v", c, defaulted, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "default.conf"), []byte("[worker]\nconcurrency = 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, defaulted, err = loadOrDefault("", filepath.Join(dir, "default.conf"))
	if err != nil || defaulted || c.Worker.Concurrency != 5 {
		t.Fatalf("present default file: %v %v %v", c, defaulted, err)
	}
}

func FuzzParseAgentFile(f *testing.F) {
	f.Add([]byte("hostname = vc01\nusername = u\npassword = p\n"))
	f.Add([]byte("[Default]\nhostname=x\ntimeout=1e9\n"))
	f.Add([]byte("hostname = vc ; comment\npassword = \"p #1\"\nport = 443 # https\n"))
	f.Add([]byte("hostname = vc\n[vc]\nport = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAgentFile(data, "/etc/vpoller/vsphere.d/x.conf")
		if err != nil {
			return
		}
		if a.Hostname == "" || a.Timeout < 0 || a.Port < 0 || a.Port > 65535 {
			t.Fatalf("accepted %+v", a)
		}
	})
}
