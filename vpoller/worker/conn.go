package worker

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"

	endpointpkg "github.com/vpoller/zabbix-vpoller/internal/endpoint"
)

// peerConn is one ZMTP DEALER connection to the proxy backend.
//
// It is built on zmq4.Open over a net.Conn we dial ourselves instead of a
// zmq4 DEALER socket because the socket offers no way to bound the ZMTP
// handshake or a send to a peer that stopped reading, and it does not
// report a broken connection on Send. Owning the net.Conn lets the worker
// put deadlines on both, and closing it releases a blocked read at once.
//
// Concurrency (checked against zmq4 v0.17.0): Conn.RecvMsg only reads and
// Conn.SendMsg only writes, so one reader goroutine may run beside one
// writer; writers are serialised by mu because SendMsg writes a message
// as several Write calls. One caveat: RecvMsg answers a ZMTP PING itself
// (a write outside mu). Neither libzmq (heartbeats are off unless
// ZMQ_HEARTBEAT_IVL is set) nor zmq4 sends PINGs by default, and the
// proxies we talk to do not enable them.
type peerConn struct {
	raw  net.Conn
	zc   *zmq4.Conn
	mu   sync.Mutex // serialises sends
	once sync.Once
}

// dialPeer connects to a tcp:// or ipc:// endpoint and performs the ZMTP
// handshake as a DEALER within timeout.
func dialPeer(ctx context.Context, endpoint string, timeout time.Duration) (*peerConn, error) {
	ep, err := endpointpkg.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	// A "*" host (valid for binding in the original's config) means this
	// machine.
	network, addr := ep.DialAddr()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", endpoint, err)
	}
	deadline, _ := ctx.Deadline()
	_ = raw.SetDeadline(deadline)
	// Release the handshake if ctx is cancelled before the deadline.
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Now()) })
	zc, err := zmq4.Open(raw, null.Security(), zmq4.Dealer, zmq4.SocketIdentity(nil), false, nil)
	stop()
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("ZMTP handshake with %s: %w", endpoint, err)
	}
	_ = raw.SetDeadline(time.Time{})
	return &peerConn{raw: raw, zc: zc}, nil
}

// recv returns the next message, skipping ZMTP commands.
func (c *peerConn) recv() ([][]byte, error) {
	for {
		msg, err := c.zc.RecvMsg()
		if err != nil {
			return nil, err
		}
		if msg.Type == zmq4.CmdMsg {
			continue
		}
		return msg.Frames, nil
	}
}

// send writes one multi-frame message; a peer that does not take it
// within timeout breaks the connection (the caller reconnects).
func (c *peerConn) send(frames [][]byte, timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.raw.SetWriteDeadline(time.Now().Add(timeout))
	err := c.zc.SendMsg(zmq4.NewMsgFrom(frames...))
	_ = c.raw.SetWriteDeadline(time.Time{})
	if err != nil {
		c.close()
	}
	return err
}

// close ends the connection and releases a blocked recv.
func (c *peerConn) close() {
	c.once.Do(func() { _ = c.raw.Close() })
}
