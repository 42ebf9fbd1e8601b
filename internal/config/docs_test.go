package config

import (
	"flag"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config/option"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

var update = flag.Bool("update", false, "rewrite the docs' option tables from the code's")

// The docs' option tables are the code's tables: a row whose name,
// default or meaning differs fails here, printing the expected Markdown
// (-update writes it).
func TestDocsOptionTables(t *testing.T) {
	def := Default()
	key := func(n string) string { return n }
	for _, tc := range []struct{ file, block, want string }{
		{"../../docs/configuration.md", "vpoller.conf [proxy]", proxyOptions.Markdown(&def.Proxy, key)},
		{"../../docs/configuration.md", "vpoller.conf [worker]", workerOptions.Markdown(&def.Worker, key)},
		{"../../docs/configuration.md", "vpoller.conf [worker] mirror", mirrorOptions.Markdown(&def.Worker, key)},
		{"../../docs/configuration.md", "vpoller.conf [cache]", cacheOptions.Markdown(nil, key)},
		{"../../docs/configuration.md", "vsphere.d", agentOptions.Markdown(&AgentFile{}, key)},
		{"../../docs/vsphere.md", "vpoller.conf [worker] mirror", mirrorOptions.Markdown(&def.Worker, key)},
	} {
		if err := option.SyncDoc(tc.file, tc.block, tc.want, *update); err != nil {
			t.Error(err)
		}
	}
}

// The defaults the tables write out rather than show are the code's.
func TestDocsDefaultsWrittenOut(t *testing.T) {
	for name, want := range map[string]string{
		"max_handshakes":            "`" + strconv.Itoa(zmtp.DefaultMaxHandshakes) + "`",
		"max_handshakes_per_source": "`" + strconv.Itoa(zmtp.DefaultMaxHandshakesPerSource) + "`",
	} {
		if o, ok := proxyOptions.Find(name, false); !ok || o.Default != want {
			t.Errorf("[proxy] %s: default %q, want %q", name, o.Default, want)
		}
	}
	for name, want := range map[string]string{
		"timeout":       "`" + strconv.Itoa(int(session.DefaultTimeout/time.Second)) + "`",
		"port":          "`" + strconv.Itoa(session.DefaultPort) + "`",
		"login_backoff": "`" + formatDuration(session.DefaultLoginBackoff) + "`",
	} {
		if o, ok := agentOptions.Find(name, false); !ok || o.Default != want {
			t.Errorf("per-vCenter %s: default %q, want %q", name, o.Default, want)
		}
	}
}

// Each default the docs show is a value the file accepts, read back as
// the same default: the tables' Show and Set agree.
func TestShownDefaultsParse(t *testing.T) {
	def := Default()
	check := func(section string, name string, show func() string, set func(string) error, again func() string) {
		t.Helper()
		shown := show()
		if shown == "" {
			return
		}
		if err := set(shown); err != nil {
			t.Errorf("[%s] %s: the shown default %q is refused: %v", section, name, shown, err)
		} else if got := again(); got != shown {
			t.Errorf("[%s] %s: %q reads back as %q", section, name, shown, got)
		}
	}
	for _, o := range proxyOptions {
		if o.Default != "" {
			continue // written out; TestDocsDefaultsWrittenOut
		}
		var p Proxy
		check("proxy", o.Name, func() string { return o.Show(&def.Proxy) }, func(v string) error { return o.Set(&p, v) }, func() string { return o.Show(&p) })
	}
	for _, o := range append(append(option.Table[Worker]{}, workerOptions...), mirrorOptions...) {
		if o.Default != "" {
			continue // computed at start (id, queue)
		}
		var w Worker
		check("worker", o.Name, func() string { return o.Show(&def.Worker) }, func(v string) error { return o.Set(&w, v) }, func() string { return o.Show(&w) })
	}
}

// Every row of every table is a key of its section: the file sets the
// field the row names, and a key of no row is refused with the closest.
func TestTablesDriveTheParser(t *testing.T) {
	for _, tc := range []struct {
		section string
		names   []string
	}{
		{"proxy", proxyOptions.Names()},
		{"worker", append(workerOptions.Names(), mirrorOptions.Names()...)},
		{"cache", cacheOptions.Names()},
	} {
		for _, name := range tc.names {
			_, err := Parse([]byte("[" + tc.section + "]\n" + name + "_x = 1\n"))
			if want := "did you mean " + name + "?"; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("[%s] %s_x: %v, want %q", tc.section, name, err, want)
			}
		}
	}
	c, err := Parse([]byte("[proxy]\nmax_clients = 7\n[worker]\nperf_sweep_expiry = 9\n"))
	if err != nil || c.Proxy.MaxClients != 7 || c.Worker.Mirror.SweepExpiry != 9 {
		t.Fatalf("%+v %v", c, err)
	}
	for _, name := range agentOptions.Names() {
		_, err := ParseAgentFile([]byte("hostname = vc\n"+name+"_x = 1\n"), "/v/vc.conf")
		if want := "did you mean " + name + "?"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("per-vCenter %s_x: %v, want %q", name, err, want)
		}
	}
}
