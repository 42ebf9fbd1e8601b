package client

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vpoller/zabbix-vpoller/internal/endpoint"
)

// SplitEndpoints parses a comma-separated list of proxy frontends
// ("tcp://10.0.0.1:10123, tcp://10.0.0.2:10123"; one endpoint is a list
// of one). Each is validated as New does; an empty element or an endpoint
// listed twice is an error, since either is a typo that would otherwise
// show up only as a proxy that is never tried, or tried twice per round.
// The plugin uses it to size a call's attempts before any client exists.
func SplitEndpoints(list string) ([]string, error) {
	parts := strings.Split(list, ",")
	out := make([]string, 0, len(parts))
	seen := make(map[string]int, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			if len(parts) == 1 {
				return nil, fmt.Errorf("empty endpoint")
			}
			return nil, fmt.Errorf("endpoint list %q: element %d is empty", list, i+1)
		}
		if err := validateEndpoint(p); err != nil {
			return nil, err
		}
		if j, dup := seen[p]; dup {
			return nil, fmt.Errorf("endpoint list %q: %s is listed twice (elements %d and %d)", list, p, j+1, i+1)
		}
		seen[p] = i
		out = append(out, p)
	}
	return out, nil
}

// validateEndpoint accepts the endpoints a client can connect to:
// tcp://host:port and ipc://path. It does no network work; catching a typo
// here gives a clear error instead of a request that times out.
func validateEndpoint(ep string) error {
	e, err := endpoint.Parse(ep)
	if err != nil {
		return err
	}
	if e.Scheme != "tcp" {
		return nil
	}
	if e.Wildcard() {
		return fmt.Errorf("endpoint %q: a client needs a host to connect to", ep)
	}
	if n, err := strconv.Atoi(e.Port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("endpoint %q: port %q is not a number from 1 to 65535", ep, e.Port)
	}
	return nil
}
