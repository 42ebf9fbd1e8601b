package worker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"

	_ "modernc.org/sqlite" // pure-Go driver "sqlite": keeps the binary static

	"github.com/vpoller/zabbix-vpoller/internal/config"
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

// LoadAgents reads the agents of db and dir ("" skips a source) and
// returns them sorted by name. It does no vSphere network work. A *.conf
// entry of dir that cannot be read as a file is logged and skipped, so
// that the other vCenters load: at ERROR, naming the file and the chown
// and chmod that fix it, when the worker's user may not read it; at WARN
// for what is not a file at all (a dangling symbolic link, a directory).
// A file that reads but is wrong (unknown keys, unsafe mode) stops the
// worker.
func LoadAgents(ctx context.Context, db, dir string, log *slog.Logger) ([]vsphere.AgentConfig, error) {
	set, err := loadAgents(ctx, db, dir, log, false)
	return set.agents, err
}

// agentSet is what one reading of the agent sources found.
type agentSet struct {
	agents []vsphere.AgentConfig // sorted by name
	// files maps each per-vCenter file read to the agent it defines.
	files map[string]string
	// bad are the files that could not be used: unreadable ones, and on
	// a reload (lenient) the ones that are wrong too.
	bad []badFile
}

// unavailable names the vCenters of the files the worker may not read,
// by the file name (<hostname>.conf, as the example file says to name
// them; the hostname inside cannot be read), with the error and its fix.
// Names a readable file serves are left out. Not announced to the
// proxies: a worker that cannot read a vCenter's file must not take it
// from one that can.
func (s agentSet) unavailable() map[string]string {
	served := map[string]bool{}
	for _, a := range s.agents {
		served[a.Name] = true
	}
	out := map[string]string{}
	for _, b := range s.bad {
		name := strings.TrimSuffix(filepath.Base(b.path), ".conf")
		if !b.unreadable || served[name] || name == "" {
			continue
		}
		out[name] = fmt.Sprintf("vCenter %s is not served by this worker: %v", name, b.err)
	}
	return out
}

// badFile is a per-vCenter file that could not be used, and why.
type badFile struct {
	path string
	err  error
	// unreadable: the worker's user may not read it (the fix is chown).
	unreadable bool
}

// loadAgents reads the agent sources. A broken database or directory is
// an error; a wrong file is one too unless lenient (a reload keeps the
// vCenter's previous definition instead: see Daemon.Reload), when it is
// listed in bad with the unreadable ones.
func loadAgents(ctx context.Context, db, dir string, log *slog.Logger, lenient bool) (agentSet, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	set := agentSet{files: map[string]string{}}
	byName := map[string]vsphere.AgentConfig{}
	if db != "" {
		rows, err := readVconnectorDB(ctx, db)
		if err != nil {
			return set, err
		}
		for _, a := range rows {
			byName[a.Name] = a
		}
	}
	if dir != "" {
		files, bad, err := readAgentDir(dir, log, lenient)
		if err != nil {
			return set, err
		}
		set.bad = bad
		for _, f := range files {
			set.files[f.path] = f.cfg.Name
			if row, ok := byName[f.cfg.Name]; ok {
				byName[f.cfg.Name] = f.over(row)
			} else {
				byName[f.cfg.Name] = f.cfg
			}
		}
	}
	set.agents = make([]vsphere.AgentConfig, 0, len(byName))
	for _, a := range byName {
		set.agents = append(set.agents, a)
	}
	sort.Slice(set.agents, func(i, j int) bool { return set.agents[i].Name < set.agents[j].Name })
	return set, nil
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

// readAgentDir parses every *.conf file of dir, in name order; entries
// that cannot be read are logged and skipped (see LoadAgents), and
// returned in bad when the worker's user may not read them. A wrong file
// is an error, or when lenient one more entry of bad.
func readAgentDir(dir string, log *slog.Logger, lenient bool) (out []agentFile, bad []badFile, err error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		return nil, nil, fmt.Errorf("vsphere_hosts_dir %s: %w", dir, err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("vsphere_hosts_dir: %w", err)
	}
	sort.Strings(paths)
	seen := map[string]string{}
	for _, p := range paths {
		raw, why, err := readAgentEntry(p)
		if why != "" {
			if errors.Is(err, fs.ErrPermission) {
				fix := permissionFix(p)
				log.Error("vsphere host file cannot be read: "+fix+"; the other vCenters load", "file", p, "err", err)
				bad = append(bad, badFile{path: p, err: fmt.Errorf("vsphere host file %s cannot be read (%w): %s", p, err, fix), unreadable: true})
				continue
			}
			log.Warn("vsphere host file skipped: "+why+"; the other vCenters load", "file", p, "err", err)
			continue
		}
		f, err := parseAgentFile(raw, p)
		if err == nil {
			err = checkPrivate(p, "vsphere host file", f.cfg.Password != "")
		}
		if prev, dup := seen[f.cfg.Name]; err == nil && dup {
			err = fmt.Errorf("vsphere host %s is defined in %s and in %s", f.cfg.Name, prev, p)
		}
		if err != nil {
			if !lenient {
				return nil, nil, err
			}
			bad = append(bad, badFile{path: p, err: err})
			continue
		}
		seen[f.cfg.Name] = p
		out = append(out, f)
	}
	return out, bad, nil
}

// permissionFix says how to let the worker read a per-vCenter file:
// owned by the worker's user, private (it may hold a password).
func permissionFix(path string) string {
	owner := "vpoller"
	if u, err := user.Current(); err == nil && u.Username != "" {
		owner = u.Username
	}
	return fmt.Sprintf("the worker runs as user %s and may not read it; run chown %s: %s && chmod 0600 %s", owner, owner, path, path)
}

// readAgentEntry reads one *.conf entry of the directory, or says why it
// cannot (why != ""): not a file, or not readable by the worker.
func readAgentEntry(p string) (raw []byte, why string, err error) {
	st, err := os.Stat(p) // follows a symbolic link
	switch {
	case err != nil && errors.Is(err, fs.ErrNotExist):
		if target, lerr := os.Readlink(p); lerr == nil {
			return nil, "a symbolic link to " + target + ", which does not exist", err
		}
		return nil, "it went away while the directory was read", err
	case err != nil:
		return nil, "cannot look at it", err
	case st.IsDir():
		return nil, "a directory, not a file", nil
	case !st.Mode().IsRegular():
		return nil, "not a regular file (" + st.Mode().Type().String() + ")", nil
	}
	raw, err = os.ReadFile(p)
	if err != nil {
		return nil, "cannot read it (check its owner and mode: the worker's user must read it)", err
	}
	return raw, "", nil
}

// parseAgentFile reads one per-vCenter file (internal/config parses it)
// into an agent configuration; the thumbprint is validated here.
func parseAgentFile(raw []byte, path string) (agentFile, error) {
	cf, err := config.ParseAgentFile(raw, path)
	if err != nil {
		return agentFile{}, err
	}
	f := agentFile{path: path, set: cf.Set, cfg: vsphere.AgentConfig{
		Name: cf.Hostname, Username: cf.Username, Password: cf.Password, Timeout: cf.Timeout, Port: cf.Port, LoginBackoff: cf.LoginBackoff,
		CAFile: cf.CAFile, Insecure: cf.Insecure, Simulator: cf.Simulator, SimulatorModel: cf.SimulatorModel,
	}}
	if cf.Thumbprint != "" {
		tp, err := vsphere.ParseThumbprint(cf.Thumbprint)
		if err != nil {
			return agentFile{}, fmt.Errorf("vsphere host file %s: %w", path, err)
		}
		f.cfg.Thumbprint = tp
	}
	return f, nil
}
