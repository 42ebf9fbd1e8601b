package proxy

import (
	"fmt"
	"net"
	"strings"
)

// listen binds a ZeroMQ-style endpoint: tcp://host:port (host "*" = every
// interface, port 0 = any free port) or ipc://path.
func listen(endpoint string) (net.Listener, error) {
	scheme, addr, ok := strings.Cut(endpoint, "://")
	if !ok {
		return nil, fmt.Errorf("endpoint %q: want tcp://host:port or ipc://path", endpoint)
	}
	switch scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
		}
		if host == "*" {
			host = ""
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, fmt.Errorf("bind %s: %w", endpoint, err)
		}
		return l, nil
	case "ipc":
		if addr == "" {
			return nil, fmt.Errorf("endpoint %q: empty ipc path", endpoint)
		}
		l, err := net.Listen("unix", addr)
		if err != nil {
			return nil, fmt.Errorf("bind %s: %w", endpoint, err)
		}
		return l, nil
	default:
		return nil, fmt.Errorf("endpoint %q: unsupported transport %q (want tcp or ipc)", endpoint, scheme)
	}
}

// endpointOf renders a bound address as an endpoint clients can dial.
func endpointOf(a net.Addr) string {
	switch a.Network() {
	case "unix":
		return "ipc://" + a.String()
	default:
		return "tcp://" + a.String()
	}
}
