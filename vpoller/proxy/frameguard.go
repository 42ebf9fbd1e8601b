package proxy

import (
	"fmt"
	"net"
)

// zmtpGreetingLen is the size of a ZMTP 3.x greeting; everything after it is
// a sequence of frames (commands and messages alike).
const zmtpGreetingLen = 64

// frameGuard follows the ZMTP byte stream a peer sends and rejects a frame
// whose announced size exceeds limit BEFORE the codec sees that size: the
// zmq4 codec allocates the announced size up front, so a hostile 8-byte
// length field could otherwise exhaust memory (a fatal, unrecoverable
// error in Go).
type frameGuard struct {
	limit uint64
	phase guardPhase
	skip  uint64 // bytes of greeting or frame body still to pass
	size  uint64 // long size being assembled
	nsize int    // bytes of the long size seen so far
}

type guardPhase uint8

const (
	phaseSkip  guardPhase = iota // inside the greeting or a frame body
	phaseFlags                   // next byte is a frame's flags
	phaseShort                   // next byte is a 1-byte size
	phaseLong                    // inside an 8-byte big-endian size
)

const (
	flagLong = 0x02 // ZMTP: the size field is 8 bytes
)

// FrameTooLargeError reports a frame that was refused by the guard.
type FrameTooLargeError struct {
	Size, Limit uint64
}

func (e *FrameTooLargeError) Error() string {
	return fmt.Sprintf("ZMTP frame of %d bytes exceeds the limit of %d bytes", e.Size, e.Limit)
}

func newFrameGuard(limit uint64) *frameGuard {
	return &frameGuard{limit: limit, phase: phaseSkip, skip: zmtpGreetingLen}
}

// feed inspects the next bytes of the stream.
func (g *frameGuard) feed(p []byte) error {
	for i := 0; i < len(p); {
		switch g.phase {
		case phaseSkip:
			n := uint64(len(p) - i)
			if n > g.skip {
				n = g.skip
			}
			g.skip -= n
			i += int(n)
			if g.skip == 0 {
				g.phase = phaseFlags
			}
		case phaseFlags:
			if p[i]&flagLong != 0 {
				g.phase, g.size, g.nsize = phaseLong, 0, 0
			} else {
				g.phase = phaseShort
			}
			i++
		case phaseShort:
			g.body(uint64(p[i]))
			i++
		case phaseLong:
			g.size = g.size<<8 | uint64(p[i])
			g.nsize++
			i++
			if g.nsize == 8 {
				if g.size > g.limit {
					return &FrameTooLargeError{Size: g.size, Limit: g.limit}
				}
				g.body(g.size)
			}
		}
	}
	return nil
}

func (g *frameGuard) body(size uint64) {
	if size == 0 {
		g.phase = phaseFlags
		return
	}
	g.phase, g.skip = phaseSkip, size
}

// guardedConn is a net.Conn whose incoming stream passes a frameGuard.
type guardedConn struct {
	net.Conn
	guard *frameGuard
}

func (c *guardedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if gerr := c.guard.feed(p[:n]); gerr != nil {
		return 0, gerr
	}
	return n, err
}
