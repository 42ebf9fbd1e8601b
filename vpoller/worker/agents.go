package worker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"
	_ "modernc.org/sqlite" // pure-Go driver "sqlite": keeps the binary static

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere"
)

// Agent sources, as in the worker's configuration:
//
//   - db: the original's vconnector SQLite database, read as is: table
//     hosts(host, user, pwd, enabled), rows with enabled = 1.
//   - dir: one INI file per vCenter (*.conf), keys hostname, username,
//     password, timeout (seconds) as in the original article, plus port,
//     ca_file, thumbprint, insecure, simulator, simulator_model.
//
// The original never verified vCenter certificates; we do by default. A
// database row has no place for a TLS policy, so a file in dir with the
// same hostname completes the row: keys it sets (thumbprint, ca_file,
// insecure, port, timeout, and username/password if given) override the
// row's. A hostname defined twice in dir is an error.
//
// A file or database holding a password must not be readable by every
// user (mode & 0o004), and no agent file or database may be writable by
// group or others (mode & 0o022: whoever can write it can point the
// worker at another server or turn TLS verification off): both are
// refused with an error naming the chmod.

// agentFile is one parsed per-vCenter file; set records which keys it
// gave, so a file can override a database row key by key.
type agentFile struct {
	path string
	cfg  vsphere.AgentConfig
	set  map[string]bool
}

// agentKeys are the keys a per-vCenter file may hold.
var agentKeys = map[string]bool{"hostname": true, "username": true, "password": true, "timeout": true,
	"port": true, "ca_file": true, "thumbprint": true, "insecure": true, "simulator": true, "simulator_model": true}

// LoadAgents reads the agents of db and dir ("" skips a source) and
// returns them sorted by name. It does no vSphere network work.
func LoadAgents(ctx context.Context, db, dir string) ([]vsphere.AgentConfig, error) {
	byName := map[string]vsphere.AgentConfig{}
	if db != "" {
		rows, err := readVconnectorDB(ctx, db)
		if err != nil {
			return nil, err
		}
		for _, a := range rows {
			byName[a.Name] = a
		}
	}
	if dir != "" {
		files, err := readAgentDir(dir)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if row, ok := byName[f.cfg.Name]; ok {
				byName[f.cfg.Name] = f.over(row)
			} else {
				byName[f.cfg.Name] = f.cfg
			}
		}
	}
	out := make([]vsphere.AgentConfig, 0, len(byName))
	for _, a := range byName {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// over applies the keys the file set to a database row.
func (f agentFile) over(row vsphere.AgentConfig) vsphere.AgentConfig {
	c := f.cfg
	if !f.set["username"] {
		c.Username = row.Username
	}
	if !f.set["password"] {
		c.Password = row.Password
	}
	return c
}

// checkPrivate refuses a file group or others can write and, when it
// holds passwords, a file every user can read.
func checkPrivate(path, what string, secrets bool) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s %s is writable by group or others (mode %04o): whoever can write it chooses the vCenter and its TLS policy; run chmod go-w %s",
			what, path, st.Mode().Perm(), path)
	}
	if secrets && st.Mode().Perm()&0o004 != 0 {
		return fmt.Errorf("%s %s holds passwords and is readable by every user (mode %04o): run chmod o-rwx %s",
			what, path, st.Mode().Perm(), path)
	}
	return nil
}

// readVconnectorDB returns the enabled rows of the vconnector database,
// opened read-only: the worker never changes it (vconnector-cli does).
func readVconnectorDB(ctx context.Context, path string) ([]vsphere.AgentConfig, error) {
	if err := checkPrivate(path, "vconnector database", true); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("vconnector database %s: %w", path, err)
	}
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&_pragma=busy_timeout(5000)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("vconnector database %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT host, user, pwd, enabled FROM hosts ORDER BY host")
	if err != nil {
		return nil, fmt.Errorf("vconnector database %s: %w", path, err)
	}
	defer rows.Close()
	var out []vsphere.AgentConfig
	for rows.Next() {
		var host, user, pwd sql.NullString
		var enabled sql.NullInt64
		if err := rows.Scan(&host, &user, &pwd, &enabled); err != nil {
			return nil, fmt.Errorf("vconnector database %s: %w", path, err)
		}
		host.String = strings.TrimSpace(host.String)
		if !enabled.Valid || enabled.Int64 != 1 || host.String == "" {
			continue
		}
		out = append(out, vsphere.AgentConfig{Name: host.String, Username: user.String, Password: pwd.String})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("vconnector database %s: %w", path, err)
	}
	return out, nil
}

// readAgentDir parses every *.conf file of dir, in name order.
func readAgentDir(dir string) ([]agentFile, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		return nil, fmt.Errorf("vsphere_hosts_dir %s: %w", dir, err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("vsphere_hosts_dir: %w", err)
	}
	sort.Strings(paths)
	seen := map[string]string{}
	var out []agentFile
	for _, p := range paths {
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			continue
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("vsphere host file: %w", err)
		}
		f, err := parseAgentFile(raw, p)
		if err != nil {
			return nil, err
		}
		if err := checkPrivate(p, "vsphere host file", f.cfg.Password != ""); err != nil {
			return nil, err
		}
		if prev, dup := seen[f.cfg.Name]; dup {
			return nil, fmt.Errorf("vsphere host %s is defined in %s and in %s", f.cfg.Name, prev, p)
		}
		seen[f.cfg.Name] = p
		out = append(out, f)
	}
	return out, nil
}

// parseAgentFile reads one per-vCenter INI file. Keys may stand at the
// top or in one section (the article's files use [Default]); a relative
// ca_file is resolved against the file's directory.
func parseAgentFile(raw []byte, path string) (agentFile, error) {
	f := agentFile{path: path, set: map[string]bool{}}
	bad := func(format string, args ...any) (agentFile, error) {
		return agentFile{}, fmt.Errorf("vsphere host file %s: %s", path, fmt.Sprintf(format, args...))
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
			f.set[name] = true
		}
	}
	c := &f.cfg
	c.Name = keys["hostname"]
	if c.Name == "" {
		return bad("hostname is missing")
	}
	if strings.ContainsAny(c.Name, " \t\r\n/") {
		return bad("hostname %q is not a host name", c.Name)
	}
	c.Username, c.Password = keys["username"], keys["password"]
	if v, ok := keys["timeout"]; ok {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || secs <= 0 || secs > 3600 || math.IsNaN(secs) {
			return bad("timeout = %q: want seconds between 0 and 3600", v)
		}
		c.Timeout = time.Duration(secs * float64(time.Second))
	}
	if v, ok := keys["port"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return bad("port = %q: want 1-65535", v)
		}
		c.Port = n
	}
	boolean := func(key string) (bool, error) {
		v, ok := keys[key]
		if !ok {
			return false, nil
		}
		b, err := parseBool(v)
		if err != nil {
			return false, fmt.Errorf("%s = %q: want true or false", key, v)
		}
		return b, nil
	}
	if c.Insecure, err = boolean("insecure"); err != nil {
		return bad("%v", err)
	}
	if c.Simulator, err = boolean("simulator"); err != nil {
		return bad("%v", err)
	}
	c.SimulatorModel = keys["simulator_model"]
	if c.SimulatorModel != "" && !c.Simulator {
		return bad("simulator_model is set but simulator is not true")
	}
	if v := keys["thumbprint"]; v != "" {
		tp, err := vsphere.ParseThumbprint(v)
		if err != nil {
			return bad("%v", err)
		}
		c.Thumbprint = tp
	}
	if v := keys["ca_file"]; v != "" {
		if !filepath.IsAbs(v) {
			v = filepath.Join(filepath.Dir(path), v)
		}
		c.CAFile = v
	}
	return f, nil
}

// parseBool accepts the spellings INI files use (Python's configparser
// ones included: yes/no, on/off, 1/0, true/false, any case). A bare key
// (AllowBooleanKeys) reads as "true".
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "yes", "true", "on":
		return true, nil
	case "0", "no", "false", "off":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// resolve makes path relative to base's directory when it is relative.
func resolve(base, path string) string {
	if path == "" || filepath.IsAbs(path) || base == "" {
		return path
	}
	return filepath.Join(filepath.Dir(base), path)
}
