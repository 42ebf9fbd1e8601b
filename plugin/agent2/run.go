package agent2

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
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
		case "-V", "--version", "-version":
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
	if err := Serve(conn, p); err != nil {
		// Registration refused (the agent must see us exit) or the
		// socket broke: either way the process ends.
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
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
