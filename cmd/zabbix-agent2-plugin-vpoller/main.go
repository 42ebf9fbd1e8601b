// Command zabbix-agent2-plugin-vpoller is the vPoller loadable plugin for
// Zabbix agent 2 (6.0 to 7.x). The agent starts it; see docs/plugin.md.
package main

import (
	"os"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/plugin"
	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	// keygen NAME writes the agent's CURVE key pair (Plugins.VPoller.CurveSecretKey).
	// The agent never starts the plugin with "keygen" as its first argument.
	if len(os.Args) > 1 && os.Args[1] == "keygen" {
		os.Exit(curvekey.Keygen("zabbix-agent2-plugin-vpoller", os.Args[2:], os.Stdout, os.Stderr))
	}
	// -t KEY runs one key against vPoller, as zabbix_agent2 -t does (testkey.go).
	if code, ran := testKey(os.Args); ran {
		os.Exit(code)
	}
	agent2.Main(plugin.New().Plugin(version))
}
