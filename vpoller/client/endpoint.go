package client

import (
	"fmt"
	"strconv"

	"github.com/vpoller/zabbix-vpoller/internal/endpoint"
)

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
