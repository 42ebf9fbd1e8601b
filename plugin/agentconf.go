package plugin

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
)

// DefaultAgentConfig is where Zabbix's packages put the agent 2
// configuration (the agent's compiled-in default).
const DefaultAgentConfig = "/etc/zabbix/zabbix_agent2.conf"

// AgentLine is one Key=Value line of an agent configuration file.
type AgentLine struct {
	Key, Value string
	File       string
	Line       int
}

// maxIncludeDepth bounds Include recursion (a file including itself).
const maxIncludeDepth = 10

// ReadAgentConfig reads a Zabbix agent 2 configuration file the way the
// agent does for what the plugin needs: Key=Value lines, '#' comments,
// and Include= of a file, a directory (every file in it) or a pattern
// on the file name (/etc/zabbix/zabbix_agent2.d/plugins.d/*.conf), a
// relative path being relative to the including file's directory. It
// is the plugin's view of the agent's configuration when the agent does
// not hand it over: `-t` runs, and the check for misspelt plugin names.
func ReadAgentConfig(path string) ([]AgentLine, error) {
	var out []AgentLine
	if err := readAgentFile(path, 0, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func readAgentFile(path string, depth int, out *[]AgentLine) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("agent configuration %s: Include nested more than %d deep", path, maxIncludeDepth)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("agent configuration: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue // the agent refuses such a file; not ours to judge
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if key == "Include" {
			if err := readInclude(filepath.Dir(path), value, depth, out); err != nil {
				return fmt.Errorf("%s line %d: %w", path, n, err)
			}
			continue
		}
		*out = append(*out, AgentLine{Key: key, Value: value, File: path, Line: n})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("agent configuration %s: %w", path, err)
	}
	return nil
}

// readInclude reads what one Include= names.
func readInclude(dir, pattern string, depth int, out *[]AgentLine) error {
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(dir, pattern)
	}
	var files []string
	if st, err := os.Stat(pattern); err == nil && st.IsDir() {
		entries, err := os.ReadDir(pattern)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				files = append(files, filepath.Join(pattern, e.Name()))
			}
		}
	} else if strings.ContainsAny(filepath.Base(pattern), "*?[") {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return fmt.Errorf("include pattern %s: %w", pattern, err)
		}
		files = m
	} else {
		files = []string{pattern}
	}
	sort.Strings(files)
	for _, f := range files {
		if err := readAgentFile(f, depth+1, out); err != nil {
			return err
		}
	}
	return nil
}

// pluginOptions picks the Plugins.<name>.* lines (name matched exactly,
// as the agent does) other than System.*, as the agent would hand them
// to the plugin.
func pluginOptions(lines []AgentLine, name string) *agent2.Options {
	opts := &agent2.Options{Plugin: name}
	prefix := "Plugins." + name + "."
	for _, l := range lines {
		rest, ok := strings.CutPrefix(l.Key, prefix)
		if !ok || rest == "" || strings.HasPrefix(rest, "System.") {
			continue
		}
		opts.List = append(opts.List, agent2.Option{Path: strings.Split(rest, "."), Value: l.Value, Line: l.Line})
	}
	return opts
}

// agentTimeout is the agent's Timeout (seconds; 0 when not set or not a
// number).
func agentTimeout(lines []AgentLine) int {
	t := 0
	for _, l := range lines {
		if l.Key == "Timeout" {
			if n, err := strconv.Atoi(l.Value); err == nil {
				t = n
			}
		}
	}
	return t
}
