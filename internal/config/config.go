// Package config reads vpoller.conf, the INI file shared by the proxy and
// the worker. It accepts the original py-vpoller layout ([proxy], [worker],
// [cache] sections; [cache] is accepted and ignored: the worker's property
// mirror and perf sweep answer from memory, a value cache would only add
// staleness) and the older per-daemon files with a [Default]
// section, so existing installations migrate by pointing -f at their file.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// DefaultPath is where the original installs its configuration.
const DefaultPath = "/etc/vpoller/vpoller.conf"

// Security is how one socket authenticates its peers. All empty: NULL
// (no authentication), what the original Python vPoller speaks.
type Security struct {
	// CurveSecretKey is the path of this end's CURVE secret certificate
	// (NAME.key_secret from `keygen`); set, the socket speaks CURVE.
	CurveSecretKey string
	// CurveAllow lists the peers' public keys a CURVE server accepts:
	// Z85 keys, certificate files, directories of *.key files. Empty
	// accepts any key (encryption without authentication).
	CurveAllow string
	// SecretFile (management sockets only) holds a shared secret that
	// clients present with ZMTP PLAIN; for loopback tcp management.
	SecretFile string
}

// Enabled reports whether any authentication is configured.
func (s Security) Enabled() bool { return s.CurveSecretKey != "" || s.SecretFile != "" }

// Proxy is the [proxy] section.
type Proxy struct {
	Frontend string // clients connect here (REQ/DEALER)
	Backend  string // workers connect here (DEALER)
	Mgmt     string // management socket
	// MaxRequestBytes bounds a client message; larger ones (up to 64 MiB)
	// get an error reply without reaching a worker, still larger ones
	// close the connection.
	MaxRequestBytes int
	// MaxReplyBytes bounds a worker's reply message; a larger one is
	// thrown away and its client told so.
	MaxReplyBytes int
	// MaxClients and MaxWorkers cap the connections of the frontend and
	// the backend.
	MaxClients, MaxWorkers int
	// MaxHeldRequests and MaxHeldBytes cap the requests kept while no
	// worker can take them; beyond, requests are refused at once.
	MaxHeldRequests, MaxHeldBytes int
	// ClientIdleTimeout closes a client connection with nothing in flight
	// that sent nothing for that long.
	ClientIdleTimeout time.Duration
	// MaxInflightPerWorker caps the requests one worker connection owes
	// (our workers announce a smaller queue of their own).
	MaxInflightPerWorker int
	// SpillWait is how long a request waits for its vCenter's owner to
	// have room before the next worker in the vCenter's ranking takes it:
	// a burst the owner clears in time stays with it.
	SpillWait time.Duration
	// Standby makes the second-ranked worker of each vCenter keep its
	// mirror current, so that a takeover is warm (WaitForUpdatesEx only).
	Standby bool
	// MaxMemory is the proxy's memory budget for message data: frames
	// being read, requests held or in flight, replies queued.
	MaxMemory int
	// MaxHandshakes and MaxHandshakesPerSource cap the handshakes in
	// progress on each listener, apart from established connections.
	MaxHandshakes, MaxHandshakesPerSource int
	// WorkerHeartbeat is how often the proxy PINGs each worker;
	// WorkerTimeout drops a worker silent that long (its requests go to
	// another), when it has answered PINGs before.
	WorkerHeartbeat, WorkerTimeout time.Duration
	// Per-socket security.
	FrontendSecurity, BackendSecurity, MgmtSecurity Security
	// MetricsListen (host:port) serves Prometheus metrics on /metrics;
	// empty (the default) serves none.
	MetricsListen string
}

// Worker is the [worker] section.
type Worker struct {
	Proxy string // the proxies' backend endpoints, comma-separated
	// ID names the worker to every proxy (the rendezvous hashing that
	// chooses each vCenter's owner); "" means the host name and the
	// management endpoint.
	ID string
	// Queue is how many requests the worker accepts ahead of its
	// concurrency (0: 4 x Concurrency); it tells the proxies.
	Queue int
	// ReleaseAfter is how long a vCenter's mirror and sweep are kept
	// after no proxy names this worker its owner or standby.
	ReleaseAfter    time.Duration
	Mgmt            string   // management socket
	DB              string   // vconnector SQLite database of vSphere agents ("" = none)
	VSphereHostsDir string   // directory of per-vCenter INI files ("" = none)
	Helpers         []string // result helpers to offer (names as in the original)
	Tasks           []string // task modules (kept for status compatibility only)
	Concurrency     int      // requests handled at once
	// AgentConcurrency caps the requests of one vSphere agent in flight
	// (a bulkhead, so a stalled vCenter cannot take every slot). 0: half
	// of Concurrency when several agents are configured, else all of it.
	AgentConcurrency int
	// BreakerFailures consecutive failures to reach an agent (timeouts,
	// refused connections, failed logins) open its circuit: its requests
	// then fail at once until a probe after BreakerCooldown succeeds.
	BreakerFailures int
	BreakerCooldown time.Duration
	// MaxReplyBytes bounds a reply; a larger result is replaced by an
	// error reply (keep it at or below the proxy's max_reply_bytes).
	MaxReplyBytes int
	// ProxyCurveServerKey is the proxy backend's CURVE public key (Z85 or
	// a certificate file) and ProxyCurveSecretKey this worker's secret
	// certificate: both set, the worker connects with CURVE.
	ProxyCurveServerKey, ProxyCurveSecretKey string
	// MgmtSecurity secures the management socket.
	MgmtSecurity Security
	// MetricsListen (host:port) serves Prometheus metrics on /metrics;
	// empty (the default) serves none.
	MetricsListen string
	Mirror        Mirror // vSphere property mirror and perf sweep (mirror.go)
}

// Config is the whole file.
type Config struct {
	Path   string // file it was read from ("" for defaults)
	Proxy  Proxy
	Worker Worker
}

// Default management sockets: files only the daemon's user (and root) can
// connect to, in the runtime directory systemd creates for the units.
const (
	DefaultProxyMgmt  = "ipc:///run/vpoller/proxy-mgmt.sock"
	DefaultWorkerMgmt = "ipc:///run/vpoller/worker-mgmt.sock"
)

// Default returns the built-in configuration. Unlike the original, which
// bound every interface (tcp://*:...), sockets bind loopback by default:
// exposing the proxy is a decision the administrator makes in the file.
// Management sockets are ipc (mode 0600) by default: over tcp anyone who
// can connect could stop the daemon.
func Default() *Config {
	return &Config{
		Proxy: Proxy{
			Frontend:             "tcp://127.0.0.1:10123",
			Backend:              "tcp://127.0.0.1:10124",
			Mgmt:                 DefaultProxyMgmt,
			MaxRequestBytes:      1 << 20,
			MaxReplyBytes:        64 << 20,
			MaxClients:           1024,
			MaxWorkers:           256,
			MaxHeldRequests:      10000,
			MaxHeldBytes:         32 << 20,
			ClientIdleTimeout:    5 * time.Minute,
			MaxInflightPerWorker: 1000,
			SpillWait:            time.Second,
			MaxMemory:            256 << 20,
			WorkerHeartbeat:      time.Second,
			WorkerTimeout:        5 * time.Second,
		},
		Worker: Worker{
			Proxy:           "tcp://127.0.0.1:10124",
			Mgmt:            DefaultWorkerMgmt,
			BreakerFailures: 3,
			BreakerCooldown: 30 * time.Second,
			MaxReplyBytes:   64 << 20,
			ReleaseAfter:    5 * time.Minute,
			DB:              "",
			Helpers:         []string{"vpoller.helpers.zabbix", "vpoller.helpers.czabbix", "vpoller.helpers.cclient", "vpoller.helpers.csvhelper"},
			Tasks:           []string{"vpoller.vsphere.tasks"},
			Concurrency:     16,
			Mirror:          defaultMirror(),
		},
	}
}

// LoadOrDefault is the one rule both daemons follow for their -f flag: an
// explicitly named file must exist; with no file named (""), DefaultPath is
// read when it exists, else the built-in defaults apply. defaulted tells
// the caller to say so.
func LoadOrDefault(path string) (cfg *Config, defaulted bool, err error) {
	return loadOrDefault(path, DefaultPath)
}

func loadOrDefault(path, defaultPath string) (cfg *Config, defaulted bool, err error) {
	if path != "" {
		cfg, err = Load(path)
		return cfg, false, err
	}
	if _, err := os.Stat(defaultPath); err == nil {
		cfg, err = Load(defaultPath)
		return cfg, false, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("config %s: %w", defaultPath, err)
	}
	cfg, err = Load("")
	return cfg, true, err
}

// Load reads path over the defaults. An empty path returns the defaults.
func Load(path string) (*Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if err := cfg.parse(raw); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.Path = path
	return cfg, nil
}

// Parse reads INI text over the defaults (for tests and fuzzing).
func Parse(raw []byte) (*Config, error) {
	cfg := Default()
	if err := cfg.parse(raw); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (c *Config) parse(raw []byte) error {
	f, err := ini.LoadSources(ini.LoadOptions{Insensitive: true, AllowBooleanKeys: true}, raw)
	if err != nil {
		return fmt.Errorf("parse INI: %w", err)
	}
	// [Default] of the older per-daemon files first, so that the named
	// sections win when both are present.
	for _, name := range []string{"default", ini.DefaultSection, "proxy"} {
		if s, err := f.GetSection(name); err == nil {
			if err := c.readProxy(s); err != nil {
				return err
			}
		}
	}
	for _, name := range []string{"default", ini.DefaultSection, "worker"} {
		if s, err := f.GetSection(name); err == nil {
			if err := c.readWorker(s); err != nil {
				return err
			}
			if err := c.readMirror(s); err != nil {
				return err
			}
		}
	}
	return nil
}

func str(s *ini.Section, key string, dst *string) {
	if s.HasKey(key) {
		*dst = strings.TrimSpace(s.Key(key).String())
	}
}

func list(s *ini.Section, key string, dst *[]string) {
	if !s.HasKey(key) {
		return
	}
	var out []string
	for _, p := range strings.Split(s.Key(key).String(), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	*dst = out
}

func integer(s *ini.Section, key string, min int, dst *int) error {
	if !s.HasKey(key) {
		return nil
	}
	n, err := s.Key(key).Int()
	if err != nil || n < min {
		return fmt.Errorf("[%s] %s = %q: want a whole number >= %d", s.Name(), key, s.Key(key).String(), min)
	}
	*dst = n
	return nil
}

func (c *Config) readProxy(s *ini.Section) error {
	str(s, "frontend", &c.Proxy.Frontend)
	str(s, "backend", &c.Proxy.Backend)
	if s.Name() == "proxy" || !s.HasKey("proxy") {
		// In a [Default] section shared with worker keys, "mgmt" is
		// ambiguous; the per-daemon files only hold one daemon's keys.
		str(s, "mgmt", &c.Proxy.Mgmt)
	}
	for _, k := range []struct {
		key string
		min int
		dst *int
	}{
		{"max_request_bytes", 1024, &c.Proxy.MaxRequestBytes},
		{"max_reply_bytes", 1024, &c.Proxy.MaxReplyBytes},
		{"max_clients", 1, &c.Proxy.MaxClients},
		{"max_workers", 1, &c.Proxy.MaxWorkers},
		{"max_held_requests", 1, &c.Proxy.MaxHeldRequests},
		{"max_held_bytes", 1, &c.Proxy.MaxHeldBytes},
		{"max_inflight_per_worker", 1, &c.Proxy.MaxInflightPerWorker},
		{"max_memory", 1 << 20, &c.Proxy.MaxMemory},
		{"max_handshakes", 1, &c.Proxy.MaxHandshakes},
		{"max_handshakes_per_source", 1, &c.Proxy.MaxHandshakesPerSource},
	} {
		if err := integer(s, k.key, k.min, k.dst); err != nil {
			return err
		}
	}
	if err := seconds(s, "client_idle_timeout", &c.Proxy.ClientIdleTimeout); err != nil {
		return err
	}
	if err := boolean(s, "standby", &c.Proxy.Standby); err != nil {
		return err
	}
	for key, dst := range map[string]*time.Duration{"spill_wait": &c.Proxy.SpillWait,
		"worker_heartbeat": &c.Proxy.WorkerHeartbeat, "worker_timeout": &c.Proxy.WorkerTimeout} {
		if !s.HasKey(key) {
			continue
		}
		d, err := ParseSeconds(s.Key(key).String())
		if err != nil {
			return fmt.Errorf("[%s] %s: %w", s.Name(), key, err)
		}
		*dst = d
	}
	if c.Proxy.WorkerTimeout <= c.Proxy.WorkerHeartbeat {
		return fmt.Errorf("[%s] worker_timeout = %v must exceed worker_heartbeat = %v", s.Name(), c.Proxy.WorkerTimeout, c.Proxy.WorkerHeartbeat)
	}
	security(s, "frontend_", &c.Proxy.FrontendSecurity)
	security(s, "backend_", &c.Proxy.BackendSecurity)
	if s.Name() == "proxy" || !s.HasKey("proxy") {
		security(s, "mgmt_", &c.Proxy.MgmtSecurity)
		if err := hostPort(s, "metrics_listen", &c.Proxy.MetricsListen); err != nil {
			return err
		}
	}
	return nil
}

// security reads the <prefix>curve_secret_key, <prefix>curve_allow and
// <prefix>secret_file keys of one socket.
func security(s *ini.Section, prefix string, dst *Security) {
	str(s, prefix+"curve_secret_key", &dst.CurveSecretKey)
	str(s, prefix+"curve_allow", &dst.CurveAllow)
	str(s, prefix+"secret_file", &dst.SecretFile)
}

// hostPort reads a host:port to listen on ("" allowed: off).
func hostPort(s *ini.Section, key string, dst *string) error {
	if !s.HasKey(key) {
		return nil
	}
	v := strings.TrimSpace(s.Key(key).String())
	if v != "" {
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			return fmt.Errorf("[%s] %s = %q: want host:port, e.g. 127.0.0.1:9110", s.Name(), key, v)
		}
	}
	*dst = v
	return nil
}

// boolean reads 0/1, true/false, yes/no, on/off.
func boolean(s *ini.Section, key string, dst *bool) error {
	if !s.HasKey(key) {
		return nil
	}
	v, err := s.Key(key).Bool()
	if err != nil {
		return fmt.Errorf("[%s] %s = %q: want 0 or 1 (or true/false)", s.Name(), key, s.Key(key).String())
	}
	*dst = v
	return nil
}

// seconds reads a whole number of seconds (0 allowed: off).
func seconds(s *ini.Section, key string, dst *time.Duration) error {
	var n int
	if err := integer(s, key, 0, &n); err != nil {
		return err
	}
	if s.HasKey(key) {
		*dst = time.Duration(n) * time.Second
	}
	return nil
}

func (c *Config) readWorker(s *ini.Section) error {
	str(s, "proxy", &c.Worker.Proxy)
	if s.Name() == "worker" || s.HasKey("proxy") {
		str(s, "mgmt", &c.Worker.Mgmt)
	}
	str(s, "db", &c.Worker.DB)
	str(s, "vsphere_hosts_dir", &c.Worker.VSphereHostsDir)
	list(s, "helpers", &c.Worker.Helpers)
	list(s, "tasks", &c.Worker.Tasks)
	str(s, "proxy_curve_server_key", &c.Worker.ProxyCurveServerKey)
	str(s, "proxy_curve_secret_key", &c.Worker.ProxyCurveSecretKey)
	if s.Name() == "worker" || s.HasKey("proxy") {
		security(s, "mgmt_", &c.Worker.MgmtSecurity)
		if err := hostPort(s, "metrics_listen", &c.Worker.MetricsListen); err != nil {
			return err
		}
	}
	for _, k := range []struct {
		key string
		min int
		dst *int
	}{
		{"concurrency", 1, &c.Worker.Concurrency},
		{"agent_concurrency", 0, &c.Worker.AgentConcurrency},
		{"breaker_failures", 1, &c.Worker.BreakerFailures},
		{"max_reply_bytes", 1024, &c.Worker.MaxReplyBytes},
		{"queue", 0, &c.Worker.Queue},
	} {
		if err := integer(s, k.key, k.min, k.dst); err != nil {
			return err
		}
	}
	if s.Name() == "worker" {
		str(s, "id", &c.Worker.ID)
	}
	if err := seconds(s, "release_after", &c.Worker.ReleaseAfter); err != nil {
		return err
	}
	return seconds(s, "breaker_cooldown", &c.Worker.BreakerCooldown)
}
