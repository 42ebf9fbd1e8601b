package plugin

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vpoller/zabbix-vpoller/internal/config/option"
)

// Zabbix agent 2 (6.0.14 and 7.0.9, verified) matches the <Name> of
// Plugins.<Name>.* exactly and hands a plugin only its own subtree: a line
// such as Plugins.Vpoller.Endpoint=... never reaches this plugin, and the
// agent says nothing about it. So the plugin reads the agent's
// configuration itself (the file the agent was started with, found from
// the agent's command line) and warns about every line whose plugin name
// is this plugin's in another case.

// misspeltLines returns a warning for each line whose plugin name equals
// name in another case, naming the line and its right spelling.
func misspeltLines(lines []AgentLine, name string) []string {
	var out []string
	for _, l := range lines {
		rest, ok := strings.CutPrefix(l.Key, "Plugins.")
		if !ok {
			continue
		}
		got, opt, _ := strings.Cut(rest, ".")
		if got == name || !strings.EqualFold(got, name) {
			continue
		}
		right := "Plugins." + name
		if opt != "" {
			right += "." + opt
		}
		out = append(out, fmt.Sprintf("%s (%s line %d) is ignored: the agent matches plugin names exactly and this plugin is %q; write %s",
			l.Key, l.File, l.Line, name, right))
	}
	return out
}

// agentConfigOf returns the configuration file of the agent process pid,
// from its command line (-c FILE, -c=FILE, --config FILE; relative to its
// working directory), or the agent's default when it gave none. ok is
// false when pid is not a zabbix_agent2 or cannot be read.
func agentConfigOf(pid int) (path string, ok bool) {
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	raw, err := os.ReadFile(filepath.Join(proc, "cmdline"))
	if err != nil {
		return "", false
	}
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	if len(args) == 0 || !strings.HasPrefix(filepath.Base(args[0]), "zabbix_agent2") {
		return "", false
	}
	path = DefaultAgentConfig
	for i := 1; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || (name != "c" && name != "config") {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return "", false
			}
			i++
			value = args[i]
		}
		path = value
	}
	if !filepath.IsAbs(path) {
		cwd, err := os.Readlink(filepath.Join(proc, "cwd"))
		if err != nil {
			return "", false
		}
		path = filepath.Join(cwd, path)
	}
	return path, true
}

// checkAgentSpelling logs a warning for each line of the agent's
// configuration that names this plugin in another case. It runs in the
// registration run (Validate), at every agent start and -t; it never
// fails: a configuration it cannot read is the agent's business.
func (p *VPoller) checkAgentSpelling() {
	path, ok := p.agentConfig()
	if !ok {
		return
	}
	lines, err := ReadAgentConfig(path)
	if err != nil {
		return
	}
	for _, w := range misspeltLines(lines, Name) {
		p.log.Warn(w)
	}
}

// didYouMean suggests the known option closest to got (case aside) as
// "; did you mean <prefix><option>?", or "".
func didYouMean(got string, known []string, prefix string) string {
	best := option.Closest(got, known)
	if best == "" {
		return ""
	}
	return "; did you mean " + prefix + best + "?"
}
