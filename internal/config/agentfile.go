package config

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"
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
	Port                         int
	CAFile                       string // absolute (a relative one is resolved against the file's directory)
	Thumbprint                   string // as written; the worker validates it
	Insecure, Simulator          bool
	SimulatorModel               string
	Set                          map[string]bool
}

// agentKeys are the keys a per-vCenter file may hold.
var agentKeys = map[string]bool{"hostname": true, "username": true, "password": true, "timeout": true,
	"port": true, "ca_file": true, "thumbprint": true, "insecure": true, "simulator": true, "simulator_model": true}

// ParseAgentFile reads one per-vCenter INI file. Keys may stand at the
// top or in one section (the article's files use [Default]).
func ParseAgentFile(raw []byte, path string) (AgentFile, error) {
	f := AgentFile{Path: path, Set: map[string]bool{}}
	bad := func(format string, args ...any) (AgentFile, error) {
		return AgentFile{}, fmt.Errorf("vsphere host file %s: %s", path, fmt.Sprintf(format, args...))
	}
	file, err := ini.LoadSources(ini.LoadOptions{Insensitive: true, AllowBooleanKeys: true,
		IgnoreContinuation: true, IgnoreInlineComment: true}, raw)
	if err != nil {
		return bad("%v", err)
	}
	keys := map[string]string{}
	for _, s := range file.Sections() {
		for _, k := range s.Keys() {
			name := k.Name()
			if !agentKeys[name] {
				return bad("unknown key %q in [%s]", name, s.Name())
			}
			if _, dup := keys[name]; dup {
				return bad("key %q given twice", name)
			}
			keys[name] = strings.TrimSpace(k.Value())
			f.Set[name] = true
		}
	}
	f.Hostname = keys["hostname"]
	if f.Hostname == "" {
		return bad("hostname is missing")
	}
	if strings.ContainsAny(f.Hostname, " \t\r\n/") {
		return bad("hostname %q is not a host name", f.Hostname)
	}
	f.Username, f.Password = keys["username"], keys["password"]
	if v, ok := keys["timeout"]; ok {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || secs <= 0 || secs > 3600 || math.IsNaN(secs) {
			return bad("timeout = %q: want seconds between 0 and 3600", v)
		}
		f.Timeout = time.Duration(secs * float64(time.Second))
	}
	if v, ok := keys["port"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return bad("port = %q: want 1-65535", v)
		}
		f.Port = n
	}
	for key, dst := range map[string]*bool{"insecure": &f.Insecure, "simulator": &f.Simulator} {
		if v, ok := keys[key]; ok {
			b, err := ParseBool(v)
			if err != nil {
				return bad("%s = %q: want true or false", key, v)
			}
			*dst = b
		}
	}
	f.SimulatorModel = keys["simulator_model"]
	if f.SimulatorModel != "" && !f.Simulator {
		return bad("simulator_model is set but simulator is not true")
	}
	f.Thumbprint = keys["thumbprint"]
	if v := keys["ca_file"]; v != "" {
		if !filepath.IsAbs(v) {
			v = filepath.Join(filepath.Dir(path), v)
		}
		f.CAFile = v
	}
	return f, nil
}

// ParseBool accepts the spellings INI files use (Python's configparser
// ones included: yes/no, on/off, 1/0, true/false, any case). A bare key
// (AllowBooleanKeys) reads as "true".
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "yes", "true", "on":
		return true, nil
	case "0", "no", "false", "off":
		return false, nil
	}
	return false, errors.New("not a boolean")
}
