// Package endpoint parses ZeroMQ-style endpoints (tcp://host:port and
// ipc://path), the addresses every vPoller component is configured with.
// The proxy binds them, the worker and clients connect to them; parsing in
// one place keeps the accepted forms and the error texts the same
// everywhere.
package endpoint

import (
	"fmt"
	"net"
	"strings"
)

// Endpoint is a parsed endpoint.
type Endpoint struct {
	Raw string
	// Scheme is "tcp" or "ipc".
	Scheme string
	// Host and Port are set for tcp; Host may be "*" (every interface).
	Host, Port string
	// Path is set for ipc.
	Path string
}

// Parse splits an endpoint. It does no network work and does not resolve
// names.
func Parse(s string) (Endpoint, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || rest == "" {
		return Endpoint{}, fmt.Errorf("endpoint %q: want tcp://host:port or ipc://path", s)
	}
	e := Endpoint{Raw: s, Scheme: scheme}
	switch scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return Endpoint{}, fmt.Errorf("endpoint %q: %w", s, err)
		}
		e.Host, e.Port = host, port
	case "ipc":
		e.Path = rest
	default:
		return Endpoint{}, fmt.Errorf("endpoint %q: unsupported transport %q (want tcp or ipc)", s, scheme)
	}
	return e, nil
}

// Wildcard reports whether a tcp endpoint names every interface ("*" or
// no host), which is meaningful for binding only.
func (e Endpoint) Wildcard() bool {
	return e.Scheme == "tcp" && (e.Host == "*" || e.Host == "")
}

// ListenAddr is the net.Listen network and address: "*" binds every
// interface, as in the original's configuration files.
func (e Endpoint) ListenAddr() (network, addr string) {
	if e.Scheme == "ipc" {
		return "unix", e.Path
	}
	host := e.Host
	if host == "*" {
		host = ""
	}
	return "tcp", net.JoinHostPort(host, e.Port)
}

// DialAddr is the net.Dial network and address: a wildcard host means
// this machine, so a bind endpoint copied from a configuration file still
// connects.
func (e Endpoint) DialAddr() (network, addr string) {
	if e.Scheme == "ipc" {
		return "unix", e.Path
	}
	host := e.Host
	if e.Wildcard() {
		host = "127.0.0.1"
	}
	return "tcp", net.JoinHostPort(host, e.Port)
}

// Exposed reports whether ep is a tcp endpoint that binds beyond loopback
// (every interface, a host name other than localhost, or a non-loopback
// address): what reaches it from other hosts needs authentication.
func Exposed(ep string) bool {
	e, err := Parse(ep)
	if err != nil || e.Scheme != "tcp" {
		return false
	}
	if e.Wildcard() {
		return true
	}
	ip := net.ParseIP(e.Host)
	return ip == nil && e.Host != "localhost" || ip != nil && !ip.IsLoopback()
}
