package plugin

import (
	"flag"
	"slices"
	"testing"

	"github.com/vpoller/zabbix-vpoller/internal/config/option"
)

var update = flag.Bool("update", false, "rewrite docs/plugin.md's option table from the code's")

// docsOptionTable is docs/plugin.md's option table, from the option
// tables: the default session's and the plugin's own options, then a
// named session's (defaulting to the default session's) and a management
// socket's.
func docsOptionTable() string {
	name := func(prefix string) func(string) string {
		return func(n string) string { return "Plugins.VPoller." + prefix + n }
	}
	sessions := slices.Clone(sessionOptions)
	for i, o := range sessions {
		sessions[i].Default = "`Plugins.VPoller." + o.Name + "`"
		if o.Name == "Endpoint" {
			sessions[i].Default = "(required)"
		}
	}
	return option.Header +
		topOptions.Rows(defaultConfig(DefaultEventsStateFile), name("")) +
		sessions.Rows(nil, name("Sessions.<Name>.")) +
		mgmtOptions.Rows(&mgmtText{}, name("Mgmt.<Name>."))
}

// docs/plugin.md's option table is the code's: a row whose name, default
// or meaning differs fails here, printing the expected Markdown (-update
// writes it).
func TestDocsOptionTable(t *testing.T) {
	if err := option.SyncDoc("../docs/plugin.md", "Plugins.VPoller", docsOptionTable(), *update); err != nil {
		t.Error(err)
	}
}
