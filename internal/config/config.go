// Package config reads vpoller.conf, the INI file shared by the proxy and
// the worker, and the per-vCenter files of the worker's vsphere_hosts_dir.
// It accepts the original py-vpoller layout ([proxy], [worker], [cache]
// sections; [cache] is accepted and ignored: the worker's property mirror
// and perf sweep answer from memory, a value cache would only add
// staleness) and the older per-daemon files with a [Default] section, so
// existing installations migrate by pointing -f at their file.
//
// Every key of every section is one row of an option.Table, one per
// surface (proxyOptions, workerOptions, mirrorOptions and cacheOptions for
// vpoller.conf, agentOptions for a per-vCenter file), which drives the
// parsing and the option tables of docs/configuration.md. Anything the
// tables do not know is an error naming the file, the
// line and the closest known key ("unknown key frontend_curve_secret_kye in
// [proxy] at line 12; did you mean frontend_curve_secret_key?"), as are
// unknown sections, lines that are not key = value, keys given twice and
// values out of range: a typo must not leave a socket unprotected in
// silence. Values may carry inline comments after a space (" ;" or " #");
// a value that holds one is written in double quotes.
//
// To add a key: add the field (and its default in Default), then one row
// to the table of its section, e.g.
//
//	{Name: "max_memory", Value: atLeast(1<<20, func(p *Proxy) *int { return &p.MaxMemory }),
//		Doc: "memory budget of message data (bytes)"},
//
// then regenerate the docs' tables (go test ./internal/config -run
// DocsOptionTables -update) and, when it must agree with other keys, a test in checkProxy or
// checkWorker.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
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
	// Z85 or hex keys, certificate files, directories of *.key files; "*"
	// accepts any key (encryption without client authentication). The
	// frontend and the backend need it with a CURVE key; a management
	// socket without it accepts its daemon's own key only.
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
	// LogFile, when set, is where the proxy logs instead of stderr
	// (appended; reopened on SIGUSR1, for logrotate).
	LogFile string
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
	// LogFile, when set, is where the worker logs instead of stderr
	// (appended; reopened on SIGUSR1, for logrotate).
	LogFile string
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

// Resolve makes a relative path of the configuration (log_file, db,
// vsphere_hosts_dir) relative to the directory of the file it was read
// from, as the original does; absolute paths, "" and paths of built-in
// defaults are returned as they are.
func (c *Config) Resolve(path string) string {
	if path == "" || filepath.IsAbs(path) || c.Path == "" {
		return path
	}
	return filepath.Join(filepath.Dir(c.Path), path)
}

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

// parse reads INI text over c: every section, key and line must be
// known (see options.go), and the keys must agree with each other.
func (c *Config) parse(raw []byte) error {
	lay, err := parseINI(raw, vpollerConf, c)
	if err != nil {
		return err
	}
	return errors.Join(checkProxy(&c.Proxy, lay), checkWorker(&c.Worker, lay))
}
