//go:build faults

package faults

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// zabbixAgent60 is Debian bookworm's zabbix_agent2 (package zabbix-agent2).
const zabbixAgent60 = "/usr/sbin/zabbix_agent2"

// agent is a private zabbix_agent2 with our plugin.
type agent struct {
	*proc
	addr string
	dir  string
}

// agentLog is the agent's log file.
func (a *agent) agentLog() string {
	b, _ := os.ReadFile(filepath.Join(a.dir, "agent.log"))
	return string(b)
}

// startAgent starts zabbix_agent2 with our plugin, its default endpoint
// endpoint, and waits until agent.ping answers. The 6.0.14 agent panics
// at start-up about once in seven starts (an agent bug: "failed to obtain
// PID of dead child process"), so a failed start is retried; its process
// is not counted by the health check.
func (s *scenario) startAgent(endpoint string) *agent {
	s.t.Helper()
	if _, err := os.Stat(zabbixAgent60); err != nil {
		s.fatalf("zabbix_agent2 6.0 (Debian package zabbix-agent2, scripts/install-test-deps.sh): %v", err)
	}
	var last string
	for try := 1; try <= 6; try++ {
		dir := s.path(fmt.Sprintf("agent%d", try))
		s.must(os.MkdirAll(dir, 0o755), "agent directory")
		port := agentPort()
		conf := strings.Join([]string{
			"LogType=file", "LogFile=" + filepath.Join(dir, "agent.log"), "DebugLevel=3",
			"PidFile=" + filepath.Join(dir, "agent.pid"), "ListenIP=127.0.0.1", fmt.Sprintf("ListenPort=%d", port),
			"Server=127.0.0.1", "Hostname=vpoller-faults", "Timeout=5",
			"PluginSocket=" + filepath.Join(dir, "plugin.sock"), "ControlSocket=" + filepath.Join(dir, "control.sock"),
			"Plugins.VPoller.System.Path=" + bins.plugin, "Plugins.VPoller.Endpoint=" + endpoint,
			// One per scenario, kept across the agent's restarts.
			"Plugins.VPoller.EventsStateFile=" + s.path("vpoller-events.json"),
		}, "\n") + "\n"
		path := filepath.Join(dir, "agent.conf")
		s.must(os.WriteFile(path, []byte(conf), 0o644), "agent configuration")
		a := &agent{dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", port)}
		a.proc = s.spawn(fmt.Sprintf("zabbix_agent2-%d", try), zabbixAgent60, []string{"-c", path, "-f"}, spawnOpts{dir: dir})
		ok, _ := until(15*time.Second, 100*time.Millisecond, func() bool {
			v, err := passive(a.addr, "agent.ping", 2*time.Second)
			return (err == nil && v == "1") || !a.alive()
		})
		if ok && a.alive() {
			return a
		}
		last = tail(a.output()+a.agentLog(), 1500)
		a.kill()
		s.forget(a.proc)
		s.t.Logf("zabbix_agent2 start attempt %d failed; retrying: %s", try, tail(last, 400))
	}
	s.fatalf("zabbix_agent2 did not start in 6 attempts: %s", last)
	return nil
}

// forget removes a process from the health check (a failed start of a
// third-party program with a known start-up bug).
func (s *scenario) forget(p *proc) {
	for i, q := range s.procs {
		if q == p {
			s.procs = append(s.procs[:i], s.procs[i+1:]...)
			return
		}
	}
}

// agentPort picks a free port in the range the agent accepts for
// ListenPort (1024-32767, below the kernel's ephemeral range).
func agentPort() int {
	for range 200 {
		port := 20000 + rand.IntN(12000)
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			l.Close()
			return port
		}
	}
	return 0
}

// pluginPID finds our plugin among the agent's children (0: none).
func (a *agent) pluginPID() int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, split after ')'.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 2 || f[1] != strconv.Itoa(a.pid()) {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && filepath.Base(exe) == filepath.Base(bins.plugin) {
			return pid
		}
	}
	return 0
}

// errNotSupported is an item error: the agent's ZBX_NOTSUPPORTED reply.
type errNotSupported struct{ msg string }

func (e *errNotSupported) Error() string { return "ZBX_NOTSUPPORTED: " + e.msg }

// passive runs one passive check with the Zabbix protocol: "ZBXD\x01",
// the body length (uint32, little-endian), 4 reserved bytes, the key; the
// reply has the same header and the value, or ZBX_NOTSUPPORTED\0<error>.
func passive(addr, key string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", fmt.Errorf("connect to the agent: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	msg := binary.LittleEndian.AppendUint32([]byte("ZBXD\x01"), uint32(len(key)))
	msg = binary.LittleEndian.AppendUint32(msg, 0)
	if _, err := c.Write(append(msg, key...)); err != nil {
		return "", fmt.Errorf("send to the agent: %w", err)
	}
	r := bufio.NewReader(c)
	hdr := make([]byte, 13)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return "", fmt.Errorf("agent reply header: %w", err)
	}
	if string(hdr[:4]) != "ZBXD" || hdr[4]&0x02 != 0 {
		return "", fmt.Errorf("agent reply header %q", hdr)
	}
	n := binary.LittleEndian.Uint32(hdr[5:9])
	if n > 16<<20 {
		return "", fmt.Errorf("agent reply of %d bytes", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return "", fmt.Errorf("agent reply body: %w", err)
	}
	if rest, ok := strings.CutPrefix(string(body), "ZBX_NOTSUPPORTED\x00"); ok {
		return "", &errNotSupported{msg: rest}
	}
	return string(body), nil
}
