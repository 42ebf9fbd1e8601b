package zmtp

import (
	"container/list"
	"context"
	"net"
	"sync"
	"time"
)

// evictor keeps a listener's open connections in the order they were
// accepted, so that at the connection cap the oldest one can make room
// for a new one (ListenConfig.EvictOldest). A nil evictor keeps nothing.
type evictor struct {
	mu    sync.Mutex
	order list.List // of net.Conn, oldest first
}

// add records an accepted connection.
func (e *evictor) add(c net.Conn) *list.Element {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.order.PushBack(c)
}

// remove forgets a connection that ended (a no-op when it was evicted).
func (e *evictor) remove(el *list.Element) {
	if e == nil || el == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.order.Remove(el)
}

// closeOldest closes the longest-open connection and forgets it; false
// when there is none.
func (e *evictor) closeOldest() bool {
	if e == nil {
		return false
	}
	e.mu.Lock()
	el := e.order.Front()
	if el != nil {
		e.order.Remove(el)
	}
	e.mu.Unlock()
	if el == nil {
		return false
	}
	_ = el.Value.(net.Conn).Close()
	return true
}

// evictWait bounds the wait for the slot an evicted connection frees (its
// goroutine ends as soon as its blocked read or handshake returns).
const evictWait = time.Second

// makeRoom, at the cap of a listener with EvictOldest, closes the oldest
// connection and takes the slot it frees; false when that is not possible.
func (l *Listener) makeRoom(ctx context.Context, peer net.Addr) bool {
	if !l.open.closeOldest() {
		return false
	}
	l.evicted.Add(1)
	if l.warn.Allow() {
		l.log.Warn("connection cap reached: the oldest connection was closed to make room", "limit", l.cfg.MaxConns,
			"peer", peer, "suppressed", l.warn.Suppressed())
	}
	t := time.NewTimer(evictWait)
	defer t.Stop()
	select {
	case l.sem <- struct{}{}:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}
