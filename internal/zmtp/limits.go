package zmtp

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of Limits and Config.
const (
	// DefaultMaxMessage bounds one message (all its frames). Requests are
	// small; replies of large discoveries are not, so sockets that receive
	// replies set their own limit.
	DefaultMaxMessage = 1 << 20
	// DefaultMaxFrames bounds the frames of one message: vPoller messages
	// have at most a few routing frames and one payload.
	DefaultMaxFrames = 64
	// DefaultHandshakeTimeout bounds the greeting and the security
	// handshake of one connection.
	DefaultHandshakeTimeout = 5 * time.Second
	// handshakeBudget bounds the bytes a peer may send before the
	// handshake completes: a greeting and a few commands with metadata
	// need far less.
	handshakeBudget = 64 << 10
	// maxCommand bounds a ZMTP command after the handshake (PING, PONG,
	// ERROR): their bodies are a few bytes.
	maxCommand = 1 << 10
)

// Limits bound what one connection accepts.
type Limits struct {
	// MaxMessage is the largest message accepted, in bytes of all its
	// frames. 0 means DefaultMaxMessage.
	MaxMessage int64
	// MaxFrames is the most frames one message may have. 0 means
	// DefaultMaxFrames.
	MaxFrames int
	// Discard, when above MaxMessage, lets a clear-text message of up to
	// Discard bytes that exceeds MaxMessage be read and thrown away
	// without being stored: ReadMsg then returns a *TooLargeError that
	// leaves the connection usable, so the sender can be told. Larger
	// messages, and any over-size message under CURVE, end the connection.
	Discard int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxMessage <= 0 {
		l.MaxMessage = DefaultMaxMessage
	}
	if l.MaxFrames <= 0 {
		l.MaxFrames = DefaultMaxFrames
	}
	if l.Discard < l.MaxMessage {
		l.Discard = 0
	}
	return l
}

// TooLargeError reports a message above Limits.MaxMessage. When Fatal is
// false the message was read and thrown away and the connection can go on;
// Head holds the frames that came before the one that crossed the limit
// (the routing envelope of a request, for the error reply).
type TooLargeError struct {
	Size  int64 // bytes announced so far (at least)
	Limit int64
	Fatal bool
	Head  [][]byte
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("ZMTP message of at least %d bytes exceeds the limit of %d bytes", e.Size, e.Limit)
}

// ErrAuth marks a handshake refused for its credentials: a CURVE client
// key not in the allow-list, a CURVE client that does not know the
// server's key, a wrong PLAIN secret, or an ERROR from the peer.
var ErrAuth = errors.New("authentication failed")

// ErrProtocol marks bytes that are not ZMTP as this package speaks it.
var ErrProtocol = errors.New("ZMTP protocol error")

// ErrIdle reports that the read deadline passed before the next message
// began: nothing was consumed, and ReadMsg may be called again (after a
// new deadline) on the same connection.
var ErrIdle = errors.New("no message before the read deadline")

// ErrTooManyFrames reports a message with more than Limits.MaxFrames frames.
var ErrTooManyFrames = errors.New("ZMTP message has too many frames")
