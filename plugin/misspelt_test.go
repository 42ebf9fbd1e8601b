package plugin

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
)

func TestMisspeltLines(t *testing.T) {
	lines := []AgentLine{
		{Key: "Plugins.VPoller.System.Path", File: "a.conf", Line: 1},
		{Key: "Plugins.Vpoller.Endpoint", File: "a.conf", Line: 2},
		{Key: "Plugins.VPOLLER.Sessions.Prod.Endpoint", File: "b.conf", Line: 7},
		{Key: "Plugins.Redis.Uri", File: "b.conf", Line: 8},
		{Key: "Plugins.vpoller", File: "b.conf", Line: 9},
		{Key: "Timeout", File: "a.conf", Line: 3},
	}
	want := []string{
		`Plugins.Vpoller.Endpoint (a.conf line 2) is ignored: the agent matches plugin names exactly and this plugin is "VPoller"; write Plugins.VPoller.Endpoint`,
		`Plugins.VPOLLER.Sessions.Prod.Endpoint (b.conf line 7) is ignored: the agent matches plugin names exactly and this plugin is "VPoller"; write Plugins.VPoller.Sessions.Prod.Endpoint`,
		`Plugins.vpoller (b.conf line 9) is ignored: the agent matches plugin names exactly and this plugin is "VPoller"; write Plugins.VPoller`,
	}
	if got := misspeltLines(lines, Name); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// agentConfigOf reads a zabbix_agent2 process's -c from /proc; a stand-in
// process named zabbix_agent2 (tail, which takes -c too) plays the agent.
func TestAgentConfigOf(t *testing.T) {
	dir := t.TempDir()
	tail, err := exec.LookPath("tail")
	if err != nil {
		t.Skip("no tail")
	}
	raw, err := os.ReadFile(tail)
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "zabbix_agent2")
	if err := os.WriteFile(fake, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-c", "1", "-f", "/dev/null"}, filepath.Join(dir, "1")},
		{[]string{"-f", "/dev/null"}, DefaultAgentConfig},
	} {
		cmd := exec.Command(fake, tc.args...)
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Start returns once the child exists, maybe before its exec:
		// wait until /proc shows the agent's command line.
		cmdline := filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "cmdline")
		for deadline := time.Now().Add(30 * time.Second); ; {
			if raw, err := os.ReadFile(cmdline); err == nil && strings.HasPrefix(string(raw), fake+"\x00") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q: the process never ran %s", tc.args, fake)
			}
			runtime.Gosched()
		}
		got, ok := agentConfigOf(cmd.Process.Pid)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if !ok || got != tc.want {
			t.Errorf("%q: %q %v, want %q", tc.args, got, ok, tc.want)
		}
	}
	if _, ok := agentConfigOf(os.Getpid()); ok {
		t.Error("the test binary taken for an agent")
	}
}

// Validate warns about the agent's misspelt lines (the agent never hands
// them over) and still validates what it was given.
func TestValidateWarnsMisspelt(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "agent.conf")
	if err := os.WriteFile(conf, []byte("Plugins.VPoller.Endpoint=tcp://127.0.0.1:1\nPlugins.Vpoller.Retries=3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	p := New()
	p.UseLogger(slog.New(slog.NewTextHandler(&log, nil)))
	p.agentConfig = func() (string, bool) { return conf, true }
	if err := p.Validate(opts("Endpoint", "tcp://127.0.0.1:1")); err != nil {
		t.Fatal(err)
	}
	if want := "Plugins.Vpoller.Retries (" + conf + " line 2) is ignored"; !strings.Contains(log.String(), want) {
		t.Errorf("log %q lacks %q", log.String(), want)
	}
	err := p.Validate(&agent2.Options{List: []agent2.Option{{Path: []string{"Endpiont"}, Value: "x", Line: 4}}})
	if want := "Plugins.VPoller.Endpiont (line 4): unknown option; did you mean Plugins.VPoller.Endpoint? (known: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("misspelt option: %v\nwant prefix %q", err, want)
	}
	err = p.Validate(&agent2.Options{List: []agent2.Option{{Path: []string{"Sessions", "Prod", "Endpont"}, Value: "x", Line: 5}}})
	if want := `unknown session option "Endpont"; did you mean Plugins.VPoller.Sessions.Prod.Endpoint?`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("misspelt session option: %v\nwant %q", err, want)
	}
}
