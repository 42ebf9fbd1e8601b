package zmtp

import (
	"errors"
	"fmt"
	"sync/atomic"
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
	// DefaultStallTimeout bounds the wait for the next byte of a message
	// that has begun: a peer that stops in the middle of a message cannot
	// hold the memory it was charged for longer than that.
	DefaultStallTimeout = 10 * time.Second
	// ReadChunk is the most a reader allocates (and charges to the
	// Budget) ahead of the bytes that arrived: frames are read in chunks
	// of at most this size, never at the size their header announces.
	ReadChunk = 64 << 10
	// firstChunk is the first chunk of a frame; the chunks then double up
	// to ReadChunk, so that a peer that announces a large frame and sends
	// a few bytes is charged for little more than those bytes.
	firstChunk = 4 << 10
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
	// Budget, when set, is charged for the message data a connection
	// reads, as it arrives: before each chunk is allocated (at most
	// ReadChunk bytes ahead of what arrived). It is how one process bounds
	// the memory that all its peers together can make it hold. A chunk
	// that does not fit ends the connection with ErrBudget. What a
	// successful ReadMsg returns stays charged, and the caller releases
	// it (see MsgBytes); on an error nothing stays charged. nil: no budget.
	// Listeners share their Config's Budget among all their connections.
	Budget Budget
	// StallTimeout bounds the wait for each read once a message (or a
	// command) has begun: a peer that sends nothing for that long in the
	// middle of one ends the connection with ErrStalled, and its charge is
	// released. 0 means DefaultStallTimeout. Between messages only the
	// caller's read deadline (SetReadDeadline) applies.
	StallTimeout time.Duration
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
	if l.StallTimeout <= 0 {
		l.StallTimeout = DefaultStallTimeout
	}
	return l
}

// Budget is a shared allowance of bytes of message data. Acquire takes n
// bytes and reports false, taking nothing, when they do not fit; Release
// gives back what was taken. Both are called from many connections'
// goroutines at once.
type Budget interface {
	Acquire(n int64) bool
	Release(n int64)
}

// MsgBytes is what a message returned by ReadMsg stays charged to
// Limits.Budget for: the sum of its frames' capacities. The caller that
// is done with the frames (sent them on, dropped them) calls
// Budget.Release(MsgBytes(frames)) once; a caller that keeps only part
// of them releases the rest when it drops it.
func MsgBytes(frames [][]byte) int64 {
	var n int64
	for _, f := range frames {
		n += int64(cap(f))
	}
	return n
}

// MemoryBudget is a Budget of a fixed number of bytes.
type MemoryBudget struct {
	limit int64
	used  atomic.Int64
}

// NewMemoryBudget returns a budget of limit bytes.
func NewMemoryBudget(limit int64) *MemoryBudget { return &MemoryBudget{limit: limit} }

// Acquire takes n bytes when they fit under the limit.
func (b *MemoryBudget) Acquire(n int64) bool {
	for {
		used := b.used.Load()
		if used+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// Release gives back n bytes.
func (b *MemoryBudget) Release(n int64) { b.used.Add(-n) }

// Used is the number of bytes taken now.
func (b *MemoryBudget) Used() int64 { return b.used.Load() }

// Limit is the budget's size.
func (b *MemoryBudget) Limit() int64 { return b.limit }

// TooLargeError reports a message above Limits.MaxMessage. When Fatal is
// false the message was read and thrown away and the connection can go on;
// Head holds the frames that came before the one that crossed the limit
// (the routing envelope of a request, for the error reply). Head is not
// charged to Limits.Budget: it is meant for the reply and then dropped.
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

// ErrBudget reports that the next chunk of a message did not fit in
// Limits.Budget: the connection is unusable (the rest of the message was
// not read) and its charge was released.
var ErrBudget = errors.New("memory budget exhausted")

// ErrStalled reports a message that began and then brought no byte for
// Limits.StallTimeout: the connection is unusable and its charge was
// released.
var ErrStalled = errors.New("ZMTP message stalled")
