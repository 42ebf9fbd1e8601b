package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The file the packages install loads as it is.
func TestShippedConfigLoads(t *testing.T) {
	c, err := Load("../../conf/vpoller.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.Proxy.Frontend != "tcp://127.0.0.1:10123" || c.Worker.VSphereHostsDir != "vsphere.d" || c.Worker.Concurrency != 16 {
		t.Fatalf("%+v", c)
	}
}

// Every mistake is an error that names the line and what was meant.
func TestParseStrict(t *testing.T) {
	for _, tc := range []struct {
		name, ini string
		want      []string // all in the error
	}{
		{"typo in a key", "[proxy]\nfrontend = tcp://*:10123\n\n\n\n\n\n\n\n\n\nfrontend_curve_secret_kye = /etc/vpoller/curve/proxy.key_secret\n",
			[]string{"unknown key frontend_curve_secret_kye in [proxy] at line 12; did you mean frontend_curve_secret_key?"}},
		{"key of the other section", "[proxy]\nproxy_curve_server_key = x\n",
			[]string{"unknown key proxy_curve_server_key in [proxy] at line 2; it belongs in [worker]"}},
		{"worker key in [proxy]", "[proxy]\nconcurrency = 4\n", []string{"unknown key concurrency in [proxy] at line 2; it belongs in [worker]"}},
		{"far from any key", "[worker]\nzzzzzz = 1\n", []string{"unknown key zzzzzz in [worker] at line 2"}},
		{"unknown [cache] key", "[cache]\nenabled = True\nsize = 3\n", []string{"unknown key size in [cache] at line 3"}},
		{"typo in a section", "[proxxy]\nfrontend = x\n", []string{"unknown section [proxxy] at line 1; did you mean [proxy]?"}},
		{"unknown section", "[database]\nx = 1\n", []string{"unknown section [database] at line 1", "[proxy], [worker], [cache]"}},
		{"stray line", "[proxy]\nfrontend tcp://*:10123\n", []string{`line 2: "frontend tcp://*:10123" is not a key = value line`}},
		{"bare key", "[worker]\nmirror\n", []string{`line 2: "mirror" is not a key = value line`}},
		{"no key name", "[worker]\n= 3\n", []string{"line 2:", "no key name"}},
		{"unclosed header", "[worker\nproxy = x\n", []string{"line 1: section header", "no closing ]"}},
		{"junk after a header", "[worker] proxy = x\n", []string{`line 1: "proxy = x" after the section header`}},
		{"key given twice", "[worker]\nconcurrency = 4\n# later\nconcurrency = 8\n", []string{"line 4: key concurrency given twice in the same section (first at line 2)"}},
		{"unclosed quote", "[worker]\ndb = \"/var/lib/x.db\nconcurrency = 4\n", []string{"line 2: the value of db opens a quote it does not close"}},
		{"bad value", "[worker]\n\nconcurrency = lots\n", []string{`line 3: [worker] concurrency = "lots": want a whole number >= 1`}},
		{"octal-looking number is not hex", "[worker]\nconcurrency = 0x10\n", []string{"want a whole number"}},
		{"every problem at once", "[proxy]\nfrontnd = x\n[worker]\nconcurrency = 0\n[nope]\n",
			[]string{"line 2", "did you mean frontend?", "line 4", "want a whole number >= 1", "unknown section [nope] at line 5"}},
		{"CURVE without an allow-list", "[proxy]\nfrontend_curve_secret_key = /k\n",
			[]string{"line 2: [proxy] frontend_curve_secret_key is set but frontend_curve_allow is not", "frontend_curve_allow = *"}},
		{"CURVE without an allow-list, backend", "[proxy]\nbackend_curve_secret_key = /k\n", []string{"backend_curve_allow = *"}},
		{"allow-list without CURVE", "[proxy]\n\nbackend_curve_allow = /d\n", []string{"line 3: [proxy] backend_curve_allow is set but backend_curve_secret_key is not"}},
		{"two management mechanisms", "[worker]\nmgmt_curve_secret_key = /k\nmgmt_secret_file = /s\n", []string{"line 2: [worker] mgmt_curve_secret_key and mgmt_secret_file are both set"}},
		{"management allow-list without CURVE", "[proxy]\nmgmt_curve_allow = *\n", []string{"mgmt_curve_allow is set but mgmt_curve_secret_key is not"}},
		{"half a CURVE client", "[worker]\nproxy_curve_server_key = /p.key\n", []string{"line 2: [worker] proxy_curve_server_key is set but proxy_curve_secret_key is not"}},
		{"legacy [Default] typo", "[Default]\nfrontend = x\nbakend = y\n", []string{"unknown key bakend in [Default] at line 3; did you mean backend?"}},
		{"top of the file counts as [Default]", "conccurency = 2\n", []string{"unknown key conccurency in [Default] at line 1; did you mean concurrency?"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.ini))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	z85 := "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7" // holds no '#', but see the next key
	hashKey := "009c61o!#m2NH?C3>iWS5d]J*6CRx17-skh9337x"
	for _, tc := range []struct {
		name, ini string
		check     func(*Config) bool
	}{
		{"inline comments", "[proxy]\nfrontend = tcp://*:10123 ; every interface\nmax_clients = 10 # ten\n",
			func(c *Config) bool { return c.Proxy.Frontend == "tcp://*:10123" && c.Proxy.MaxClients == 10 }},
		{"'#' and ';' inside a value stay", "[proxy]\nfrontend_curve_secret_key = /k\nfrontend_curve_allow = " + z85 + "," + hashKey + "\n[worker]\ndb = /var/lib/a;b#c.db\n",
			func(c *Config) bool {
				return c.Proxy.FrontendSecurity.CurveAllow == z85+","+hashKey && c.Worker.DB == "/var/lib/a;b#c.db"
			}},
		{"double quotes keep ' #'", "[worker]\ndb = \"/var/lib/x #1.db\" ; comment\n",
			func(c *Config) bool { return c.Worker.DB == "/var/lib/x #1.db" }},
		{"any client key, said explicitly", "[proxy]\nfrontend_curve_secret_key = /k\nfrontend_curve_allow = *\n",
			func(c *Config) bool { return c.Proxy.FrontendSecurity.CurveAllow == "*" }},
		{"management CURVE without an allow-list (own key only)", "[worker]\nmgmt_curve_secret_key = /k\n",
			func(c *Config) bool { return c.Worker.MgmtSecurity.CurveSecretKey == "/k" }},
		{"colon delimiter and CRLF", "[worker]\r\nconcurrency: 3\r\n",
			func(c *Config) bool { return c.Worker.Concurrency == 3 }},
		{"case-insensitive names", "[WORKER]\nConcurrency = 5\n", func(c *Config) bool { return c.Worker.Concurrency == 5 }},
		{"section given twice (merged)", "[worker]\nconcurrency = 5\n[proxy]\n[worker]\ndb = /x\n",
			func(c *Config) bool { return c.Worker.Concurrency == 5 && c.Worker.DB == "/x" }},
		{"mirror keys checked together", "[Default]\nmirror_wait = 30\n[worker]\nmirror_max_age = 90\n",
			func(c *Config) bool { return c.Worker.Mirror.MaxAge.Seconds() == 90 }},
		{"UTF-8 byte order mark", "\xef\xbb\xbf[worker]\nconcurrency = 7\n", func(c *Config) bool { return c.Worker.Concurrency == 7 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.ini))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("%+v", c)
			}
		})
	}
}

// Load names the file in every error.
func TestLoadNamesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vpoller.conf")
	if err := os.WriteFile(p, []byte("[proxy]\nfrontend_curve_secret_kye = /k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.HasPrefix(err.Error(), "config "+p+": unknown key frontend_curve_secret_kye in [proxy] at line 2; did you mean frontend_curve_secret_key?") {
		t.Fatalf("%v", err)
	}
}

// Per-vCenter files follow the same rules, inline comments included.
func TestAgentFileStrict(t *testing.T) {
	good := []struct {
		ini   string
		check func(AgentFile) bool
	}{
		{"hostname = vc\nport = 443 ; https\n", func(f AgentFile) bool { return f.Port == 443 }},
		{"hostname = vc # the vCenter\ntimeout = 8 # seconds\n", func(f AgentFile) bool { return f.Hostname == "vc" && f.Timeout.Seconds() == 8 }},
		{"hostname = vc\npassword = a;b#c\n", func(f AgentFile) bool { return f.Password == "a;b#c" }},
		{"hostname = vc\npassword = \"p #1 ;x\"\n", func(f AgentFile) bool { return f.Password == "p #1 ;x" }},
		{"[Default]\nhostname = vc\ninsecure = yes ; lab only\n", func(f AgentFile) bool { return f.Insecure && f.Set["insecure"] }},
	}
	for _, tc := range good {
		f, err := ParseAgentFile([]byte(tc.ini), "/etc/vpoller/vsphere.d/vc.conf")
		if err != nil || !tc.check(f) {
			t.Errorf("%q: %+v, %v", tc.ini, f, err)
		}
	}
	for _, tc := range []struct{ ini, want string }{
		{"hostname = vc\npasword = x\n", "vsphere host file /v/vc.conf: unknown key pasword in [Default] at line 2; did you mean password?"},
		{"hostname = vc\n[vc01]\nport = 1\n", "unknown section [vc01] at line 2"},
		{"hostname = vc\n[Default]\nhostname = other\n", "line 3: key hostname given twice"},
		{"hostname = vc\nport = 0 ; none\n", `line 2: [Default] port = "0": want 1-65535`},
		{"hostname vc\n", `line 1: "hostname vc" is not a key = value line`},
		{"hostname = a b\n", `line 1: hostname "a b" is not a host name`},
		{"hostname = vc\n\nsimulator_model = esx\n", "line 3: simulator_model is set but simulator is not true"},
		{"insecure\nhostname = vc\n", `line 1: "insecure" is not a key = value line`},
	} {
		_, err := ParseAgentFile([]byte(tc.ini), "/v/vc.conf")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v\nwant %q", tc.ini, err, tc.want)
		}
	}
}
