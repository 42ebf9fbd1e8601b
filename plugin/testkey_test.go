package plugin

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/plugin/internal/standin"
)

func TestTestMode(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"p", "/tmp/agent.plugin.sock", "true"}, false},
		{[]string{"p", "/tmp/agent.plugin.sock1234", "false"}, false},
		{[]string{"p", "-V"}, false},
		{[]string{"p", "-t", "k"}, true},
		{[]string{"p", "-c", "x.conf", "--test=k"}, true},
		{[]string{"p", "-t=k"}, true},
	} {
		if got := TestMode(tc.args); got != tc.want {
			t.Errorf("TestMode(%q) = %v", tc.args, got)
		}
	}
}

func TestReadAgentConfig(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "zabbix_agent2.d", "plugins.d"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "zabbix_agent2.conf"), []byte("# comment\nTimeout=7\n\nInclude=./zabbix_agent2.d/plugins.d/*.conf\nServer=127.0.0.1\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "zabbix_agent2.d", "plugins.d", "vpoller.conf"), []byte(
		"Plugins.VPoller.System.Path=/usr/sbin/zabbix-agent2-plugin/zabbix-agent2-plugin-vpoller\n"+
			"Plugins.VPoller.Endpoint = tcp://127.0.0.1:1\n"+
			"Plugins.VPoller.Sessions.Prod.Endpoint=tcp://127.0.0.1:2\n"+
			"Plugins.Vpoller.Timeout=5\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "zabbix_agent2.d", "plugins.d", "other.txt"), []byte("Plugins.VPoller.Retries=9\n"), 0o644))
	lines, err := ReadAgentConfig(filepath.Join(dir, "zabbix_agent2.conf"))
	must(err)
	if agentTimeout(lines) != 7 {
		t.Errorf("agent Timeout %d", agentTimeout(lines))
	}
	opts := pluginOptions(lines, Name)
	var got []string
	for _, o := range opts.List {
		got = append(got, o.Name()+"="+o.Value)
	}
	if want := []string{"Endpoint=tcp://127.0.0.1:1", "Sessions.Prod.Endpoint=tcp://127.0.0.1:2"}; !slices.Equal(got, want) {
		t.Errorf("plugin options %q, want %q", got, want)
	}
	if o := opts.List[0]; o.Line != 2 {
		t.Errorf("line %d, want 2 (of its file)", o.Line)
	}
	must(os.WriteFile(filepath.Join(dir, "loop.conf"), []byte("Include=loop.conf\n"), 0o644))
	if _, err := ReadAgentConfig(filepath.Join(dir, "loop.conf")); err == nil || !strings.Contains(err.Error(), "Include nested more than 10 deep") {
		t.Errorf("self-include: %v", err)
	}
	if _, err := ReadAgentConfig(filepath.Join(dir, "missing.conf")); err == nil || !strings.Contains(err.Error(), "missing.conf") {
		t.Errorf("missing file: %v", err)
	}
}

// runTest is RunTest with its output.
func runTest(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = RunTest(context.Background(), append([]string{"zabbix-agent2-plugin-vpoller"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// -t through RunTest: values and errors in zabbix_agent2 -t's form, the
// endpoint from the agent configuration or -e.
func TestRunTest(t *testing.T) {
	s := startStandin(t, standin.Inventory)
	conf := filepath.Join(t.TempDir(), "agent.conf")
	if err := os.WriteFile(conf, []byte("Timeout=4\nPlugins.VPoller.Endpoint="+s.Endpoint+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	key := "vpoller.poll[vm.get,vcsim.local,DC0_H0_VM0,runtime.powerState]"
	stdout, stderr, code := runTest(t, "-c", conf, "-t", key)
	if want := pad(key) + "[s|poweredOn]\n"; code != 0 || stdout != want || stderr != "" {
		t.Errorf("rc=%d stdout=%q stderr=%q; want %q", code, stdout, stderr, want)
	}
	stdout, _, code = runTest(t, "-t", "vpoller.poll[vm.get,vcsim.local,nosuchvm,runtime.powerState]", "-e", s.Endpoint, "-c", conf)
	if want := pad("vpoller.poll[vm.get,vcsim.local,nosuchvm,runtime.powerState]") + "[m|ZBX_NOTSUPPORTED] [Cannot find object nosuchvm]\n"; code != 1 || stdout != want {
		t.Errorf("rc=%d stdout=%q; want %q", code, stdout, want)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-t", "k[a"}, "missing closing ']'"},
		{[]string{"-t", ""}, "-t needs an item key"},
		{[]string{"-t", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"-t", "x", "-c", conf + ".missing"}, "agent.conf.missing"},
		{[]string{"-t", "x", "-e", "udp://x:1", "-c", conf}, "Plugins.VPoller.Endpoint"},
	} {
		_, stderr, code := runTest(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%q: rc=%d stderr=%q; want 2 and %q", tc.args, code, stderr, tc.msg)
		}
	}
}

func pad(key string) string { return testKeyColumn(key) }

// A proxy that is down is named, with "connection refused", not
// "no answer".
func TestRunTestProxyDown(t *testing.T) {
	dead := "tcp://" + testutil.FreeAddr(t)
	start := time.Now()
	stdout, _, code := runTest(t, "-c", "/dev/null", "-e", dead, "-t", "vpoller.poll[about,vc01.example.org,,version]")
	want := pad("vpoller.poll[about,vc01.example.org,,version]") + "[m|ZBX_NOTSUPPORTED] [vPoller proxy " + dead +
		": connection refused (kept trying for 2.5s): is vpoller-proxy running, and listening on that endpoint (Plugins.VPoller.Endpoint or the key's endpoint parameter)?]\n"
	if code != 1 || stdout != want {
		t.Errorf("rc=%d stdout\n%s\nwant\n%s", code, stdout, want)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v", took)
	}
}
