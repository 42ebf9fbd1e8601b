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
// may read (ReadMsg) while others write (WriteMsg); writes are serialised.
type Conn struct {
	raw    net.Conn
	br     *bufio.Reader
	codec  codec
	limits Limits
	peer   string
	ptype  zmq4.SocketType
	remote string
	meta   zmq4.Metadata // what the peer sent in its handshake

	wmu  sync.Mutex
	wbuf []byte

	closeOnce sync.Once

	// lastActive is when the last message arrived (UnixNano); busy, set
	// by the handler, tells a listener that evicts not to pick this one.
	lastActive atomic.Int64
	busyFunc   atomic.Pointer[func() bool]
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
func Open(raw net.Conn, cfg Config, server bool) (conn *Conn, err error) {
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
	zc, err := zmq4.Open(newHandshakeGuard(raw, handshakeBudget), sec, cfg.Type, nil, server, nil)
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
		br:     bufio.NewReaderSize(raw, 16<<10),
		codec:  hs.codec(),
		limits: cfg.Limits.withDefaults(),
		peer:   hs.peer(),
		ptype:  zmq4.SocketType(zc.Peer.Meta[propSocketType]),
		remote: remoteName(raw),
		meta:   zc.Peer.Meta,
	}
	c.lastActive.Store(time.Now().UnixNano())
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
func (c *Conn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// ReadMsg returns the next message's frames. ZMTP commands are handled
// (PING is answered) and skipped. Errors end the connection except a
// *TooLargeError whose Fatal is false.
func (c *Conn) ReadMsg() ([][]byte, error) {
	frames, err := c.readMsg()
	if err == nil {
		c.lastActive.Store(time.Now().UnixNano())
	}
	return frames, err
}

func (c *Conn) readMsg() ([][]byte, error) {
	var (
		frames     [][]byte
		total      int64
		nframes    int
		discarding bool
	)
	for first := true; ; first = false {
		flags, size, err := c.readHeader(first && len(frames) == 0)
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
			body := make([]byte, size)
			if _, err := io.ReadFull(c.br, body); err != nil {
				return nil, err
			}
			inner, frame, err := c.codec.open(body)
			if err != nil {
				return nil, err
			}
			if inner&curveCommand != 0 {
				if nframes > 0 {
					return nil, fmt.Errorf("%w: command inside a message", ErrProtocol)
				}
				if err := c.command(frame); err != nil {
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
			if size > maxCommand {
				return nil, fmt.Errorf("%w: command of %d bytes", ErrProtocol, size)
			}
			body := make([]byte, size)
			if _, err := io.ReadFull(c.br, body); err != nil {
				return nil, err
			}
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
		} else {
			frame := make([]byte, size)
			if _, err := io.ReadFull(c.br, frame); err != nil {
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

// readHeader reads one frame's flags and size. At a message boundary
// (atStart), a read deadline that passes before any byte arrived is
// ErrIdle: the connection is still in step and can be read again.
func (c *Conn) readHeader(atStart bool) (byte, uint64, error) {
	var hdr [9]byte
	if n, err := io.ReadFull(c.br, hdr[:2]); err != nil {
		if atStart && n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, 0, fmt.Errorf("%w: %w", ErrIdle, err)
		}
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

// command handles a ZMTP command received after the handshake: PING is
// answered with PONG, ERROR ends the connection, others are ignored.
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
