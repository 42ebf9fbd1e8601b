package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// runPlugin runs the plugin binary with args and returns its stdout,
// stderr and exit status.
func runPlugin(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, pluginBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// agentTestLine is the result line zabbix_agent2 -t prints for key
// (without its trailing newline), or "".
func agentTestLine(out, key string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, key) {
			return l
		}
	}
	return ""
}

// The plugin's own -t against a real proxy and worker:
// the value or the error in zabbix_agent2 -t's form, byte for byte what
// the agent prints for the same key; the endpoint from the agent's
// configuration (through its Include, as Debian's layout has it) or -e.
func TestPluginTestFlag(t *testing.T) {
	t.Parallel()
	ch := startDaemons(t, nil)
	vms := simulatorVMs(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "zabbix_agent2.d", "plugins.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "zabbix_agent2.conf")
	files := map[string]string{
		conf: "Timeout=5\nInclude=./zabbix_agent2.d/plugins.d/*.conf\n",
		filepath.Join(dir, "zabbix_agent2.d", "plugins.d", "vpoller.conf"): "Plugins.VPoller.System.Path=" + pluginBin +
			"\nPlugins.VPoller.Endpoint=" + ch.endpoint + "\nPlugins.VPoller.EventsStateFile=off\n",
	}
	for name, body := range files {
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	poll := fmt.Sprintf("vpoller.poll[vm.get,%s,%s,runtime.powerState]", vc, vms[0])
	missing := fmt.Sprintf("vpoller.poll[vm.get,%s,nosuchvm,runtime.powerState]", vc)
	for _, tc := range []struct {
		args []string
		out  string
		code int
	}{
		{[]string{"-c", conf, "-t", poll}, fmt.Sprintf("%-46s[s|poweredOn]\n", poll), 0},
		{[]string{"-t", poll, "-c", "/dev/null", "-e", ch.endpoint}, fmt.Sprintf("%-46s[s|poweredOn]\n", poll), 0},
		{[]string{"-c", conf, "-t", missing}, fmt.Sprintf("%-46s[m|ZBX_NOTSUPPORTED] [Cannot find object nosuchvm]\n", missing), 1},
		{[]string{"-c", conf, "-t", "vpoller.discover[vm.discover," + vc + "]"}, fmt.Sprintf("%-46s[s|{\"data\":[", "vpoller.discover[vm.discover,"+vc+"]"), 0},
	} {
		stdout, stderr, code := runPlugin(t, tc.args...)
		if code != tc.code || !strings.HasPrefix(stdout, tc.out) || stderr != "" {
			t.Errorf("%q: rc=%d stdout=%q stderr=%q\nwant rc=%d stdout %q", tc.args, code, stdout, stderr, tc.code, tc.out)
		}
	}
	// The agent prints the same lines for the same keys (minus its
	// missing final newline and 7.0's capitalised error with a period).
	if os.Getenv("VPOLLER_AGENT_TESTS") != "off" {
		for _, bin := range agentBins(t)[:1] {
			a := &agent{bin: bin, tconf: writeConf(t, t.TempDir(), agentPort(t), ch.endpoint)}
			for _, key := range []string{poll, missing} {
				var out []byte
				for try := 1; try <= 5 && agentTestLine(string(out), key) == ""; try++ { // 6.0.14 start-up panic: retried
					out, _ = exec.Command(a.bin.path, "-c", a.tconf, "-t", key).CombinedOutput()
				}
				ours, _, _ := runPlugin(t, "-c", conf, "-t", key)
				if want := agentTestLine(string(out), key); want == "" || strings.TrimSuffix(ours, "\n") != want {
					t.Errorf("-t %s:\nplugin %q\nagent  %q", key, ours, want)
				}
			}
		}
	}
}

// The plugin started the agent's way is untouched by -t: the socket
// path and true|false (the rest of this package runs it that way); and
// a proxy that is down is named with the refusal.
func TestPluginTestFlagProxyDown(t *testing.T) {
	t.Parallel()
	dead := "tcp://" + testutil.FreeAddr(t)
	key := "vpoller.poll[about," + vc + ",,version]"
	stdout, _, code := runPlugin(t, "-c", "/dev/null", "-e", dead, "-timeout", "2", "-t", key)
	want := fmt.Sprintf("%-46s[m|ZBX_NOTSUPPORTED] [vPoller proxy %s: connection refused (kept trying for 1.5s): "+
		"is vpoller-proxy running, and listening on that endpoint (Plugins.VPoller.Endpoint or the key's endpoint parameter)?]\n", key, dead)
	if code != 1 || stdout != want {
		t.Errorf("rc=%d stdout\n%s\nwant\n%s", code, stdout, want)
	}
}

// zabbix_agent2 6.0.14 -t printed "failed to read response for plugin
// VPoller, failed to read type header, EOF" (up to 625 lines) in about
// one run of seven when the plugin closed the socket before the agent
// did after Terminate. The plugin now waits for 6.0-6.2
// agents to close first. 12 runs: before, this failed in about 5 runs of
// 6 (measured: 16 of 108 runs had the lines).
func TestAgentTestNoEOFLines(t *testing.T) {
	t.Parallel()
	bins := agentBins(t)
	ch := startDaemons(t, nil)
	for _, bin := range bins {
		t.Run(bin.name, func(t *testing.T) {
			t.Parallel() // each agent generation its own agent (and, in TestAgents, chain)
			conf := writeConf(t, t.TempDir(), agentPort(t), ch.endpoint)
			key := "vpoller.poll[about," + vc + ",,version]"
			runs := 12
			if bin.name != "6.0" {
				runs = 3 // never seen on 7.0; a few runs prove the plugin still exits when 7.0 wants it to
			}
			for i := range runs {
				out, _ := exec.Command(bin.path, "-c", conf, "-t", key).CombinedOutput()
				if n := strings.Count(string(out), "failed to read type header"); n > 0 {
					t.Fatalf("run %d: %d lines of \"failed to read type header\":\n%s", i+1, n, tail(string(out), 600))
				}
				if strings.Contains(string(out), "panic") { // the agent's own start-up bug (spec): not ours
					continue
				}
				if line := agentTestLine(string(out), key); !strings.HasSuffix(line, "[s|6.5.0]") {
					t.Fatalf("run %d: no value:\n%s", i+1, tail(string(out), 600))
				}
			}
		})
	}
}

// A Plugins.<Name>.* line whose <Name> is VPoller in another case is
// ignored by the agent without a word (6.0.14 and 7.0.9); the plugin
// warns, naming the line and its right spelling. And a
// System.Path line so misspelt makes the agent refuse the plugin: 6.0
// says so at once, 7.0.9 waited for the plugin to exit, which it now
// does after 10 s of silence.
func TestAgentMisspeltPluginName(t *testing.T) {
	t.Parallel()
	bins := agentBins(t)
	ch := startDaemons(t, nil)
	for _, bin := range bins {
		t.Run(bin.name, func(t *testing.T) {
			t.Parallel() // each agent generation its own agent (and, in TestAgents, chain)
			dir := t.TempDir()
			conf := writeConf(t, dir, agentPort(t), ch.endpoint, "Plugins.Vpoller.Timeout=5")
			key := "vpoller.poll[about," + vc + ",,version]"
			want := fmt.Sprintf(`Plugins.Vpoller.Timeout (%s line 14) is ignored: the agent matches plugin names exactly and this plugin is "VPoller"; write Plugins.VPoller.Timeout`, conf)
			// The plugin sends the warning in every run; agent 6.0's -t
			// sometimes exits before it prints a plugin's log line (1 run
			// in 3 on the installed packages): up to 5 runs.
			var out []byte
			for try := 1; try <= 5 && (!strings.Contains(string(out), want) || agentTestLine(string(out), key) == ""); try++ {
				out, _ = exec.Command(bin.path, "-c", conf, "-t", key).CombinedOutput()
			}
			if !strings.Contains(string(out), want) || !strings.HasSuffix(agentTestLine(string(out), key), "[s|6.5.0]") {
				t.Errorf("-t output:\n%s\nwant the value and a line with\n%s", tail(string(out), 1500), want)
			}

			raw, err := os.ReadFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			bad := strings.Replace(string(raw), "Plugins.VPoller.System.Path=", "Plugins.Vpoller.System.Path=", 1)
			if err := os.WriteFile(conf, []byte(bad), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			for try := 1; try <= 5; try++ {
				out, _ = exec.CommandContext(ctx, bin.path, "-c", conf, "-t", key).CombinedOutput()
				if !strings.Contains(string(out), "panic") {
					break
				}
			}
			if ctx.Err() != nil || !strings.Contains(string(out), "mismatch plugin names Vpoller and VPoller") {
				t.Errorf("misspelt System.Path (%v): -t output:\n%s\nwant the agent's \"mismatch plugin names\"", ctx.Err(), tail(string(out), 1500))
			}
		})
	}
}
