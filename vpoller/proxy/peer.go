package proxy

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
)

// peer is one ZMTP connection (a client or a worker) with its own bounded
// send queue and writer goroutine: a peer that stops reading fills only its
// own queue, and a write that cannot complete within writeTimeout drops
// that peer instead of blocking anyone else.
type peer struct {
	conn   *zmtp.Conn
	remote string
	out    chan outMsg
	done   chan struct{}
	// release gives a queued message's bytes back to the memory budget
	// once it is written or dropped; queued is told of them when queued.
	release, queued func(int64)

	mu     sync.Mutex // orders enqueue against close
	closed bool
	// owed counts this client's requests not yet answered (the idle
	// timeout spares a client that waits for replies).
	owed atomic.Int64
}

// outMsg is a queued message and the budget bytes it holds.
type outMsg struct {
	frames [][]byte
	charge int64
}

func newPeer(conn *zmtp.Conn, queue int, release, queued func(int64)) *peer {
	remote := conn.RemoteAddr()
	if id := conn.Peer(); id != "" {
		remote += " (" + id + ")"
	}
	none := func(int64) {}
	if release == nil {
		release = none
	}
	if queued == nil {
		queued = none
	}
	return &peer{conn: conn, remote: remote, out: make(chan outMsg, queue), done: make(chan struct{}), release: release, queued: queued}
}

// enqueue queues a message without ever blocking; false when the queue is
// full or the peer is gone.
func (p *peer) enqueue(frames [][]byte) bool { return p.enqueueCharged(frames, 0) }

// enqueueCharged queues a message that holds charge bytes of the memory
// budget: they are released once it is written or dropped. False when the
// queue is full or the peer is gone; the caller then still holds them.
func (p *peer) enqueueCharged(frames [][]byte, charge int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	select {
	case p.out <- outMsg{frames, charge}:
		p.queued(charge)
		return true
	default:
		return false
	}
}

// full reports whether the send queue has no room left.
func (p *peer) full() bool { return len(p.out) == cap(p.out) }

// writeLoop sends queued messages until the peer is closed or a write fails.
func (p *peer) writeLoop(writeTimeout time.Duration, log *slog.Logger) {
	for {
		select {
		case <-p.done:
			return
		case m := <-p.out:
			err := p.conn.WriteMsg(m.frames, writeTimeout)
			p.release(m.charge)
			if err != nil {
				log.Warn("send failed, dropping connection", "peer", p.remote, "err", err)
				p.close()
				return
			}
		}
	}
}

// close ends the connection and drops what is queued; safe to call more
// than once. Nothing is queued after it.
func (p *peer) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	p.conn.Close()
	for {
		select {
		case m := <-p.out:
			p.release(m.charge)
		default:
			return
		}
	}
}

// closeWhenDone closes the peer when ctx ends, unless it closed before.
func (p *peer) closeWhenDone(ctx context.Context) {
	select {
	case <-ctx.Done():
		p.close()
	case <-p.done:
	}
}
