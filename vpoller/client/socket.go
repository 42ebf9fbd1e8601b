package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// errAttemptTimeout marks an attempt that ran out of its Timeout.
var errAttemptTimeout = errors.New("no reply within the attempt timeout")

// exchangeError is an I/O failure of an established socket (the peer
// closed the connection, for instance). On a socket reused from the idle
// pool it usually means the proxy restarted since the socket was opened.
type exchangeError struct{ err error }

func (e *exchangeError) Error() string { return "send/receive failed: " + e.err.Error() }
func (e *exchangeError) Unwrap() error { return e.err }

// dialRetryFor picks zmq4's pause between failed connects and the number of
// connects, so that one zmq4 Dial lasts about one attempt timeout and never
// blocks forever (zmq4's own default is 10 retries 250 ms apart, and -1
// would retry forever).
func dialRetryFor(timeout time.Duration) (time.Duration, int) {
	retry := min(100*time.Millisecond, timeout/4)
	retry = max(retry, time.Millisecond)
	return retry, max(int(timeout/retry), 1)
}

// dial opens a fresh REQ socket connected to the endpoint. It gives up when
// expired fires, ctx is done or the client closes; zmq4's Dial cannot be
// interrupted, so it runs in a goroutine that closes the socket itself if
// the dial finished after we gave up (no socket is left open).
func (c *Client) dial(ctx context.Context, expired <-chan time.Time) (zmq4.Socket, error) {
	retry, maxRetries := dialRetryFor(c.opts.Timeout)
	sock := zmq4.NewReq(c.life,
		zmq4.WithDialerRetry(retry),
		zmq4.WithDialerMaxRetries(maxRetries),
		zmq4.WithDialerTimeout(c.opts.Timeout),
		zmq4.WithLogger(slog.NewLogLogger(c.log.Handler(), slog.LevelDebug)),
	)
	var abandoned atomic.Bool
	dialed := make(chan error, 1)
	go func() {
		err := sock.Dial(c.endpoint)
		if abandoned.Load() {
			// We gave up meanwhile; Close again in case Dial added its
			// connection after the first Close ran.
			_ = sock.Close()
		}
		dialed <- err
	}()
	abandon := func() {
		abandoned.Store(true)
		_ = sock.Close()
	}
	select {
	case err := <-dialed:
		if err != nil {
			_ = sock.Close()
			return nil, fmt.Errorf("connect: %w", err)
		}
		return sock, nil
	case <-expired:
		abandon()
		return nil, fmt.Errorf("connect: %w", errAttemptTimeout)
	case <-ctx.Done():
		abandon()
		return nil, ctx.Err()
	case <-c.done:
		abandon()
		return nil, ErrClosed
	}
}

// exchange sends one request on sock and waits for its reply. zmq4 has no
// receive timeout and a blocked Recv is released only by Close, so Send and
// Recv run in a goroutine; when we stop waiting we Close the socket and wait
// for that goroutine, which then returns at once. On any error the socket is
// closed and must not be reused.
func (c *Client) exchange(ctx context.Context, expired <-chan time.Time, sock zmq4.Socket, request []byte) ([]byte, error) {
	type result struct {
		reply []byte
		err   error
	}
	done := make(chan result, 1)
	go func() {
		if err := sock.Send(zmq4.NewMsg(request)); err != nil {
			done <- result{err: &exchangeError{err: fmt.Errorf("send: %w", err)}}
			return
		}
		msg, err := sock.Recv()
		if err != nil {
			done <- result{err: &exchangeError{err: fmt.Errorf("receive: %w", err)}}
			return
		}
		// One payload frame is the protocol; the REQ socket already took
		// the empty delimiter off.
		var reply []byte
		if len(msg.Frames) > 0 {
			reply = msg.Frames[0]
		}
		if reply == nil {
			reply = []byte{}
		}
		done <- result{reply: reply}
	}()
	stop := func(err error) ([]byte, error) {
		_ = sock.Close()
		<-done
		return nil, err
	}
	select {
	case r := <-done:
		if r.err != nil {
			_ = sock.Close()
		}
		return r.reply, r.err
	case <-expired:
		return stop(errAttemptTimeout)
	case <-ctx.Done():
		return stop(ctx.Err())
	case <-c.done:
		return stop(ErrClosed)
	}
}
