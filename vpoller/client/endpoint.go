package client

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// validateEndpoint accepts the endpoints a client can connect to:
// tcp://host:port and ipc://path. It does no network work; catching a typo
// here gives a clear error instead of a request that times out.
func validateEndpoint(endpoint string) error {
	scheme, addr, ok := strings.Cut(endpoint, "://")
	if !ok {
		return fmt.Errorf("endpoint %q: want tcp://host:port or ipc://path", endpoint)
	}
	switch scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("endpoint %q: %w", endpoint, err)
		}
		if host == "" || host == "*" {
			return fmt.Errorf("endpoint %q: a client needs a host to connect to", endpoint)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("endpoint %q: port %q is not a number from 1 to 65535", endpoint, port)
		}
	case "ipc":
		if addr == "" {
			return fmt.Errorf("endpoint %q: empty ipc path", endpoint)
		}
	default:
		return fmt.Errorf("endpoint %q: unsupported transport %q (want tcp or ipc)", endpoint, scheme)
	}
	return nil
}
