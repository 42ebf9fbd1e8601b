package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config/option"
)

// The option tables of vpoller.conf: one row per key, each with its
// kind of value, bounds, one line of doc and the field it fills. Adding a
// key is one row in proxyOptions or workerOptions (and the field in Proxy
// or Worker, with its default in Default), for example
//
//	{Name: "max_memory", Value: atLeast(1<<20, func(p *Proxy) *int { return &p.MaxMemory }),
//		Doc: "memory budget of message data (bytes)"},
//
// The tables drive the parser (ini.go), its errors and suggestions, and
// the option tables of docs/configuration.md (TestDocsOptionTables keeps
// them equal; go test -run DocsOptionTables -update rewrites them). The
// values below (text, atLeast, wholeSeconds, duration, boolean, list,
// hostPort) cover the kinds the file has; a setter returns "want ..." and
// the parser adds the file, line, section, key and value. Checks that
// involve several keys go in checkProxy or checkWorker (mirror.go for the
// mirror's).

// text reads a trimmed string; kind names it in the docs ("endpoint",
// "path", "text").
func text[S any](kind string, field func(*S) *string) option.Value[S] {
	return option.Value[S]{
		Kind: kind,
		Set: func(s *S, v string) error {
			*field(s) = strings.TrimSpace(v)
			return nil
		},
		Show: func(s *S) string { return *field(s) },
	}
}

// atLeast reads a whole number (base 10, as Python's int does) of at
// least min.
func atLeast[S any](min int, field func(*S) *int) option.Value[S] {
	return option.Value[S]{
		Kind:   "whole number",
		Bounds: fmt.Sprintf(">= %d", min),
		Set: func(s *S, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < min {
				return fmt.Errorf("want a whole number >= %d", min)
			}
			*field(s) = n
			return nil
		},
		Show: func(s *S) string { return strconv.Itoa(*field(s)) },
	}
}

// wholeSeconds reads a whole number of seconds, 0 (off) allowed.
func wholeSeconds[S any](field func(*S) *time.Duration) option.Value[S] {
	return option.Value[S]{
		Kind:   "seconds",
		Bounds: "0-604800",
		Set: func(s *S, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 || n > int(7*24*time.Hour/time.Second) {
				return errors.New("want whole seconds from 0 to 604800")
			}
			*field(s) = time.Duration(n) * time.Second
			return nil
		},
		Show: func(s *S) string { return strconv.FormatInt(int64(*field(s)/time.Second), 10) },
	}
}

// duration reads seconds or a Go duration (ParseSeconds).
func duration[S any](field func(*S) *time.Duration) option.Value[S] {
	return option.Value[S]{
		Kind:   "duration",
		Bounds: "up to a week",
		Set: func(s *S, v string) error {
			d, err := parseSeconds(v)
			if err != nil {
				return err
			}
			*field(s) = d
			return nil
		},
		Show: func(s *S) string { return formatDuration(*field(s)) },
	}
}

// formatDuration writes d as the file would: 1h, 5m, 2m30s, 20s.
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

func boolean[S any](field func(*S) *bool) option.Value[S] {
	return option.Value[S]{
		Kind: "boolean",
		Set: func(s *S, v string) error {
			b, err := ParseBool(v)
			if err != nil {
				return errors.New("want true or false")
			}
			*field(s) = b
			return nil
		},
		Show: func(s *S) string { return strconv.FormatBool(*field(s)) },
	}
}

// list reads comma-separated names.
func list[S any](field func(*S) *[]string) option.Value[S] {
	return option.Value[S]{
		Kind: "list",
		Set: func(s *S, v string) error {
			var out []string
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
			*field(s) = out
			return nil
		},
		Show: func(s *S) string { return strings.Join(*field(s), ", ") },
	}
}

// hostPort reads a host:port to listen on ("" allowed: off).
func hostPort[S any](field func(*S) *string) option.Value[S] {
	return option.Value[S]{
		Kind: "host:port",
		Set: func(s *S, v string) error {
			v = strings.TrimSpace(v)
			if v != "" {
				if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
					return errors.New("want host:port, e.g. 127.0.0.1:9110")
				}
			}
			*field(s) = v
			return nil
		},
		Show: func(s *S) string { return *field(s) },
	}
}

// ignored accepts any value: the original's [cache] keys.
func ignored[S any]() option.Value[S] {
	return option.Value[S]{Kind: "any", Set: func(*S, string) error { return nil }}
}

// proxyOptions are the keys of [proxy].
var proxyOptions = option.Table[Proxy]{
	{Name: "frontend", Value: text("endpoint", func(p *Proxy) *string { return &p.Frontend }),
		Doc: "where clients (REQ or DEALER, the plugin) connect"},
	{Name: "backend", Value: text("endpoint", func(p *Proxy) *string { return &p.Backend }),
		Doc: "where workers connect"},
	{Name: "mgmt", Value: text("endpoint", func(p *Proxy) *string { return &p.Mgmt }),
		Doc: "management socket (`vpoller-proxy status`, `stop`); over tcp, `stop` needs CURVE or a shared secret"},
	{Name: "max_request_bytes", Value: atLeast(1024, func(p *Proxy) *int { return &p.MaxRequestBytes }),
		Doc: "largest client message; larger ones (up to 64 MiB) get an error reply, still larger ones close the connection"},
	{Name: "max_reply_bytes", Value: atLeast(1024, func(p *Proxy) *int { return &p.MaxReplyBytes }),
		Doc: "largest worker reply; a larger one is thrown away and its client told so"},
	{Name: "max_clients", Value: atLeast(1, func(p *Proxy) *int { return &p.MaxClients }),
		Doc: "connections of the frontend"},
	{Name: "max_workers", Value: atLeast(1, func(p *Proxy) *int { return &p.MaxWorkers }),
		Doc: "connections of the backend"},
	{Name: "max_held_requests", Value: atLeast(1, func(p *Proxy) *int { return &p.MaxHeldRequests }),
		Doc: "requests held while no worker can take them; beyond, refused at once"},
	{Name: "max_held_bytes", Value: atLeast(1, func(p *Proxy) *int { return &p.MaxHeldBytes }),
		Doc: "bytes of the requests held while no worker can take them"},
	{Name: "client_idle_timeout", Value: wholeSeconds(func(p *Proxy) *time.Duration { return &p.ClientIdleTimeout }),
		Doc: "closes a client connection with nothing in flight that sent nothing this long (0: never)"},
	{Name: "max_inflight_per_worker", Value: atLeast(1, func(p *Proxy) *int { return &p.MaxInflightPerWorker }),
		Doc: "requests one worker connection may owe"},
	{Name: "spill_wait", Value: duration(func(p *Proxy) *time.Duration { return &p.SpillWait }),
		Doc: "how long a request waits for its vCenter's owner to have room before the next worker takes it"},
	{Name: "standby", Value: boolean(func(p *Proxy) *bool { return &p.Standby }),
		Doc: "the second worker of each vCenter keeps its mirror current, for a warm takeover"},
	{Name: "max_memory", Value: atLeast(1<<20, func(p *Proxy) *int { return &p.MaxMemory }),
		Doc: "memory budget of message data: frames being read, requests held or in flight, replies queued (bytes)"},
	{Name: "max_handshakes", Value: atLeast(1, func(p *Proxy) *int { return &p.MaxHandshakes }),
		Default: "`64`", Doc: "handshakes in progress per listener, apart from established connections"},
	{Name: "max_handshakes_per_source", Value: atLeast(1, func(p *Proxy) *int { return &p.MaxHandshakesPerSource }),
		Default: "`32`", Doc: "handshakes in progress per listener from one address"},
	{Name: "worker_heartbeat", Value: duration(func(p *Proxy) *time.Duration { return &p.WorkerHeartbeat }),
		Doc: "how often the proxy PINGs each worker"},
	{Name: "worker_timeout", Value: duration(func(p *Proxy) *time.Duration { return &p.WorkerTimeout }),
		Doc: "drops a worker silent this long (its requests go to another); must exceed `worker_heartbeat`"},
	{Name: "frontend_curve_secret_key", Value: text("path", func(p *Proxy) *string { return &p.FrontendSecurity.CurveSecretKey }),
		Doc: "the frontend's CURVE secret certificate; set, the frontend speaks CURVE (needs `frontend_curve_allow`)"},
	{Name: "frontend_curve_allow", Value: text("keys", func(p *Proxy) *string { return &p.FrontendSecurity.CurveAllow }),
		Doc: "the clients' public keys: a directory of `*.key` files, certificate files or Z85 keys, comma-separated; `*` accepts any key"},
	{Name: "backend_curve_secret_key", Value: text("path", func(p *Proxy) *string { return &p.BackendSecurity.CurveSecretKey }),
		Doc: "the backend's CURVE secret certificate (needs `backend_curve_allow`)"},
	{Name: "backend_curve_allow", Value: text("keys", func(p *Proxy) *string { return &p.BackendSecurity.CurveAllow }),
		Doc: "the workers' public keys, as `frontend_curve_allow`"},
	{Name: "mgmt_curve_secret_key", Value: text("path", func(p *Proxy) *string { return &p.MgmtSecurity.CurveSecretKey }),
		Doc: "the management socket's CURVE secret certificate (the daemon's own key may connect)"},
	{Name: "mgmt_curve_allow", Value: text("keys", func(p *Proxy) *string { return &p.MgmtSecurity.CurveAllow }),
		Doc: "more public keys the management socket accepts"},
	{Name: "mgmt_secret_file", Value: text("path", func(p *Proxy) *string { return &p.MgmtSecurity.SecretFile }),
		Doc: "a shared secret (ZMTP PLAIN, loopback tcp) for the management socket; not with `mgmt_curve_secret_key`"},
	{Name: "metrics_listen", Value: hostPort(func(p *Proxy) *string { return &p.MetricsListen }),
		Doc: "serves Prometheus metrics on `/metrics` (off when unset)"},
	{Name: "log_file", Value: text("path", func(p *Proxy) *string { return &p.LogFile }),
		Doc: "logs here instead of stderr (appended, mode 0640; SIGUSR1 reopens it); relative to vpoller.conf"},
}

// workerOptions are the keys of [worker] (mirrorOptions, in mirror.go,
// are added to them).
var workerOptions = option.Table[Worker]{
	{Name: "proxy", Value: text("endpoint", func(w *Worker) *string { return &w.Proxy }),
		Doc: "the proxies' backend endpoints, comma-separated (the worker connects to each)"},
	{Name: "mgmt", Value: text("endpoint", func(w *Worker) *string { return &w.Mgmt }),
		Doc: "management socket (`vpoller-worker status`, `reload`, `stop`)"},
	{Name: "db", Value: text("path", func(w *Worker) *string { return &w.DB }),
		Doc: "the original's vconnector SQLite database of vSphere agents (table `hosts`); relative to vpoller.conf"},
	{Name: "vsphere_hosts_dir", Value: text("path", func(w *Worker) *string { return &w.VSphereHostsDir }),
		Doc: "directory of per-vCenter `*.conf` files; relative to vpoller.conf"},
	{Name: "helpers", Value: list(func(w *Worker) *[]string { return &w.Helpers }),
		Doc: "result helpers offered to requests that name one"},
	{Name: "tasks", Value: list(func(w *Worker) *[]string { return &w.Tasks }),
		Doc: "kept for the original's status report; the task set is built in"},
	{Name: "concurrency", Value: atLeast(1, func(w *Worker) *int { return &w.Concurrency }),
		Doc: "requests handled at once"},
	{Name: "agent_concurrency", Value: atLeast(0, func(w *Worker) *int { return &w.AgentConcurrency }),
		Doc: "requests of one vCenter at once (0: half of `concurrency` with several vCenters, else all)"},
	{Name: "breaker_failures", Value: atLeast(1, func(w *Worker) *int { return &w.BreakerFailures }),
		Doc: "consecutive failures to reach a vCenter that open its circuit (its requests then fail at once)"},
	{Name: "breaker_cooldown", Value: wholeSeconds(func(w *Worker) *time.Duration { return &w.BreakerCooldown }),
		Doc: "pause before an open circuit's probe"},
	{Name: "max_reply_bytes", Value: atLeast(1024, func(w *Worker) *int { return &w.MaxReplyBytes }),
		Doc: "largest reply sent; a larger result becomes an error reply (keep it at or below the proxy's)"},
	{Name: "id", Value: text("text", func(w *Worker) *string { return &w.ID }),
		Default: "host name and `mgmt`",
		Doc:     "the worker's name to the proxies (they hash it to choose each vCenter's owner); the same across restarts"},
	{Name: "queue", Value: atLeast(0, func(w *Worker) *int { return &w.Queue }),
		Default: "4 x `concurrency`",
		Doc:     "requests accepted ahead of `concurrency`; the proxies never send more"},
	{Name: "release_after", Value: duration(func(w *Worker) *time.Duration { return &w.ReleaseAfter }),
		Doc: "how long a vCenter's mirror and sweep are kept after no proxy names this worker its owner or standby"},
	{Name: "proxy_curve_server_key", Value: text("key", func(w *Worker) *string { return &w.ProxyCurveServerKey }),
		Doc: "CURVE to the backend: the proxy's public key (Z85 or its `.key` file); with `proxy_curve_secret_key`"},
	{Name: "proxy_curve_secret_key", Value: text("path", func(w *Worker) *string { return &w.ProxyCurveSecretKey }),
		Doc: "CURVE to the backend: this worker's secret certificate (`vpoller-worker keygen NAME`)"},
	{Name: "mgmt_curve_secret_key", Value: text("path", func(w *Worker) *string { return &w.MgmtSecurity.CurveSecretKey }),
		Doc: "the management socket's CURVE secret certificate, as in [proxy]"},
	{Name: "mgmt_curve_allow", Value: text("keys", func(w *Worker) *string { return &w.MgmtSecurity.CurveAllow }),
		Doc: "more public keys the management socket accepts"},
	{Name: "mgmt_secret_file", Value: text("path", func(w *Worker) *string { return &w.MgmtSecurity.SecretFile }),
		Doc: "a shared secret for the management socket, as in [proxy]"},
	{Name: "metrics_listen", Value: hostPort(func(w *Worker) *string { return &w.MetricsListen }),
		Doc: "serves Prometheus metrics on `/metrics` (off when unset)"},
	{Name: "log_file", Value: text("path", func(w *Worker) *string { return &w.LogFile }),
		Doc: "logs here instead of stderr, as in [proxy]"},
}

// cacheOptions are the original's [cache] keys: accepted and ignored (the
// worker's mirror answers from memory already).
var cacheOptions = option.Table[struct{}]{
	{Name: "enabled", Value: ignored[struct{}](), Doc: "accepted and ignored"},
	{Name: "maxsize", Value: ignored[struct{}](), Doc: "accepted and ignored"},
	{Name: "ttl", Value: ignored[struct{}](), Doc: "accepted and ignored"},
	{Name: "housekeeping", Value: ignored[struct{}](), Doc: "accepted and ignored"},
}

// bothDaemons are the keys a legacy [Default] section gives to both
// daemons. Any other key the proxy and the worker both have (mgmt, mgmt_*,
// metrics_listen, log_file) is one daemon's own: a [Default] section
// holds one daemon's keys: the worker's when it has the worker's proxy
// key, else the proxy's.
var bothDaemons = map[string]bool{"max_reply_bytes": true}

// vpollerConf is the surface of vpoller.conf: [proxy], [worker], [cache]
// and the legacy [Default] of the per-daemon files (keys at the top of
// the file count as [Default]), which holds the keys of both daemons and
// is applied first, so that the named sections win.
var vpollerConf = func() surface[Config] {
	proxy := bind("proxy", proxyOptions, func(c *Config) *Proxy { return &c.Proxy })
	worker := bind("worker", append(append(option.Table[Worker]{}, workerOptions...), mirrorOptions...),
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
		// have goes to both only when bothDaemons says so.
		p, w := pick(byProxy), pick(byWorker)
		if len(p) > 0 && len(w) > 0 && !bothDaemons[key] {
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
