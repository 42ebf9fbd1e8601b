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
	out    chan [][]byte
	done   chan struct{}
	once   sync.Once
	// owed counts this client's requests not yet answered (the idle
	// timeout spares a client that waits for replies).
	owed atomic.Int64
}

func newPeer(conn *zmtp.Conn, queue int) *peer {
	remote := conn.RemoteAddr()
	if id := conn.Peer(); id != "" {
		remote += " (" + id + ")"
	}
	return &peer{conn: conn, remote: remote, out: make(chan [][]byte, queue), done: make(chan struct{})}
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
	for {
		select {
		case <-p.done:
			return
		case frames := <-p.out:
			if err := p.conn.WriteMsg(frames, writeTimeout); err != nil {
				log.Warn("send failed, dropping connection", "peer", p.remote, "err", err)
				p.close()
				return
			}
		}
	}
}

// close ends the connection; safe to call more than once.
func (p *peer) close() {
	p.once.Do(func() {
		close(p.done)
		p.conn.Close()
	})
}

// closeWhenDone closes the peer when ctx ends, unless it closed before.
func (p *peer) closeWhenDone(ctx context.Context) {
	select {
	case <-ctx.Done():
		p.close()
	case <-p.done:
	}
}
