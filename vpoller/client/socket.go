package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
)

// errAttemptTimeout marks an attempt that ran out of its Timeout.
var errAttemptTimeout = errors.New("no reply within the attempt timeout")

// exchangeError is an I/O failure of an established socket (the peer
// closed the connection, for instance). On a socket reused from the idle
// pool it usually means the proxy restarted since the socket was opened.
type exchangeError struct{ err error }

func (e *exchangeError) Error() string { return "send/receive failed: " + e.err.Error() }
func (e *exchangeError) Unwrap() error { return e.err }

// refusedError is a handshake the proxy refused for our credentials (or
// a protocol mismatch): retrying cannot help, so Do gives up at once.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// connectRetry is the pause between connects within one attempt: a proxy
// that is (re)starting is waited for until the attempt's deadline, as
// libzmq's reconnect does.
const connectRetry = 100 * time.Millisecond

// dial opens a fresh REQ connection to the endpoint on the guarded ZMTP
// layer, retrying refused connects until deadline. It gives up when ctx
// is done or the client closes.
func (c *Client) dial(ctx context.Context, deadline time.Time) (*zmtp.Conn, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	stop := context.AfterFunc(c.closing, cancel)
	defer stop()
	cfg := zmtp.Config{Type: zmq4.Req, Mechanism: c.opts.Mechanism, HandshakeTimeout: time.Until(deadline),
		Limits: zmtp.Limits{MaxMessage: int64(c.opts.MaxReplyBytes)}}
	for {
		conn, err := zmtp.Dial(ctx, c.endpoint, cfg)
		if err == nil {
			return conn, nil
		}
		if errors.Is(err, zmtp.ErrAuth) || errors.Is(err, zmtp.ErrProtocol) {
			return nil, &refusedError{err: err}
		}
		select {
		case <-ctx.Done():
			switch {
			case c.closing.Err() != nil:
				return nil, ErrClosed
			case time.Now().Before(deadline):
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("connect: %w (%v)", errAttemptTimeout, err)
		case <-time.After(min(connectRetry, time.Until(deadline))):
		}
	}
}

// exchange sends one request on conn and waits for its reply until
// deadline. ctx ending or the client closing closes the connection,
// which releases the read at once. On any error the connection is closed
// and must not be reused (a late reply would answer the next request).
func (c *Client) exchange(ctx context.Context, deadline time.Time, conn *zmtp.Conn, request []byte) ([]byte, error) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	stopClose := context.AfterFunc(c.closing, func() { conn.Close() })
	defer stopClose()
	fail := func(err error) ([]byte, error) {
		conn.Close()
		switch {
		case c.closing.Err() != nil:
			return nil, ErrClosed
		case ctx.Err() != nil:
			return nil, ctx.Err()
		}
		return nil, err
	}
	// REQ framing: the empty delimiter, then the request.
	if err := conn.WriteMsg([][]byte{{}, request}, time.Until(deadline)); err != nil {
		return fail(&exchangeError{err: fmt.Errorf("send: %w", err)})
	}
	if err := conn.SetReadDeadline(deadline); err != nil {
		return fail(&exchangeError{err: err})
	}
	frames, err := conn.ReadMsg()
	if errors.Is(err, zmtp.ErrIdle) {
		return fail(errAttemptTimeout)
	}
	if err != nil {
		return fail(&exchangeError{err: fmt.Errorf("receive: %w", err)})
	}
	if len(frames) < 2 || len(frames[0]) != 0 {
		return fail(&exchangeError{err: fmt.Errorf("receive: not a REQ reply (%d frames, no empty delimiter)", len(frames))})
	}
	_ = conn.SetReadDeadline(time.Time{})
	// One payload frame is the protocol.
	return frames[len(frames)-1], nil
}
