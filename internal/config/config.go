// Package config reads vpoller.conf, the INI file shared by the proxy and
// the worker. It accepts the original py-vpoller layout ([proxy], [worker],
// [cache] sections) and the older per-daemon files with a [Default]
// section, so existing installations migrate by pointing -f at their file.
package config

import (
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// DefaultPath is where the original installs its configuration.
const DefaultPath = "/etc/vpoller/vpoller.conf"

// Proxy is the [proxy] section.
type Proxy struct {
	Frontend string // clients connect here (REQ/DEALER)
	Backend  string // workers connect here (DEALER)
	Mgmt     string // management REP socket
	// MaxRequestBytes bounds a client frame; larger ones get an error reply
	// without reaching a worker.
	MaxRequestBytes int
}

// Worker is the [worker] section.
type Worker struct {
	Proxy           string   // the proxy's backend endpoint
	Mgmt            string   // management REP socket
	DB              string   // vconnector SQLite database of vSphere agents ("" = none)
	VSphereHostsDir string   // directory of per-vCenter INI files ("" = none)
	Helpers         []string // result helpers to offer (names as in the original)
	Tasks           []string // task modules (kept for status compatibility only)
	Concurrency     int      // requests handled at once
	Mirror          Mirror   // vSphere property mirror and perf sweep (mirror.go)
}

// Cache is the [cache] section of the original; the TTL caps our short
// value cache.
type Cache struct {
	Enabled      bool
	MaxSize      int
	TTL          time.Duration
	Housekeeping time.Duration
}

// Config is the whole file.
type Config struct {
	Path   string // file it was read from ("" for defaults)
	Proxy  Proxy
	Worker Worker
	Cache  Cache
}

// Default returns the built-in configuration. Unlike the original, which
// bound every interface (tcp://*:...), sockets bind loopback by default:
// exposing the proxy is a decision the administrator makes in the file.
func Default() *Config {
	return &Config{
		Proxy: Proxy{
			Frontend:        "tcp://127.0.0.1:10123",
			Backend:         "tcp://127.0.0.1:10124",
			Mgmt:            "tcp://127.0.0.1:9999",
			MaxRequestBytes: 1 << 20,
		},
		Worker: Worker{
			Proxy:       "tcp://127.0.0.1:10124",
			Mgmt:        "tcp://127.0.0.1:10000",
			DB:          "",
			Helpers:     []string{"vpoller.helpers.zabbix", "vpoller.helpers.czabbix", "vpoller.helpers.cclient", "vpoller.helpers.csvhelper"},
			Tasks:       []string{"vpoller.vsphere.tasks"},
			Concurrency: 16,
			Mirror:      defaultMirror(),
		},
		Cache: Cache{Enabled: false, MaxSize: 0, TTL: 0, Housekeeping: 0},
	}
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
	if s, err := f.GetSection("cache"); err == nil {
		if err := c.readCache(s); err != nil {
			return err
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
	return integer(s, "max_request_bytes", 1024, &c.Proxy.MaxRequestBytes)
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
	return integer(s, "concurrency", 1, &c.Worker.Concurrency)
}

func (c *Config) readCache(s *ini.Section) error {
	if s.HasKey("enabled") {
		b, err := s.Key("enabled").Bool()
		if err != nil {
			return fmt.Errorf("[cache] enabled = %q: want true or false", s.Key("enabled").String())
		}
		c.Cache.Enabled = b
	}
	if err := integer(s, "maxsize", 0, &c.Cache.MaxSize); err != nil {
		return err
	}
	var ttl, hk int
	if err := integer(s, "ttl", 0, &ttl); err != nil {
		return err
	}
	if err := integer(s, "housekeeping", 0, &hk); err != nil {
		return err
	}
	if s.HasKey("ttl") {
		c.Cache.TTL = time.Duration(ttl) * time.Second
	}
	if s.HasKey("housekeeping") {
		c.Cache.Housekeeping = time.Duration(hk) * time.Minute
	}
	return nil
}
