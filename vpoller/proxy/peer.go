package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// peer is one ZMTP connection (a client or a worker) with its own bounded
// send queue and writer goroutine: a peer that stops reading fills only its
// own queue, and a write that cannot complete within writeTimeout drops
// that peer instead of blocking anyone else.
type peer struct {
	conn   *zmq4.Conn
	raw    net.Conn
	remote string
	out    chan [][]byte
	done   chan struct{}
	once   sync.Once
}

// openPeer performs the ZMTP handshake on an accepted connection, presenting
// the given socket type. The handshake is bounded so a peer that connects
// and says nothing cannot hold a goroutine forever.
func openPeer(raw net.Conn, typ zmq4.SocketType, frameLimit uint64, queue int, handshake time.Duration) (*peer, error) {
	g := &guardedConn{Conn: raw, guard: newFrameGuard(frameLimit)}
	if err := raw.SetDeadline(time.Now().Add(handshake)); err != nil {
		return nil, fmt.Errorf("set handshake deadline: %w", err)
	}
	conn, err := zmq4.Open(g, null.Security(), typ, nil, false, nil)
	if err != nil {
		return nil, fmt.Errorf("ZMTP handshake with %s: %w", raw.RemoteAddr(), err)
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("clear handshake deadline: %w", err)
	}
	return &peer{
		conn:   conn,
		raw:    raw,
		remote: raw.RemoteAddr().String(),
		out:    make(chan [][]byte, queue),
		done:   make(chan struct{}),
	}, nil
}

// enqueue queues a message without ever blocking; false when the queue is
// full or the peer is gone.
func (p *peer) enqueue(frames [][]byte) bool {
	select {
	case <-p.done:
		return false
	default:
	}
	select {
	case p.out <- frames:
		return true
	default:
		return false
	}
}

// full reports whether the send queue has no room left.
func (p *peer) full() bool { return len(p.out) == cap(p.out) }

// writeLoop sends queued messages until the peer is closed or a write fails.
func (p *peer) writeLoop(writeTimeout time.Duration, log *slog.Logger) {
	var buf []byte
	for {
		select {
		case <-p.done:
			return
		case frames := <-p.out:
			if err := p.raw.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
				p.close()
				return
			}
			buf = appendMessage(buf[:0], frames)
			_, err := p.raw.Write(buf)
			if cap(buf) > 1<<20 {
				buf = nil // do not keep a large message's buffer around
			}
			if err != nil {
				log.Warn("send failed, dropping connection", "peer", p.remote, "err", err)
				p.close()
				return
			}
		}
	}
}

// recv returns the next user message, skipping ZMTP commands (PING and
// the like, which the codec answers itself).
func (p *peer) recv() ([][]byte, error) {
	for {
		msg, err := p.conn.RecvMsg()
		if err != nil {
			return nil, err
		}
		if msg.Type == zmq4.CmdMsg {
			continue
		}
		return msg.Frames, nil
	}
}

// close ends the connection; safe to call more than once.
func (p *peer) close() {
	p.once.Do(func() {
		close(p.done)
		p.raw.Close()
	})
}

// closeWhenDone closes the peer when ctx ends, until stop is closed.
func (p *peer) closeWhenDone(ctx context.Context) {
	select {
	case <-ctx.Done():
		p.close()
	case <-p.done:
	}
}
