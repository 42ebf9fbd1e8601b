package main

import (
	"fmt"
	"io"

	"github.com/vpoller/zabbix-vpoller/internal/buildinfo"
)

// printVersion answers -V, --version and -version (zabbix_agent2's own
// flag is -V) on stdout and reports whether it did. The agent never
// starts the plugin with these arguments: it passes the socket path.
func printVersion(args []string, stdout io.Writer) bool {
	if len(args) != 1 {
		return false
	}
	switch args[0] {
	case "-V", "--version", "-version", "version":
		buildinfo.Set(version)
		fmt.Fprintln(stdout, buildinfo.Line("zabbix-agent2-plugin-vpoller"))
		return true
	}
	return false
}
