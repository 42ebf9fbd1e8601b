package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
)

// peerConn is one ZMTP DEALER connection to the proxy backend, on the
// guarded layer: the handshake is bounded, a message above the limits is
// refused before it is allocated (a broken or hostile proxy cannot make
// the worker allocate without bound), and writes are serialised and
// bounded by a deadline.
type peerConn struct {
	c *zmtp.Conn
}

// dialPeer connects to a tcp:// or ipc:// endpoint and performs the ZMTP
// handshake as a DEALER within timeout.
func dialPeer(ctx context.Context, endpoint string, timeout time.Duration, mech zmtp.Mechanism, limits zmtp.Limits, meta map[string]string) (*peerConn, error) {
	c, err := zmtp.Dial(ctx, endpoint, zmtp.Config{Type: zmq4.Dealer, Mechanism: mech, HandshakeTimeout: timeout, Limits: limits, Metadata: meta})
	if err != nil {
		return nil, fmt.Errorf("proxy %w", err)
	}
	return &peerConn{c: c}, nil
}

// recv returns the next message. A *zmtp.TooLargeError that is not fatal
// leaves the connection usable.
func (c *peerConn) recv() ([][]byte, error) { return c.c.ReadMsg() }

// send writes one multi-frame message; a peer that does not take it
// within timeout breaks the connection (the caller reconnects).
func (c *peerConn) send(frames [][]byte, timeout time.Duration) error {
	err := c.c.WriteMsg(frames, timeout)
	if err != nil {
		c.close()
	}
	return err
}

// close ends the connection and releases a blocked recv.
func (c *peerConn) close() { _ = c.c.Close() }
