package zmtp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// ZMTP frame flags (RFC 23) and the inner flags of a CURVE MESSAGE.
const (
	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04

	curveMore    = 0x01
	curveCommand = 0x02
)

// Config describes one end of a connection.
type Config struct {
	// Type is the ZeroMQ socket type this end presents (Router, Dealer,
	// Req, ...); the peer's type must be compatible.
	Type zmq4.SocketType
	// Mechanism is the security mechanism; nil means NULL.
	Mechanism Mechanism
	// Limits bound the messages received.
	Limits Limits
	// HandshakeTimeout bounds the greeting and the security handshake;
	// 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Metadata are application properties sent to the peer in the
	// handshake (names start with "X-", RFC 37); peers that do not know
	// them, libzmq among them, keep or ignore them. A vPoller worker tells
	// the proxy which vCenters it serves this way.
	Metadata map[string]string
}

// Conn is one ZMTP connection after a successful handshake. One goroutine
// may read (ReadMsg) while others write (WriteMsg, Ping); writes are
// serialised.
type Conn struct {
	raw    net.Conn
	br     *bufio.Reader
	codec  codec
	limits Limits
	peer   string
	ptype  zmq4.SocketType
	remote string
	meta   zmq4.Metadata // what the peer sent in its handshake

	wmu   sync.Mutex
	wbuf  []byte
	pings atomic.Uint64 // PING contexts sent

	closeOnce sync.Once

	// Reader state (the one reading goroutine's): inMsg is set while a
	// message or command is being read, when every raw read runs under
	// the stall deadline; deadlineSet says the raw deadline is not the
	// caller's; stallHit says the last deadline set was the stall one.
	inMsg, deadlineSet, stallHit bool
	// readDeadline is the caller's read deadline (UnixNano, 0: none).
	readDeadline atomic.Int64

	// lastActive is when the last message arrived, lastRead when the last
	// frame of any kind did, lastPong when the last PONG did (UnixNano; 0:
	// never). busy, set by the handler, tells a listener that evicts not
	// to pick this one.
	lastActive, lastRead, lastPong atomic.Int64
	busyFunc                       atomic.Pointer[func() bool]
}

// SetBusy tells the listener, when it must evict a connection to make
// room (ListenConfig.Evict), that this one must not be picked while f
// returns true: a proxy client with replies still owed, a management
// client being answered.
func (c *Conn) SetBusy(f func() bool) { c.busyFunc.Store(&f) }

func (c *Conn) busy() bool {
	f := c.busyFunc.Load()
	return f != nil && (*f)()
}

// Open performs the ZMTP greeting and handshake on raw as the server
// (accepting) or client (connecting) end, within cfg.HandshakeTimeout.
// It never panics on hostile input: the handshake's bytes are bounded and
// a panic inside zmq4 is turned into an error. raw is not closed on error.
func Open(raw net.Conn, cfg Config, server bool) (*Conn, error) {
	return open(raw, cfg, server, nil)
}

// open is Open with progress, when not nil, called after every read of
// the handshake that brought bytes (a listener ranks handshakes by it).
func open(raw net.Conn, cfg Config, server bool, progress func()) (conn *Conn, err error) {
	if cfg.Mechanism == nil {
		cfg.Mechanism = Null()
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if err := raw.SetDeadline(time.Now().Add(cfg.HandshakeTimeout)); err != nil {
		return nil, fmt.Errorf("set handshake deadline: %w", err)
	}
	hs := cfg.Mechanism.newHandshake()
	var sec zmq4.Security = hs
	if len(cfg.Metadata) > 0 {
		if err := checkMetadata(cfg.Metadata); err != nil {
			return nil, err
		}
		sec = withMetadata{handshake: hs, extra: cfg.Metadata}
	}
	defer func() {
		if r := recover(); r != nil {
			conn, err = nil, fmt.Errorf("%w: handshake with %s panicked in zmq4: %v\n%s", ErrProtocol, raw.RemoteAddr(), r, debug.Stack())
		}
	}()
	guard := newHandshakeGuard(raw, handshakeBudget)
	guard.progress = progress
	zc, err := zmq4.Open(guard, sec, cfg.Type, nil, server, nil)
	if err != nil {
		// zmq4 does not export its "mechanisms differ" error; name it,
		// since it means a configuration mismatch, not a passing fault.
		if strings.Contains(err.Error(), "invalid or unsupported security mechanism") {
			return nil, fmt.Errorf("%w: ZMTP handshake with %s: the peer does not use %s (CURVE, PLAIN or NULL on one side only?): %v",
				ErrProtocol, raw.RemoteAddr(), cfg.Mechanism.Name(), err)
		}
		return nil, fmt.Errorf("ZMTP %s handshake with %s: %w", cfg.Mechanism.Name(), raw.RemoteAddr(), err)
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("clear handshake deadline: %w", err)
	}
	c := &Conn{
		raw:    raw,
		codec:  hs.codec(),
		limits: cfg.Limits.withDefaults(),
		peer:   hs.peer(),
		ptype:  zmq4.SocketType(zc.Peer.Meta[propSocketType]),
		remote: remoteName(raw),
		meta:   zc.Peer.Meta,
	}
	c.br = bufio.NewReaderSize(stallReader{c}, 16<<10)
	now := time.Now().UnixNano()
	c.lastActive.Store(now)
	c.lastRead.Store(now) // the handshake's last command just arrived
	return c, nil
}

func remoteName(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	if a := c.LocalAddr(); a != nil {
		return a.Network() + ":" + a.String()
	}
	return "?"
}

// Peer is the authenticated identity of the peer: the CURVE client's
// allow-list name (or key), the PLAIN user; "" under NULL.
func (c *Conn) Peer() string { return c.peer }

// PeerMeta is a metadata property the peer sent in its handshake ("" when
// it sent none of that name).
func (c *Conn) PeerMeta(name string) string { return c.meta[name] }

// PeerType is the socket type the peer announced.
func (c *Conn) PeerType() zmq4.SocketType { return c.ptype }

// RemoteAddr names the peer for logs.
func (c *Conn) RemoteAddr() string { return c.remote }

// Close closes the connection; a blocked ReadMsg returns. Safe to call
// more than once and from any goroutine.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() { err = c.raw.Close() })
	return err
}

// SetReadDeadline bounds the next reads (an idle timeout, for instance).
// Inside a message the earlier of t and the stall deadline applies.
func (c *Conn) SetReadDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.readDeadline.Store(ns)
	return c.raw.SetReadDeadline(t)
}

func (c *Conn) callerDeadline() time.Time {
	if ns := c.readDeadline.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// LastRead is when the last frame of any kind arrived: a message frame, a
// PONG, any command (at first, when the handshake completed). A peer
// that answers PINGs or sends anything is alive.
func (c *Conn) LastRead() time.Time { return time.Unix(0, c.lastRead.Load()) }

// LastPong is when the last PONG arrived; the zero time when none did. A
// peer that never answered a Ping may not implement heartbeats at all.
func (c *Conn) LastPong() time.Time {
	if ns := c.lastPong.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Ping sends a ZMTP PING (RFC 37, ZMTP 3.1) with a context of 8 bytes,
// within timeout (0: no bound). The peer's PONG is read by ReadMsg (which
// must be running) and shows in LastPong and LastRead. The PING's TTL is
// 0 (none): with a TTL, a libzmq peer would close the connection whenever
// our next traffic came later than it, so a late heartbeat would cost the
// connection; liveness is judged on this side, from LastRead.
func (c *Conn) Ping(timeout time.Duration) error {
	body := binary.BigEndian.AppendUint16(nil, 0) // TTL, in tenths of a second
	body = binary.BigEndian.AppendUint64(body, c.pings.Add(1))
	if err := c.writeCommand(zmq4.CmdPing, body, timeout); err != nil {
		return fmt.Errorf("PING to %s: %w", c.remote, err)
	}
	return nil
}

// ReadMsg returns the next message's frames. ZMTP commands are handled
// (PING is answered, PONG noted) and skipped. Errors end the connection
// except ErrIdle and a *TooLargeError whose Fatal is false. With
// Limits.Budget the frames returned stay charged: see MsgBytes.
func (c *Conn) ReadMsg() ([][]byte, error) {
	frames, err := c.readMsg()
	if err == nil {
		c.lastActive.Store(time.Now().UnixNano())
	}
	return frames, err
}

// msgCharge is what one readMsg call holds of Limits.Budget.
type msgCharge struct {
	budget Budget
	held   int64
}

func (m *msgCharge) acquire(n int64) error {
	if n <= 0 {
		if n < 0 {
			m.release(-n)
		}
		return nil
	}
	if m.budget != nil && !m.budget.Acquire(n) {
		return fmt.Errorf("%w: %d more bytes of a message (%d held) do not fit", ErrBudget, n, m.held)
	}
	m.held += n
	return nil
}

func (m *msgCharge) release(n int64) {
	if n <= 0 {
		return
	}
	if m.budget != nil {
		m.budget.Release(n)
	}
	m.held -= n
}

func (c *Conn) readMsg() (frames [][]byte, err error) {
	charge := msgCharge{budget: c.limits.Budget}
	defer func() {
		c.endMsg()
		if err != nil {
			charge.release(charge.held)
			frames = nil
		}
	}()
	var (
		total      int64
		nframes    int
		discarding bool
	)
	for {
		atStart := nframes == 0
		if atStart {
			// Between messages (after a command too) only the caller's
			// deadline applies.
			c.endMsg()
		}
		flags, size, err := c.readHeader(atStart)
		if err != nil {
			return nil, err
		}
		if c.codec != nil {
			// Every frame after a CURVE handshake is a MESSAGE command
			// whose box carries the real flags; the outer flags say
			// nothing more.
			overhead := int64(c.codec.sealedLen(0))
			if size > uint64(c.limits.MaxMessage-total+overhead) {
				return nil, &TooLargeError{Size: total + int64(min(size, 1<<62)) - overhead, Limit: c.limits.MaxMessage, Fatal: true}
			}
			body, err := c.readBody(int64(size), &charge)
			if err != nil {
				return nil, err
			}
			inner, frame, err := c.codec.open(body)
			if err != nil {
				return nil, err
			}
			// The frame may alias body or be a copy: either way what
			// stays charged is the frame's capacity.
			if err := charge.acquire(int64(cap(frame)) - int64(len(body))); err != nil {
				return nil, err
			}
			if inner&curveCommand != 0 {
				if nframes > 0 {
					return nil, fmt.Errorf("%w: command inside a message", ErrProtocol)
				}
				err := c.command(frame)
				charge.release(int64(cap(frame)))
				if err != nil {
					return nil, err
				}
				continue
			}
			if nframes++; nframes > c.limits.MaxFrames {
				return nil, fmt.Errorf("%w: more than %d", ErrTooManyFrames, c.limits.MaxFrames)
			}
			total += int64(len(frame))
			frames = append(frames, frame)
			if inner&curveMore == 0 {
				return frames, nil
			}
			continue
		}
		if flags&flagCommand != 0 {
			if nframes > 0 {
				return nil, fmt.Errorf("%w: command inside a message", ErrProtocol)
			}
			if flags&flagMore != 0 {
				// RFC 23: a command is a single frame.
				return nil, fmt.Errorf("%w: command frame with MORE set", ErrProtocol)
			}
			if size > maxCommand {
				return nil, fmt.Errorf("%w: command of %d bytes", ErrProtocol, size)
			}
			// At most 1 KiB, dropped at once: not charged.
			body := make([]byte, size)
			if _, err := io.ReadFull(c.br, body); err != nil {
				return nil, err
			}
			c.lastRead.Store(time.Now().UnixNano())
			if err := c.command(body); err != nil {
				return nil, err
			}
			continue
		}
		if nframes++; nframes > c.limits.MaxFrames {
			return nil, fmt.Errorf("%w: more than %d", ErrTooManyFrames, c.limits.MaxFrames)
		}
		if size > uint64(c.limits.MaxMessage-total) || discarding {
			// Over the limit: throw the rest of the message away when
			// allowed, else end the connection before allocating.
			if c.limits.Discard == 0 || size > uint64(c.limits.Discard-total) {
				return nil, &TooLargeError{Size: total + int64(min(size, 1<<62)), Limit: c.limits.MaxMessage, Fatal: true}
			}
			discarding = true
			total += int64(size)
			if _, err := c.br.Discard(int(size)); err != nil {
				return nil, err
			}
			c.lastRead.Store(time.Now().UnixNano())
		} else {
			frame, err := c.readBody(int64(size), &charge)
			if err != nil {
				return nil, err
			}
			total += int64(size)
			frames = append(frames, frame)
		}
		if flags&flagMore == 0 {
			if discarding {
				return nil, &TooLargeError{Size: total, Limit: c.limits.MaxMessage, Head: frames}
			}
			return frames, nil
		}
	}
}

// readBody reads a frame body of n bytes (n within the message limit).
// It allocates in chunks, each charged before it is allocated: a first
// chunk of firstChunk bytes, then chunks that double up to ReadChunk, so
// that what is charged is never more than one chunk ahead of what
// arrived. A body that spans several chunks is copied into one buffer
// once its last byte arrived; the chunks' charge passes to that buffer
// (for the moment of the copy the memory is held twice, the charge once).
func (c *Conn) readBody(n int64, charge *msgCharge) ([]byte, error) {
	if n <= firstChunk {
		if err := charge.acquire(n); err != nil {
			return nil, err
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(c.br, b); err != nil {
			return nil, err
		}
		c.lastRead.Store(time.Now().UnixNano())
		return b, nil
	}
	var (
		chunks [][]byte
		got    int64
	)
	for got < n {
		k := min(n-got, ReadChunk, max(firstChunk, got))
		if err := charge.acquire(k); err != nil {
			return nil, err
		}
		chunk := make([]byte, k)
		if _, err := io.ReadFull(c.br, chunk); err != nil {
			return nil, err
		}
		chunks = append(chunks, chunk)
		got += k
	}
	body := make([]byte, 0, n)
	for i, chunk := range chunks {
		body = append(body, chunk...)
		chunks[i] = nil
	}
	c.lastRead.Store(time.Now().UnixNano())
	return body, nil
}

// readHeader reads one frame's flags and size. At a message boundary
// (atStart), a read deadline that passes before any byte arrived is
// ErrIdle: the connection is still in step and can be read again. Once
// the first byte is there the message has begun, and each further read
// runs under the stall deadline.
func (c *Conn) readHeader(atStart bool) (byte, uint64, error) {
	if atStart {
		if _, err := c.br.Peek(1); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, 0, fmt.Errorf("%w: %w", ErrIdle, err)
			}
			return 0, 0, err
		}
		c.inMsg = true
	}
	var hdr [9]byte
	if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
		return 0, 0, err
	}
	flags := hdr[0]
	if flags&^(flagMore|flagLong|flagCommand) != 0 {
		return 0, 0, fmt.Errorf("%w: reserved frame flags %#02x", ErrProtocol, flags)
	}
	if flags&flagLong == 0 {
		return flags, uint64(hdr[1]), nil
	}
	if _, err := io.ReadFull(c.br, hdr[2:9]); err != nil {
		return 0, 0, err
	}
	return flags, binary.BigEndian.Uint64(hdr[1:9]), nil
}

// endMsg is called at every message boundary: the caller's deadline
// applies again.
func (c *Conn) endMsg() {
	c.inMsg = false
	if c.deadlineSet {
		c.deadlineSet = false
		_ = c.raw.SetReadDeadline(c.callerDeadline())
	}
}

// stallReader is what the connection's bufio.Reader reads from: inside a
// message each read of the socket runs under the stall deadline (or the
// caller's, when earlier), so that a message that stops making progress
// ends the connection.
type stallReader struct{ c *Conn }

func (r stallReader) Read(p []byte) (int, error) {
	c := r.c
	if c.inMsg {
		d := time.Now().Add(c.limits.StallTimeout)
		c.stallHit = true
		if caller := c.callerDeadline(); !caller.IsZero() && !caller.After(d) {
			d, c.stallHit = caller, false
		}
		if err := c.raw.SetReadDeadline(d); err != nil {
			return 0, err
		}
		c.deadlineSet = true
	}
	n, err := c.raw.Read(p)
	if err != nil && c.inMsg && c.stallHit && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w: no byte from %s for %s inside a message: %w", ErrStalled, c.remote, c.limits.StallTimeout, err)
	}
	return n, err
}

// command handles a ZMTP command received after the handshake: PING is
// answered with PONG, PONG is noted, ERROR ends the connection, others
// are ignored.
func (c *Conn) command(body []byte) error {
	if len(body) == 0 || int(body[0]) > len(body)-1 {
		return fmt.Errorf("%w: malformed command", ErrProtocol)
	}
	name, data := string(body[1:1+int(body[0])]), body[1+int(body[0]):]
	switch name {
	case zmq4.CmdPing:
		// PING: TTL (2 bytes) and a context of up to 16 bytes, echoed.
		if len(data) < 2 {
			return fmt.Errorf("%w: short PING", ErrProtocol)
		}
		ctx := data[2:]
		if len(ctx) > 16 {
			ctx = ctx[:16]
		}
		return c.writeCommand(zmq4.CmdPong, ctx, 10*time.Second)
	case zmq4.CmdPong:
		c.lastPong.Store(time.Now().UnixNano())
	case zmq4.CmdError:
		return fmt.Errorf("%w: peer sent ERROR %s", ErrProtocol, errorReason(data))
	}
	return nil
}

// WriteMsg sends one message with a single Write, bounded by timeout
// (0: no bound). A failed write leaves the connection unusable.
func (c *Conn) WriteMsg(frames [][]byte, timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	buf := c.wbuf[:0]
	for i, f := range frames {
		more := i < len(frames)-1
		buf = c.appendFrame(buf, more, false, f)
	}
	return c.flush(buf, timeout)
}

func (c *Conn) writeCommand(name string, data []byte, timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	body := append([]byte{byte(len(name))}, name...)
	body = append(body, data...)
	return c.flush(c.appendFrame(c.wbuf[:0], false, true, body), timeout)
}

// appendFrame encodes one frame (locked).
func (c *Conn) appendFrame(buf []byte, more, command bool, f []byte) []byte {
	var flags byte
	n := len(f)
	if c.codec != nil {
		var inner byte
		if more {
			inner |= curveMore
		}
		if command {
			inner |= curveCommand
		}
		n = c.codec.sealedLen(len(f))
		buf = appendHeader(buf, 0, n)
		return c.codec.seal(buf, inner, f)
	}
	if more {
		flags |= flagMore
	}
	if command {
		flags |= flagCommand
	}
	buf = appendHeader(buf, flags, n)
	return append(buf, f...)
}

func appendHeader(buf []byte, flags byte, n int) []byte {
	if n > 255 {
		buf = append(buf, flags|flagLong)
		return binary.BigEndian.AppendUint64(buf, uint64(n))
	}
	return append(buf, flags, byte(n))
}

func (c *Conn) flush(buf []byte, timeout time.Duration) error {
	if timeout > 0 {
		if err := c.raw.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
	}
	_, err := c.raw.Write(buf)
	if timeout > 0 && err == nil {
		err = c.raw.SetWriteDeadline(time.Time{})
	}
	if cap(buf) > 1<<20 {
		buf = nil // do not keep a large message's buffer around
	}
	c.wbuf = buf
	return err
}

// IsTooLarge reports whether err is a *TooLargeError the connection
// survives (the message was thrown away).
func IsTooLarge(err error) (*TooLargeError, bool) {
	var te *TooLargeError
	if errors.As(err, &te) && !te.Fatal {
		return te, true
	}
	return nil, false
}
