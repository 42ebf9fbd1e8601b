package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// agentBin is one agent generation under test.
type agentBin struct {
	name string // "6.0", "7.0"
	path string
}

// agentBins returns the agents to test; a missing one fails the test
// unless VPOLLER_AGENT_TESTS=off says the suite is not wanted.
func agentBins(t *testing.T) []agentBin {
	t.Helper()
	if os.Getenv("VPOLLER_AGENT_TESTS") == "off" {
		t.Skip("VPOLLER_AGENT_TESTS=off: real-agent tests not wanted on this machine")
	}
	var out []agentBin
	for _, a := range []struct{ name, env string }{{"6.0", "ZBX_AGENT2_60"}, {"7.0", "ZBX_AGENT2_70"}} {
		path := os.Getenv(a.env)
		if path == "" {
			path = defaultAgentPath(a.name)
		}
		if path == "" {
			t.Fatalf("zabbix_agent2 %s not found: set %s (for 7.0 run scripts/fetch-agent70.sh), or VPOLLER_AGENT_TESTS=off", a.name, a.env)
		}
		v, err := exec.Command(path, "-V").Output()
		if err != nil || !strings.Contains(string(v), "(Zabbix) "+a.name+".") {
			t.Fatalf("%s=%s: not a zabbix_agent2 %s (%v): %.80s", a.env, path, a.name, err, v)
		}
		out = append(out, agentBin{name: a.name, path: path})
	}
	return out
}

func defaultAgentPath(version string) string {
	cands := []string{"/usr/sbin/zabbix_agent2"}
	if version == "7.0" {
		cands = nil
		for _, dir := range []string{os.Getenv("VPOLLER_CI_CACHE"), "/var/cache/vpoller-ci", filepath.Join(os.TempDir(), "vpoller-ci")} {
			if dir != "" {
				cands = append(cands, filepath.Join(dir, "agent70/root/usr/sbin/zabbix_agent2"))
			}
		}
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return ""
}

// agent is a private running zabbix_agent2.
type agent struct {
	bin  agentBin
	dir  string
	conf string
	// tconf is for `zabbix_agent2 -t`: the same settings with sockets of
	// its own (6.0 and 7.0.9 would otherwise take over the daemon's).
	tconf string
	addr  string
	cmd   *exec.Cmd
	done  chan struct{}
}

// agentPort picks a free port that the agent accepts (ListenPort must be
// 1024-32767, below the kernel's ephemeral range, so :0 does not do).
func agentPort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 200; i++ {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port in 20000-32000")
	return 0
}

// writeConf writes a private agent configuration: loopback only, its own
// plugin socket, and our plugin pointed at endpoint, with its vpoller.events
// state file in dir unless extra gives one (never the host's default file,
// whose positions would leak from one test run into the next).
func writeConf(t *testing.T, dir string, port int, endpoint string, extra ...string) string {
	t.Helper()
	lines := []string{
		"LogType=file",
		"LogFile=" + filepath.Join(dir, "agent.log"),
		"DebugLevel=3",
		"PidFile=" + filepath.Join(dir, "agent.pid"),
		"ListenIP=127.0.0.1",
		fmt.Sprintf("ListenPort=%d", port),
		"Server=127.0.0.1",
		"Hostname=vpoller-plugin-test",
		"PluginSocket=" + filepath.Join(dir, "plugin.sock"),
		"ControlSocket=" + filepath.Join(dir, "control.sock"),
		"Timeout=3",
		"Plugins.VPoller.System.Path=" + pluginBin,
		"Plugins.VPoller.Endpoint=" + endpoint,
	}
	lines = append(lines, extra...)
	// After extra, whose line numbers tests read in the agent's messages.
	if !slices.ContainsFunc(extra, func(l string) bool { return strings.HasPrefix(l, "Plugins.VPoller.EventsStateFile=") }) {
		lines = append(lines, "Plugins.VPoller.EventsStateFile="+filepath.Join(dir, "vpoller-events.json"))
	}
	conf := filepath.Join(dir, "agent.conf")
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// startAgent starts a private agent and waits until it answers agent.ping.
// The 6.0.14 agent panics at start-up about once in seven starts (agent
// bug: "failed to obtain PID of dead child process"), so starts are retried.
func startAgent(t *testing.T, bin agentBin, endpoint string, extra ...string) *agent {
	t.Helper()
	var lastLog string
	for try := 1; try <= 6; try++ {
		dir := t.TempDir()
		port := agentPort(t)
		a := &agent{bin: bin, dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", port), done: make(chan struct{})}
		a.conf = writeConf(t, dir, port, endpoint, extra...)
		tdir := filepath.Join(dir, "t")
		if err := os.Mkdir(tdir, 0o755); err != nil {
			t.Fatal(err)
		}
		a.tconf = writeConf(t, tdir, port, endpoint, extra...)
		a.cmd = exec.Command(bin.path, "-c", a.conf, "-f")
		var out bytes.Buffer
		a.cmd.Stdout, a.cmd.Stderr = &out, &out
		a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := a.cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin.path, err)
		}
		go func() { _ = a.cmd.Wait(); close(a.done) }()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-a.done:
				deadline = time.Time{}
				continue
			default:
			}
			if v, err := passive(a.addr, "agent.ping", 2*time.Second); err == nil && v == "1" {
				t.Cleanup(a.stop)
				return a
			}
			time.Sleep(100 * time.Millisecond)
		}
		a.stop()
		log, _ := os.ReadFile(filepath.Join(dir, "agent.log"))
		lastLog = fmt.Sprintf("output:\n%s\nlog:\n%s", out.String(), tail(string(log), 2000))
		t.Logf("zabbix_agent2 %s start attempt %d failed; retrying. %s", bin.name, try, tail(lastLog, 600))
	}
	t.Fatalf("zabbix_agent2 %s did not start in 6 attempts; last: %s", bin.name, lastLog)
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// stop ends the agent (SIGTERM, which makes it Terminate the plugin) and
// its whole process group (the plugin included, should the agent die).
func (a *agent) stop() {
	if a.cmd.Process == nil {
		return
	}
	select {
	case <-a.done:
	default:
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
			<-a.done
		}
	}
	_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL) // leftovers of the group, if any
}

// running reports whether the agent process is still alive.
func (a *agent) running() bool {
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

func (a *agent) logTail() string {
	b, _ := os.ReadFile(filepath.Join(a.dir, "agent.log"))
	return tail(string(b), 3000)
}

// errNotSupported carries the agent's ZBX_NOTSUPPORTED text.
type errNotSupported struct{ msg string }

func (e *errNotSupported) Error() string { return "ZBX_NOTSUPPORTED: " + e.msg }

const notSupported = "ZBX_NOTSUPPORTED\x00"

// passive runs one passive check with the classic protocol: "ZBXD\x01",
// uint32 LE length, uint32 LE 0, key; the reply has the same header and
// the value, or ZBX_NOTSUPPORTED\0<error>.
func passive(addr, key string, timeout time.Duration) (string, error) {
	body, err := exchange(addr, []byte(key), timeout)
	if err != nil {
		return "", err
	}
	if rest, ok := strings.CutPrefix(string(body), notSupported); ok {
		return "", &errNotSupported{msg: rest}
	}
	return string(body), nil
}

// passiveJSON runs a 7.0 JSON passive check with an item timeout.
func passiveJSON(addr, key string, itemTimeout, timeout time.Duration) (string, error) {
	req, _ := json.Marshal(map[string]any{"request": "passive checks", "data": []any{map[string]string{"key": key, "timeout": fmt.Sprintf("%ds", int(itemTimeout.Seconds()))}}})
	body, err := exchange(addr, req, timeout)
	if err != nil {
		return "", err
	}
	var r struct {
		Data []struct {
			Value *string `json:"value"`
			Error *string `json:"error"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || len(r.Data) != 1 {
		return "", fmt.Errorf("JSON passive reply %q: %v", body, err)
	}
	if r.Data[0].Error != nil {
		return "", &errNotSupported{msg: *r.Data[0].Error}
	}
	if r.Data[0].Value == nil {
		return "", fmt.Errorf("JSON passive reply without value: %s", body)
	}
	return *r.Data[0].Value, nil
}

func exchange(addr string, payload []byte, timeout time.Duration) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	msg := append([]byte("ZBXD\x01"), binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))...)
	msg = binary.LittleEndian.AppendUint32(msg, 0)
	if _, err := c.Write(append(msg, payload...)); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	hdr := make([]byte, 13)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("reading reply header: %w", err)
	}
	if string(hdr[:4]) != "ZBXD" {
		return nil, fmt.Errorf("reply header %q", hdr)
	}
	if hdr[4]&0x02 != 0 {
		return nil, errors.New("compressed reply not expected")
	}
	n := binary.LittleEndian.Uint32(hdr[5:9])
	if n > 64<<20 {
		return nil, fmt.Errorf("reply of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("reading reply body: %w", err)
	}
	return body, nil
}

// parseTestOutput finds the result line of `zabbix_agent2 -t KEY`:
// "KEY<spaces>[s|value]" or "KEY<spaces>[m|ZBX_NOTSUPPORTED] [error]" (no
// space at all when the key is long).
func parseTestOutput(out, key string) (value string, err error, ok bool) {
	for _, line := range strings.Split(out, "\n") {
		rest, found := strings.CutPrefix(line, key)
		if !found {
			continue
		}
		rest = strings.TrimSpace(rest)
		if msg, found := strings.CutPrefix(rest, "[m|ZBX_NOTSUPPORTED] ["); found && strings.HasSuffix(msg, "]") {
			return "", &errNotSupported{msg: strings.TrimSuffix(msg, "]")}, true
		}
		if len(rest) >= 4 && rest[0] == '[' && rest[2] == '|' && strings.HasSuffix(rest, "]") {
			return rest[3 : len(rest)-1], nil, true
		}
	}
	return "", nil, false
}

// testKey runs `zabbix_agent2 -c CONF -t KEY` (both plugin phases in one
// command, as an administrator troubleshoots) and returns the value or the
// not-supported text. Retried like the daemon start (same agent bug).
func testKey(t *testing.T, a *agent, key string) (string, error) {
	t.Helper()
	var out []byte
	for try := 1; try <= 5; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		out, _ = exec.CommandContext(ctx, a.bin.path, "-c", a.tconf, "-t", key).CombinedOutput()
		cancel()
		if v, err, ok := parseTestOutput(string(out), key); ok {
			return v, err
		}
		t.Logf("zabbix_agent2 %s -t %s, attempt %d: %s", a.bin.name, key, try, tail(string(out), 500))
	}
	return "", fmt.Errorf("zabbix_agent2 -t %s: no result line in %q", key, tail(string(out), 1000))
}
