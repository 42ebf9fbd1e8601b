package proxy

import (
	"fmt"
	"net"

	"github.com/vpoller/zabbix-vpoller/internal/endpoint"
)

// listen binds a ZeroMQ-style endpoint: tcp://host:port (host "*" = every
// interface, port 0 = any free port) or ipc://path.
func listen(ep string) (net.Listener, error) {
	e, err := endpoint.Parse(ep)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen(e.ListenAddr())
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", ep, err)
	}
	return l, nil
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
