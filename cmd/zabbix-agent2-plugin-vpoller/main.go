// Command zabbix-agent2-plugin-vpoller is the vPoller loadable plugin for
// Zabbix agent 2 (6.0 to 7.x). The agent starts it; see docs/plugin.md.
package main

import (
	"github.com/vpoller/zabbix-vpoller/plugin"
	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	agent2.Main(plugin.New().Plugin(version))
}
