package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
)

// connectRetry is the pause between rounds of connects within one
// attempt once every endpoint has refused: a proxy that is (re)starting is
// waited for until the attempt's deadline, as libzmq's reconnect does.
const connectRetry = 100 * time.Millisecond

// dial opens a fresh REQ connection to endpoint first on the guarded ZMTP
// layer. A refused connection is returned at once, unless wait is set:
// then the endpoints not in skip are tried in turn from first, every
// connectRetry, until deadline. used is the endpoint connected to (or the
// last one tried). It gives up when ctx is done or the client closes.
func (c *Client) dial(ctx context.Context, deadline time.Time, first int, wait bool, skip []bool) (*zmtp.Conn, int, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	stop := context.AfterFunc(c.closing, cancel)
	defer stop()
	cfg := zmtp.Config{Type: zmq4.Req, Mechanism: c.opts.Mechanism, HandshakeTimeout: time.Until(deadline),
		Limits: zmtp.Limits{MaxMessage: int64(c.opts.MaxReplyBytes)}}
	order := []int{first}
	if wait {
		for k := 1; k < len(c.endpoints); k++ {
			if j := (first + k) % len(c.endpoints); !skip[j] {
				order = append(order, j)
			}
		}
	}
	start := time.Now()
	var last error // the last refusal
	for {
		for _, i := range order {
			conn, err := zmtp.Dial(ctx, c.endpoints[i], cfg)
			if err == nil {
				return conn, i, nil
			}
			if errors.Is(err, zmtp.ErrAuth) || errors.Is(err, zmtp.ErrProtocol) {
				return nil, i, &refusedError{err: err}
			}
			if ctx.Err() != nil || !time.Now().Before(deadline) {
				break // the dial ran into the deadline (net may see it before ctx does)
			}
			last = err
			if !wait {
				return nil, i, &unreachableError{err: err}
			}
		}
		select {
		case <-ctx.Done():
			switch {
			case c.closing.Err() != nil:
				return nil, first, ErrClosed
			case last != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
				// The attempt's deadline or the call's, whichever came
				// first: either way the refusals are what happened, and
				// what the caller must be told (not "no reply").
			case time.Now().Before(deadline):
				return nil, first, ctx.Err()
			case last == nil: // accepted, but the handshake never completed
				return nil, first, &silentError{handshake: true, timeout: deadline.Sub(start)}
			}
			// Reported at the attempt's endpoint: the others had refused
			// already in this call.
			return nil, first, &unreachableError{err: last, retried: deadline.Sub(start), several: len(order) > 1}
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
