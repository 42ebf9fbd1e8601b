package config

import (
	"flag"
	"strconv"
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
