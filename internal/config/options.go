package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// The option tables of vpoller.conf: one row per key. Adding a key is one
// row in proxyOptions or workerOptions (and the field it fills in Proxy
// or Worker, with its default in Default), for example
//
//	{key: "max_memory", set: atLeast(1<<20, func(p *Proxy) *int { return &p.MaxMemory })},
//
// The setters below (text, atLeast, wholeSeconds, duration, boolean,
// list, hostPort) cover the kinds of values the file has; a setter
// returns "want ..." and the parser adds the file, line, section, key and
// value. Checks that involve several keys go in checkProxy or checkWorker
// (mirror.go for the mirror's). A key both daemons have (mgmt, ...) is
// perDaemon: see option.

func text[S any](field func(*S) *string) func(*S, string) error {
	return func(s *S, v string) error {
		*field(s) = strings.TrimSpace(v)
		return nil
	}
}

// atLeast reads a whole number (base 10, as Python's int does) of at
// least min.
func atLeast[S any](min int, field func(*S) *int) func(*S, string) error {
	return func(s *S, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < min {
			return fmt.Errorf("want a whole number >= %d", min)
		}
		*field(s) = n
		return nil
	}
}

// wholeSeconds reads a whole number of seconds, 0 (off) allowed.
func wholeSeconds[S any](field func(*S) *time.Duration) func(*S, string) error {
	return func(s *S, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > int(7*24*time.Hour/time.Second) {
			return errors.New("want whole seconds from 0 to 604800")
		}
		*field(s) = time.Duration(n) * time.Second
		return nil
	}
}

// duration reads seconds or a Go duration (ParseSeconds).
func duration[S any](field func(*S) *time.Duration) func(*S, string) error {
	return func(s *S, v string) error {
		d, err := parseSeconds(v)
		if err != nil {
			return err
		}
		*field(s) = d
		return nil
	}
}

func boolean[S any](field func(*S) *bool) func(*S, string) error {
	return func(s *S, v string) error {
		b, err := ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		*field(s) = b
		return nil
	}
}

// list reads comma-separated names.
func list[S any](field func(*S) *[]string) func(*S, string) error {
	return func(s *S, v string) error {
		var out []string
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		*field(s) = out
		return nil
	}
}

// hostPort reads a host:port to listen on ("" allowed: off).
func hostPort[S any](field func(*S) *string) func(*S, string) error {
	return func(s *S, v string) error {
		v = strings.TrimSpace(v)
		if v != "" {
			if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
				return errors.New("want host:port, e.g. 127.0.0.1:9110")
			}
		}
		*field(s) = v
		return nil
	}
}

// ignored accepts any value: the original's [cache] keys.
func ignored[S any](*S, string) error { return nil }

// proxyOptions are the keys of [proxy].
var proxyOptions = []option[Proxy]{
	{key: "frontend", set: text(func(p *Proxy) *string { return &p.Frontend })},
	{key: "backend", set: text(func(p *Proxy) *string { return &p.Backend })},
	{key: "mgmt", perDaemon: true, set: text(func(p *Proxy) *string { return &p.Mgmt })},
	{key: "max_request_bytes", set: atLeast(1024, func(p *Proxy) *int { return &p.MaxRequestBytes })},
	{key: "max_reply_bytes", set: atLeast(1024, func(p *Proxy) *int { return &p.MaxReplyBytes })},
	{key: "max_clients", set: atLeast(1, func(p *Proxy) *int { return &p.MaxClients })},
	{key: "max_workers", set: atLeast(1, func(p *Proxy) *int { return &p.MaxWorkers })},
	{key: "max_held_requests", set: atLeast(1, func(p *Proxy) *int { return &p.MaxHeldRequests })},
	{key: "max_held_bytes", set: atLeast(1, func(p *Proxy) *int { return &p.MaxHeldBytes })},
	{key: "client_idle_timeout", set: wholeSeconds(func(p *Proxy) *time.Duration { return &p.ClientIdleTimeout })},
	{key: "max_inflight_per_worker", set: atLeast(1, func(p *Proxy) *int { return &p.MaxInflightPerWorker })},
	{key: "spill_wait", set: duration(func(p *Proxy) *time.Duration { return &p.SpillWait })},
	{key: "standby", set: boolean(func(p *Proxy) *bool { return &p.Standby })},
	{key: "max_memory", set: atLeast(1<<20, func(p *Proxy) *int { return &p.MaxMemory })},
	{key: "max_handshakes", set: atLeast(1, func(p *Proxy) *int { return &p.MaxHandshakes })},
	{key: "max_handshakes_per_source", set: atLeast(1, func(p *Proxy) *int { return &p.MaxHandshakesPerSource })},
	{key: "worker_heartbeat", set: duration(func(p *Proxy) *time.Duration { return &p.WorkerHeartbeat })},
	{key: "worker_timeout", set: duration(func(p *Proxy) *time.Duration { return &p.WorkerTimeout })},
	{key: "frontend_curve_secret_key", set: text(func(p *Proxy) *string { return &p.FrontendSecurity.CurveSecretKey })},
	{key: "frontend_curve_allow", set: text(func(p *Proxy) *string { return &p.FrontendSecurity.CurveAllow })},
	{key: "backend_curve_secret_key", set: text(func(p *Proxy) *string { return &p.BackendSecurity.CurveSecretKey })},
	{key: "backend_curve_allow", set: text(func(p *Proxy) *string { return &p.BackendSecurity.CurveAllow })},
	{key: "mgmt_curve_secret_key", perDaemon: true, set: text(func(p *Proxy) *string { return &p.MgmtSecurity.CurveSecretKey })},
	{key: "mgmt_curve_allow", perDaemon: true, set: text(func(p *Proxy) *string { return &p.MgmtSecurity.CurveAllow })},
	{key: "mgmt_secret_file", perDaemon: true, set: text(func(p *Proxy) *string { return &p.MgmtSecurity.SecretFile })},
	{key: "metrics_listen", perDaemon: true, set: hostPort(func(p *Proxy) *string { return &p.MetricsListen })},
	{key: "log_file", perDaemon: true, set: text(func(p *Proxy) *string { return &p.LogFile })},
}

// workerOptions are the keys of [worker] (mirrorOptions, in mirror.go,
// are added to them).
var workerOptions = []option[Worker]{
	{key: "proxy", set: text(func(w *Worker) *string { return &w.Proxy })},
	{key: "mgmt", perDaemon: true, set: text(func(w *Worker) *string { return &w.Mgmt })},
	{key: "db", set: text(func(w *Worker) *string { return &w.DB })},
	{key: "vsphere_hosts_dir", set: text(func(w *Worker) *string { return &w.VSphereHostsDir })},
	{key: "helpers", set: list(func(w *Worker) *[]string { return &w.Helpers })},
	{key: "tasks", set: list(func(w *Worker) *[]string { return &w.Tasks })},
	{key: "concurrency", set: atLeast(1, func(w *Worker) *int { return &w.Concurrency })},
	{key: "agent_concurrency", set: atLeast(0, func(w *Worker) *int { return &w.AgentConcurrency })},
	{key: "breaker_failures", set: atLeast(1, func(w *Worker) *int { return &w.BreakerFailures })},
	{key: "breaker_cooldown", set: wholeSeconds(func(w *Worker) *time.Duration { return &w.BreakerCooldown })},
	{key: "max_reply_bytes", set: atLeast(1024, func(w *Worker) *int { return &w.MaxReplyBytes })},
	{key: "id", perDaemon: true, set: text(func(w *Worker) *string { return &w.ID })},
	{key: "queue", set: atLeast(0, func(w *Worker) *int { return &w.Queue })},
	{key: "release_after", set: duration(func(w *Worker) *time.Duration { return &w.ReleaseAfter })},
	{key: "proxy_curve_server_key", set: text(func(w *Worker) *string { return &w.ProxyCurveServerKey })},
	{key: "proxy_curve_secret_key", set: text(func(w *Worker) *string { return &w.ProxyCurveSecretKey })},
	{key: "mgmt_curve_secret_key", perDaemon: true, set: text(func(w *Worker) *string { return &w.MgmtSecurity.CurveSecretKey })},
	{key: "mgmt_curve_allow", perDaemon: true, set: text(func(w *Worker) *string { return &w.MgmtSecurity.CurveAllow })},
	{key: "mgmt_secret_file", perDaemon: true, set: text(func(w *Worker) *string { return &w.MgmtSecurity.SecretFile })},
	{key: "metrics_listen", perDaemon: true, set: hostPort(func(w *Worker) *string { return &w.MetricsListen })},
	{key: "log_file", perDaemon: true, set: text(func(w *Worker) *string { return &w.LogFile })},
}

// cacheOptions are the original's [cache] keys: accepted and ignored (the
// worker's mirror answers from memory already).
var cacheOptions = []option[struct{}]{
	{key: "enabled", set: ignored[struct{}]},
	{key: "maxsize", set: ignored[struct{}]},
	{key: "ttl", set: ignored[struct{}]},
	{key: "housekeeping", set: ignored[struct{}]},
}

// vpollerConf is the surface of vpoller.conf: [proxy], [worker], [cache]
// and the legacy [Default] of the per-daemon files (keys at the top of
// the file count as [Default]), which holds the keys of both daemons and
// is applied first, so that the named sections win.
var vpollerConf = func() surface[Config] {
	proxy := bind("proxy", proxyOptions, func(c *Config) *Proxy { return &c.Proxy })
	worker := bind("worker", append(append([]option[Worker]{}, workerOptions...), mirrorOptions...),
		func(c *Config) *Worker { return &c.Worker })
	cache := bind("cache", cacheOptions, func(*Config) *struct{} { return &struct{}{} })
	index := func(opts []boundOption[Config]) map[string]boundOption[Config] {
		m := map[string]boundOption[Config]{}
		for _, o := range opts {
			m[o.key] = o
		}
		return m
	}
	byProxy, byWorker, byCache := index(proxy), index(worker), index(cache)
	lookup := func(section, key string, has func(string) bool) []boundOption[Config] {
		pick := func(m map[string]boundOption[Config]) []boundOption[Config] {
			if o, ok := m[key]; ok {
				return []boundOption[Config]{o}
			}
			return nil
		}
		switch section {
		case "proxy":
			return pick(byProxy)
		case "worker":
			return pick(byWorker)
		case "cache":
			return pick(byCache)
		}
		// [Default]: each key to the daemon it belongs to; a key both
		// have goes to both, unless it is one daemon's own (perDaemon).
		p, w := pick(byProxy), pick(byWorker)
		if len(p) > 0 && len(w) > 0 && p[0].perDaemon {
			if has("proxy") {
				return w
			}
			return p
		}
		return append(p, w...)
	}
	return surface[Config]{
		sections:    []string{"default", "proxy", "worker", "cache"},
		display:     map[string]string{"default": "Default"},
		lookup:      lookup,
		all:         append(append(proxy, worker...), cache...),
		sectionHint: "(vpoller.conf has [proxy], [worker], [cache] and, in the older per-daemon files, [Default])",
	}
}()

// locate names where a key was set for a message: "line 12: [proxy]
// frontend_curve_allow", looking in the daemon's section, then [Default].
func locate(lay layout, section, key string) string {
	for _, s := range []string{section, "default"} {
		if line := lay.keyLine(s, key); line > 0 {
			name := s
			if s == "default" {
				name = "Default"
			}
			return fmt.Sprintf("%s[%s] %s", at(line), name, key)
		}
	}
	return fmt.Sprintf("[%s] %s", section, key)
}

// checkProxy refuses [proxy] settings that would not do what they seem
// to: a CURVE server without an allow-list (any client key gets in: say
// "*" to mean it), an allow-list without a CURVE key (ignored), two
// management mechanisms.
func checkProxy(p *Proxy, lay layout) error {
	var errs []error
	for _, s := range []struct {
		prefix string
		sec    Security
	}{{"frontend", p.FrontendSecurity}, {"backend", p.BackendSecurity}} {
		switch {
		case s.sec.CurveSecretKey != "" && s.sec.CurveAllow == "":
			errs = append(errs, fmt.Errorf("%s is set but %s_curve_allow is not: CURVE would let any client key in; "+
				"list the keys allowed (a directory of *.key files, certificate files or Z85 keys), "+
				"or set %s_curve_allow = * to accept any key (encryption without client authentication)",
				locate(lay, "proxy", s.prefix+"_curve_secret_key"), s.prefix, s.prefix))
		case s.sec.CurveSecretKey == "" && s.sec.CurveAllow != "":
			errs = append(errs, fmt.Errorf("%s is set but %s_curve_secret_key is not: the allow-list would be ignored",
				locate(lay, "proxy", s.prefix+"_curve_allow"), s.prefix))
		}
	}
	if err := checkMgmt(p.MgmtSecurity, lay, "proxy"); err != nil {
		errs = append(errs, err)
	}
	if p.WorkerTimeout <= p.WorkerHeartbeat {
		errs = append(errs, fmt.Errorf("%s = %v must exceed worker_heartbeat = %v (a worker answers each PING within a heartbeat)",
			locate(lay, "proxy", "worker_timeout"), p.WorkerTimeout, p.WorkerHeartbeat))
	}
	return errors.Join(errs...)
}

// checkWorker refuses half a CURVE configuration towards the proxy and
// contradictory management settings; the mirror's keys are checked in
// checkMirror.
func checkWorker(w *Worker, lay layout) error {
	var errs []error
	if (w.ProxyCurveServerKey == "") != (w.ProxyCurveSecretKey == "") {
		set, missing := "proxy_curve_server_key", "proxy_curve_secret_key"
		if w.ProxyCurveServerKey == "" {
			set, missing = missing, set
		}
		errs = append(errs, fmt.Errorf("%s is set but %s is not: CURVE to the proxy needs both", locate(lay, "worker", set), missing))
	}
	if err := checkMgmt(w.MgmtSecurity, lay, "worker"); err != nil {
		errs = append(errs, err)
	}
	if err := checkMirror(&w.Mirror, lay); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func checkMgmt(s Security, lay layout, section string) error {
	switch {
	case s.CurveSecretKey != "" && s.SecretFile != "":
		return fmt.Errorf("%s and mgmt_secret_file are both set: choose CURVE or the shared secret", locate(lay, section, "mgmt_curve_secret_key"))
	case s.CurveSecretKey == "" && s.CurveAllow != "":
		return fmt.Errorf("%s is set but mgmt_curve_secret_key is not: the allow-list would be ignored", locate(lay, section, "mgmt_curve_allow"))
	}
	return nil
}
