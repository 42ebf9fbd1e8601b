//go:build faults

package faults

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// Raw ZMTP 3 bytes beyond testutil's greeting and command frames.

// metaProperty encodes one metadata property of READY/INITIATE.
func metaProperty(name, value string) []byte {
	b := append([]byte{byte(len(name))}, name...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(value)))
	return append(b, value...)
}

// ready is a READY command announcing socketType.
func ready(socketType string) []byte {
	return testutil.Command("READY", metaProperty("Socket-Type", socketType))
}

// frame is a message frame; more marks a frame that others follow.
func frame(body []byte, more bool) []byte {
	var flags byte
	if more {
		flags = 0x01
	}
	if len(body) <= 255 {
		return append([]byte{flags, byte(len(body))}, body...)
	}
	return append(binary.BigEndian.AppendUint64([]byte{flags | 0x02}, uint64(len(body))), body...)
}

// frameHeader is the header of a long frame announcing size bytes.
func frameHeader(size uint64, more bool) []byte {
	flags := byte(0x02)
	if more {
		flags |= 0x01
	}
	return binary.BigEndian.AppendUint64([]byte{flags}, size)
}

// absurdFrame is a long frame header announcing 2^63-1 bytes: what made
// zmq4 call makeslice with an impossible length.
func absurdFrame() []byte { return frameHeader(1<<63-1, false) }

// the73Bytes is the reproduction: a valid NULL greeting, then a
// frame header announcing an absurd size (64 + 9 = 73 bytes).
func the73Bytes() []byte { return append(testutil.Greeting("NULL", false), absurdFrame()...) }

// randomBytes returns n random bytes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// rawConn is a hand-driven ZMTP connection.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(addr string, timeout time.Duration) (*rawConn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	return &rawConn{Conn: c, r: bufio.NewReader(c)}, nil
}

// readFrame reads one frame (command or message) with a sane size cap.
func (c *rawConn) readFrame() (flags byte, body []byte, err error) {
	flags, err = c.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	var size uint64
	if flags&0x02 != 0 {
		var b [8]byte
		if _, err := io.ReadFull(c.r, b[:]); err != nil {
			return 0, nil, err
		}
		size = binary.BigEndian.Uint64(b[:])
	} else {
		s, err := c.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		size = uint64(s)
	}
	if size > 64<<20 {
		return 0, nil, fmt.Errorf("peer announced a frame of %d bytes", size)
	}
	body = make([]byte, size)
	_, err = io.ReadFull(c.r, body)
	return flags, body, err
}

// readMsg reads the frames of one message.
func (c *rawConn) readMsg() ([][]byte, error) {
	var frames [][]byte
	for {
		flags, body, err := c.readFrame()
		if err != nil {
			return frames, err
		}
		if flags&0x04 != 0 {
			continue // a command (PING): skip
		}
		frames = append(frames, body)
		if flags&0x01 == 0 {
			return frames, nil
		}
	}
}

// handshake completes a client handshake presenting socketType: NULL, or
// PLAIN when user is not empty.
func (c *rawConn) handshake(socketType, user, pass string) error {
	mech := "NULL"
	if user != "" {
		mech = "PLAIN"
	}
	if _, err := c.Write(testutil.Greeting(mech, false)); err != nil {
		return fmt.Errorf("send greeting: %w", err)
	}
	g := make([]byte, 64)
	if _, err := io.ReadFull(c.r, g); err != nil {
		return fmt.Errorf("read greeting: %w", err)
	}
	if user != "" {
		hello := append([]byte{byte(len(user))}, user...)
		hello = append(append(hello, byte(len(pass))), pass...)
		if _, err := c.Write(testutil.Command("HELLO", hello)); err != nil {
			return fmt.Errorf("send HELLO: %w", err)
		}
		if _, body, err := c.readFrame(); err != nil || len(body) < 8 || string(body[1:8]) != "WELCOME" {
			return fmt.Errorf("no WELCOME (%q): %w", body, errors.Join(err, errors.New("PLAIN refused")))
		}
		if _, err := c.Write(testutil.Command("INITIATE", metaProperty("Socket-Type", socketType))); err != nil {
			return fmt.Errorf("send INITIATE: %w", err)
		}
	} else if _, err := c.Write(ready(socketType)); err != nil {
		return fmt.Errorf("send READY: %w", err)
	}
	if _, body, err := c.readFrame(); err != nil || len(body) < 6 || string(body[1:6]) != "READY" {
		return fmt.Errorf("no READY (%q): %w", body, errors.Join(err, errors.New("handshake refused")))
	}
	return nil
}

// drain reads until the peer closes or d passes; it reports whether the
// peer closed the connection.
func drain(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 32<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}
