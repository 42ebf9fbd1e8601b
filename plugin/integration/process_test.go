package integration

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
)

// TestPluginProcess checks the built binary's process model without an
// agent: -V, SIGTERM/SIGINT ignored (systemd signals the whole control
// group before the agent's orderly Terminate), exit on EOF with status 0.
func TestPluginProcess(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(pluginBin, "-V").Output()
	if err != nil || !strings.Contains(string(out), `Zabbix agent 2 loadable plugin "VPoller"`) {
		t.Fatalf("-V: %v %q", err, out)
	}

	sock := filepath.Join(t.TempDir(), "agent.plugin.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cmd := exec.Command(pluginBin, sock, "false")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill() }()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))

	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		t.Fatalf("plugin died on SIGTERM/SIGINT: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	send := func(body string) {
		if err := agent2.WriteFrame(conn, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"id":1,"type":2,"version":"6.4.0"}`)
	reply, err := agent2.ReadFrame(conn)
	if err != nil || !strings.HasPrefix(string(reply), `{"id":1,"interfaces":7,"metrics":["vpoller.discover","Runs a vPoller discovery method`) || !strings.HasSuffix(string(reply), `"name":"VPoller","type":3}`) {
		t.Fatalf("register reply %s %v", reply, err)
	}
	send(`{"id":2,"type":6,"key":"vpoller.discover","parameters":["vm.get","vc","vm1"],"timeout":5}`)
	reply, err = agent2.ReadFrame(conn)
	if want := `{"error":"vm.get is not a discovery method: use vpoller.poll[...] for one value or vpoller.get[...] for the whole result","id":2,"type":7}`; err != nil || string(reply) != want {
		t.Fatalf("export reply %s %v\nwant %s", reply, err, want)
	}
	conn.Close() // EOF: the agent went away
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after EOF: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("plugin did not exit after EOF")
	}
}
