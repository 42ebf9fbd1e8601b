package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// ErrNoReply reports that no attempt got a reply in time. Its text is the
// original Python client's message, so scripts and Zabbix items that match
// on it keep working; the error returned by Client.Do wraps it with the
// endpoint and the number of attempts.
//
//lint:ignore ST1005 the text is the original client's message, kept byte for byte
var ErrNoReply = errors.New("Did not receive response, aborting...")

// ErrClosed is returned by calls on a Client after Close.
var ErrClosed = errors.New("vpoller client: closed")

// Attempt is one try of a call that got no reply: which proxy it went to
// and what happened there. With several proxies this is what tells an
// operator which one to look at.
type Attempt struct {
	Endpoint string
	Err      error
}

// String is "<endpoint> <what happened>", e.g. "tcp://a:1 connection
// refused".
func (a Attempt) String() string { return a.Endpoint + " " + describe(a.Err) }

// CallError is the error of a call that got no reply: every attempt ran
// out (Err is ErrNoReply), the caller's context ended (Err is its error),
// or the proxies refused the handshake (Err wraps zmtp.ErrAuth or
// zmtp.ErrProtocol). It keeps the attempts so that a caller can name what
// was tried; errors.Is and errors.As see through it to Err.
type CallError struct {
	// Endpoint is the configured endpoint list.
	Endpoint string
	// Attempts are the failed attempts, in order.
	Attempts []Attempt
	// Err is what ended the call.
	Err error

	what      string // "no reply after 3 attempts of 1s", "attempt 2 of 3", ...
	showTried bool
}

// Tried lists the attempts, identical consecutive ones folded: "tcp://a:1
// connection refused; tcp://b:2 no reply within 1s (2 times)".
func (e *CallError) Tried() string {
	return e.fold(func(a Attempt) string { return a.String() })
}

// Summary words the attempts for a user who did not choose the proxies'
// names: "vPoller proxy <endpoint>: <what happened>" per attempt,
// identical consecutive ones folded, e.g. "vPoller proxy
// tcp://127.0.0.1:10123: connection refused (kept trying for 2.5s)".
func (e *CallError) Summary() string {
	return e.fold(func(a Attempt) string { return "vPoller proxy " + a.Endpoint + ": " + describe(a.Err) })
}

// fold words each attempt and joins them with "; ", identical
// consecutive ones once with their count.
func (e *CallError) fold(word func(Attempt) string) string {
	var parts []string
	last, n := "", 0
	flush := func() {
		if n > 1 {
			last += fmt.Sprintf(" (%d times)", n)
		}
		if n > 0 {
			parts = append(parts, last)
		}
	}
	for _, a := range e.Attempts {
		s := word(a)
		if s == last {
			n++
			continue
		}
		flush()
		last, n = s, 1
	}
	flush()
	return strings.Join(parts, "; ")
}

// Unreachable reports whether the call made attempts and every one
// failed to connect (connection refused, no route, a name that does not
// resolve): the proxies are down or the endpoints wrong, which a user is
// told in those words rather than "no answer".
func (e *CallError) Unreachable() bool {
	if len(e.Attempts) == 0 {
		return false
	}
	for _, a := range e.Attempts {
		var u *unreachableError
		if !errors.As(a.Err, &u) {
			return false
		}
	}
	return true
}

// Silent reports whether every attempt connected and then got no reply
// in time (or was cut by the call's deadline): the proxy is up, and the
// list of attempts adds nothing to "no answer".
func (e *CallError) Silent() bool {
	for _, a := range e.Attempts {
		var s *silentError
		var c *cutError
		if !errors.As(a.Err, &s) && !errors.As(a.Err, &c) {
			return false
		}
	}
	return true
}

func (e *CallError) Error() string {
	s := "vpoller client: " + e.Endpoint + ": " + e.what
	if t := e.Tried(); t != "" && e.showTried {
		s += " (" + t + ")"
	}
	return s + ": " + e.Err.Error()
}

func (e *CallError) Unwrap() error { return e.Err }

// errAttemptTimeout marks an attempt that ran out of its Timeout.
var errAttemptTimeout = errors.New("no reply within the attempt timeout")

// silentError is an attempt that ran out of its timeout: connected and
// sent but no reply came, or (connecting) a peer that accepted the
// connection never finished the handshake.
type silentError struct {
	handshake bool
	timeout   time.Duration
}

func (e *silentError) Error() string {
	if e.handshake {
		return fmt.Sprintf("no handshake within %v", round(e.timeout))
	}
	return fmt.Sprintf("no reply within %v", round(e.timeout))
}

// round makes a duration readable in a message: a share of a budget
// (Policy.Spread) is rarely a round number.
func round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
func (e *silentError) Unwrap() error { return errAttemptTimeout }

// unreachableError is a connection that failed at once: nothing
// listening (ECONNREFUSED), no route, a name that does not resolve, or a
// peer that closed the connection during the handshake. retried is how
// long the attempt kept trying (every endpoint had refused in this call),
// zero when it moved on at once.
type unreachableError struct {
	err     error
	retried time.Duration
	several bool // retried going round several endpoints
}

func (e *unreachableError) Error() string {
	s := "cannot connect: " + e.err.Error()
	if errors.Is(e.err, syscall.ECONNREFUSED) {
		s = "connection refused"
	}
	switch {
	case e.retried > 0 && e.several:
		s += fmt.Sprintf(" (kept trying every endpoint for %v)", round(e.retried))
	case e.retried > 0:
		s += fmt.Sprintf(" (kept trying for %v)", round(e.retried))
	}
	return s
}
func (e *unreachableError) Unwrap() error { return e.err }

// exchangeError is an I/O failure of an established socket (the peer
// closed the connection, for instance). On a socket reused from the idle
// pool it usually means the proxy restarted since the socket was opened.
type exchangeError struct{ err error }

func (e *exchangeError) Error() string { return "send/receive failed: " + e.err.Error() }
func (e *exchangeError) Unwrap() error { return e.err }

// refusedError is a handshake the proxy refused for our credentials (or
// a protocol mismatch): retrying that proxy cannot help.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return "handshake refused: " + e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// cutError is the attempt in progress when the caller's context ended.
type cutError struct{ err error }

func (e *cutError) Error() string {
	if errors.Is(e.err, context.DeadlineExceeded) {
		return "no reply before the call's deadline"
	}
	return "call cancelled"
}
func (e *cutError) Unwrap() error { return e.err }

// describe words what happened on one attempt.
func describe(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
