package plugin

import (
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

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

// Every row is an option ParseConfig reads, in any case, at its place:
// the default session's and the plugin's own directly, a session's and a
// management socket's below their name; a misspelt one is refused with
// the row's name suggested, and every refusal lists every row.
func TestTablesDriveParseConfig(t *testing.T) {
	var all []string
	for _, tc := range []struct {
		prefix string
		names  []string
	}{
		{"", topOptions.Names()},
		{"Sessions.Prod.", sessionOptions.Names()},
		{"Mgmt.Proxy.", mgmtOptions.Names()},
	} {
		for _, name := range tc.names {
			all = append(all, name)
			_, err := ParseConfig(opts(tc.prefix+name+"x", "1"))
			if want := "did you mean Plugins.VPoller." + tc.prefix + name + "?"; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s%sx: %v\nwant %q", tc.prefix, name, err, want)
			}
		}
	}
	_, err := ParseConfig(opts("NoSuchOption", "1"))
	if err == nil {
		t.Fatal("an unknown option was accepted")
	}
	for _, name := range all {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("the unknown-option error does not list %s: %v", name, err)
		}
	}
	cfg, err := ParseConfig(opts("poolsize", "7", "RETRIES", "3", "Sessions.Prod.endpoint", "tcp://127.0.0.1:1", "Sessions.Prod.TimeOut", "4"))
	if err != nil || cfg.PoolSize != 7 || cfg.Default.Retries != 3 || cfg.Sessions["prod"].Timeout != 4*time.Second || cfg.Sessions["prod"].Retries != 3 {
		t.Fatalf("%+v %v", cfg, err)
	}
}

// Each default the docs show is a value ParseConfig accepts, read back
// as the same default.
func TestShownDefaultsParse(t *testing.T) {
	def := defaultConfig(DefaultEventsStateFile)
	for _, o := range topOptions {
		shown := o.Show(def)
		if shown == "" {
			continue
		}
		cfg, err := ParseConfig(opts(o.Name, shown))
		if err != nil {
			t.Errorf("%s: the shown default %q is refused: %v", o.Name, shown, err)
		} else if got := o.Show(cfg); got != shown {
			t.Errorf("%s: %q reads back as %q", o.Name, shown, got)
		}
	}
}
