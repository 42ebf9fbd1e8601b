package zmtp

import (
	"fmt"
	"net"
)

// zmtpGreetingLen is the size of a ZMTP 3 greeting.
const zmtpGreetingLen = 64

// handshakeGuard follows the bytes a peer sends during the greeting and
// the handshake commands, which zmq4 reads: it refuses a frame whose
// announced size exceeds what is left of the handshake budget BEFORE zmq4
// allocates that size, and any bytes beyond the budget. It also tells a
// listener when the peer makes progress (progress, called after every
// read that brought bytes), so that a full handshake pool closes the
// handshake that has waited longest for its peer.
type handshakeGuard struct {
	net.Conn
	progress func()
	left     int64 // bytes the peer may still send
	phase    guardPhase
	skip     int64 // bytes of greeting or frame body still to pass
	size     uint64
	nsize    int
}

type guardPhase uint8

const (
	phaseSkip  guardPhase = iota // inside the greeting or a frame body
	phaseFlags                   // next byte is a frame's flags
	phaseShort                   // next byte is a 1-byte size
	phaseLong                    // inside an 8-byte big-endian size
)

func newHandshakeGuard(c net.Conn, budget int64) *handshakeGuard {
	return &handshakeGuard{Conn: c, left: budget, phase: phaseSkip, skip: zmtpGreetingLen}
}

func (g *handshakeGuard) Read(p []byte) (int, error) {
	// zmq4 reads exactly what it needs, so a short read here never
	// swallows bytes that belong to the traffic after the handshake.
	n, err := g.Conn.Read(p)
	if n > 0 && g.progress != nil {
		g.progress()
	}
	if gerr := g.feed(p[:n]); gerr != nil {
		return 0, gerr
	}
	return n, err
}

func (g *handshakeGuard) feed(p []byte) error {
	g.left -= int64(len(p))
	if g.left < 0 {
		return fmt.Errorf("%w: handshake longer than %d bytes", ErrProtocol, handshakeBudget)
	}
	for i := 0; i < len(p); {
		switch g.phase {
		case phaseSkip:
			n := min(int64(len(p)-i), g.skip)
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
				if g.size > uint64(max(g.left, 0)) {
					return fmt.Errorf("%w: handshake frame of %d bytes exceeds the %d bytes left", ErrProtocol, g.size, g.left)
				}
				g.body(g.size)
			}
		}
	}
	return nil
}

func (g *handshakeGuard) body(size uint64) {
	if size == 0 {
		g.phase = phaseFlags
		return
	}
	g.phase, g.skip = phaseSkip, int64(size)
}
