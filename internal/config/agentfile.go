package config

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config/option"
)

// AgentFile is one per-vCenter file of [worker] vsphere_hosts_dir: the
// keys of the original article's files (hostname, username, password,
// timeout) and ours (port, ca_file, thumbprint, insecure, simulator,
// simulator_model). Set records which keys the file gave, so that a file
// can complete a vconnector database row key by key.
type AgentFile struct {
	Path                         string
	Hostname, Username, Password string
	Timeout                      time.Duration
	// LoginBackoff is the first pause of logins after vCenter refused
	// one (doubling while it keeps refusing): vCenter SSO locks an
	// account after a few failures.
	LoginBackoff        time.Duration
	Port                int
	CAFile              string // absolute (a relative one is resolved against the file's directory)
	Thumbprint          string // as written; the worker validates it
	Insecure, Simulator bool
	SimulatorModel      string
	Set                 map[string]bool
}

// agentOptions are the keys a per-vCenter file may hold, at the top of
// the file or in [Default] (the article's files): one row per key, as in
// options.go. Set records each key given. The defaults of timeout, port
// and login_backoff are the worker's (a per-vCenter file may complete a
// vconnector database row, so an absent key stays absent here).
var agentOptions = option.Table[AgentFile]{
	agentKey("hostname", text("host", func(f *AgentFile) *string { return &f.Hostname }),
		"(required)", "the agent name clients give (`-V`, `{$VSPHERE.HOST}`; exact case) and the address the worker connects to"),
	agentKey("username", text("text", func(f *AgentFile) *string { return &f.Username }),
		"", "vSphere user (a read-only role is enough for polling)"),
	agentKey("password", text("text", func(f *AgentFile) *string { return &f.Password }),
		"", "its password; in double quotes when it holds ` #` or ` ;`"),
	agentKey("timeout", option.Value[AgentFile]{
		Kind: "seconds", Bounds: "above 0, up to 3600; fractions allowed",
		Set: func(f *AgentFile, v string) error {
			secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || secs <= 0 || secs > 3600 || math.IsNaN(secs) {
				return errors.New("want seconds between 0 and 3600")
			}
			f.Timeout = time.Duration(secs * float64(time.Second))
			return nil
		}}, "`8`", "time limit of one vSphere call (below the 10 s the client waits)"),
	agentKey("port", option.Value[AgentFile]{
		Kind: "whole number", Bounds: "1-65535",
		Set: func(f *AgentFile, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 || n > 65535 {
				return errors.New("want 1-65535")
			}
			f.Port = n
			return nil
		}}, "`443`", "HTTPS port"),
	agentKey("ca_file", text("path", func(f *AgentFile) *string { return &f.CAFile }),
		"", "PEM CA bundle that signs vCenter's certificate; relative to the file's directory"),
	agentKey("thumbprint", text("text", func(f *AgentFile) *string { return &f.Thumbprint }),
		"", "pinned SHA-256 thumbprint of the certificate (openssl's `-fingerprint -sha256` line as printed)"),
	agentKey("insecure", boolean(func(f *AgentFile) *bool { return &f.Insecure }),
		"", "no certificate verification (only on trusted networks)"),
	agentKey("simulator", boolean(func(f *AgentFile) *bool { return &f.Simulator }),
		"", "serve this name from an in-process simulator (demo, tests)"),
	agentKey("simulator_model", text("enum", func(f *AgentFile) *string { return &f.SimulatorModel }),
		"`vpx`", "the simulator's model: `vpx` (a vCenter) or `esx` (a standalone host); needs `simulator = true`"),
	agentKey("login_backoff", duration(func(f *AgentFile) *time.Duration { return &f.LoginBackoff }),
		"`2m30s`", "pause after vCenter refused a login, doubling while it refuses (SSO locks accounts)"),
}

// agentKey is a row of agentOptions whose setter records the key in Set.
func agentKey(key string, v option.Value[AgentFile], def, doc string) option.Option[AgentFile] {
	set := v.Set
	v.Set = func(f *AgentFile, s string) error {
		if err := set(f, s); err != nil {
			return err
		}
		f.Set[key] = true
		return nil
	}
	return option.Option[AgentFile]{Name: key, Value: v, Default: def, Doc: doc}
}

// agentSurface is the per-vCenter file: one section, the top of the file
// and [Default] being the same.
var agentSurface = func() surface[AgentFile] {
	opts := bind("default", agentOptions, func(f *AgentFile) *AgentFile { return f })
	byKey := map[string]boundOption[AgentFile]{}
	for _, o := range opts {
		byKey[o.key] = o
	}
	return surface[AgentFile]{
		sections: []string{"default"},
		display:  map[string]string{"default": "Default"},
		lookup: func(_, key string, _ func(string) bool) []boundOption[AgentFile] {
			if o, ok := byKey[key]; ok {
				return []boundOption[AgentFile]{o}
			}
			return nil
		},
		all:         opts,
		sectionHint: "(a per-vCenter file has its keys at the top, or in [Default])",
	}
}()

// ParseAgentFile reads one per-vCenter INI file: keys at the top or in
// [Default], each known (agentOptions) and given once, with inline
// comments after a space as in vpoller.conf (a password that holds " #"
// or " ;" is written in double quotes).
func ParseAgentFile(raw []byte, path string) (AgentFile, error) {
	f := AgentFile{Path: path, Set: map[string]bool{}}
	bad := func(format string, args ...any) (AgentFile, error) {
		return AgentFile{}, fmt.Errorf("vsphere host file %s: %s", path, fmt.Sprintf(format, args...))
	}
	lay, err := parseINI(raw, agentSurface, &f)
	if err != nil {
		return AgentFile{}, fmt.Errorf("vsphere host file %s: %w", path, err)
	}
	line := func(key string) string { return at(lay.keyLine("default", key)) }
	if f.Hostname == "" {
		return bad("hostname is missing")
	}
	if strings.ContainsAny(f.Hostname, " \t\r\n/") {
		return bad("%shostname %q is not a host name", line("hostname"), f.Hostname)
	}
	if f.SimulatorModel != "" && !f.Simulator {
		return bad("%ssimulator_model is set but simulator is not true", line("simulator_model"))
	}
	if v := f.CAFile; v != "" && !filepath.IsAbs(v) {
		f.CAFile = filepath.Join(filepath.Dir(path), v)
	}
	return f, nil
}

// ParseBool accepts the spellings INI files use (Python's configparser
// ones included: yes/no, on/off, 1/0, true/false, any case).
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "yes", "true", "on":
		return true, nil
	case "0", "no", "false", "off":
		return false, nil
	}
	return false, errors.New("not a boolean")
}
