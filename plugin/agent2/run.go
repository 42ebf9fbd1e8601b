package agent2

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Run is the whole main of a loadable plugin: args are os.Args. The agent
// starts the binary as `BINARY SOCKET true|false` (registration or operating
// run); -V and -h print the version and usage for humans. The returned code
// is the process exit status.
//
// SIGINT and SIGTERM are ignored: under systemd (KillMode=control-group)
// they reach the plugin before the agent's orderly Terminate, and a plugin
// that dies first takes the agent down with it.
func Run(p *Plugin, args []string, stdout, stderr io.Writer) int {
	name := "plugin"
	if len(args) > 0 {
		name = args[0]
	}
	if len(args) == 2 {
		switch args[1] {
		case "-V", "--version", "-version", "version":
			fmt.Fprintf(stdout, "%s %s\nZabbix agent 2 loadable plugin %q, protocol of agents 6.0 to 7.x\n", name, p.Version, p.Name)
			return 0
		case "-h", "--help", "-help":
			usage(stdout, name, p)
			return 0
		}
	}
	if len(args) != 3 || (args[2] != "true" && args[2] != "false") {
		usage(stderr, name, p)
		return 2
	}
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
	conn, err := dial(args[1])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer conn.Close()
	var rw io.ReadWriter = conn
	if args[2] == "true" {
		rw = idleConn{conn, registrationIdle}
	}
	s := NewSession(rw, p)
	if err := s.Serve(); err != nil {
		// Registration refused (the agent must see us exit) or the
		// socket broke: either way the process ends.
		fmt.Fprintln(stderr, err)
		return 1
	}
	if s.terminated && agentClosesFirst(s.protocol) {
		linger(conn, lingerTimeout)
	}
	return 0
}

// registrationIdle ends a registration run in which the agent has said
// nothing for this long. Agents send Register, Validate and Terminate
// within milliseconds; but 7.0 never sends Terminate when it refuses the
// registration itself (a plugin name written in another case in
// Plugins.<Name>.System.Path: "mismatch plugin names"), and waits for
// the plugin to exit before it reports that, so without this bound the
// agent hangs at start and at every -t.
var registrationIdle = 10 * time.Second

// idleConn is a connection whose every read must complete within idle.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c idleConn) Read(p []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

// lingerTimeout bounds how long a plugin told to Terminate by a 6.0-6.2
// agent waits for the agent to close the socket (measured: within 10 ms).
const lingerTimeout = time.Second

// agentClosesFirst tells, from the protocol version of the agent's
// Register, whether the agent closes the socket itself right after
// Terminate and must see it close before the plugin's end. Agents 6.0
// to 6.2 ("1.0", "6.0.13", "6.2.7") do, and when the plugin exits first
// their reader spins on the EOF: zabbix_agent2 6.0.14 -t printed up to
// 625 lines of "failed to read response for plugin VPoller, failed to
// read type header, EOF" in 5 of 36 runs (docs/plugin.md). Agents 6.4
// and later ("6.4.0") wait for the plugin to exit before they close, and
// kill a plugin that lingers: the plugin exits at once for them, and for
// any version it cannot read.
func agentClosesFirst(protocol string) bool {
	major, rest, _ := strings.Cut(protocol, ".")
	minor, _, _ := strings.Cut(rest, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	switch {
	case err1 != nil || err2 != nil:
		return false
	case ma == 1 && mi == 0: // 6.0.0 to 6.0.12
		return true
	default:
		return ma == 6 && mi < 4
	}
}

// linger waits until the agent closes the connection (or d passes),
// discarding anything it still sends.
func linger(conn net.Conn, d time.Duration) {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, _ = io.Copy(io.Discard, conn)
}

func usage(w io.Writer, name string, p *Plugin) {
	fmt.Fprintf(w, `Usage: %[1]s SOCKET true|false
       %[1]s -V | -h

Zabbix agent 2 loadable plugin %[2]q. The agent starts it itself; declare it
in the agent configuration with
  Plugins.%[2]s.System.Path=%[1]s
Item keys:
`, name, p.Name)
	for _, m := range p.Metrics {
		fmt.Fprintf(w, "  %-18s %s\n", m.Key, m.Description)
	}
	if p.MoreUsage != "" {
		fmt.Fprintf(w, "\n%s", p.MoreUsage)
	}
}

// dial connects to the agent's plugin socket; the agent listens before it
// starts the plugin, so a few quick retries cover any start-up race.
func dial(path string) (net.Conn, error) {
	var err error
	for i := 0; i < 10; i++ {
		var c net.Conn
		if c, err = net.DialTimeout("unix", path, 2*time.Second); err == nil {
			return c, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("agent2: cannot connect to the agent's plugin socket %s: %w", path, err)
}

// Main runs the plugin with the process's arguments and exits with Run's
// status: the complete main function of a plugin binary.
func Main(p *Plugin) {
	os.Exit(Run(p, os.Args, os.Stdout, os.Stderr))
}
