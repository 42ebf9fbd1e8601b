package zmtp

import (
	"net"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// With EvictOldest, idle connections at the cap cannot lock a new client
// out: the oldest one is closed to make room (management sockets). Half-
// open connections (no greeting) count as well.
func TestEvictOldestMakesRoom(t *testing.T) {
	l := serveEcho(t, ListenConfig{Config: Config{Type: zmq4.Router, HandshakeTimeout: 30 * time.Second}, MaxConns: 2, EvictOldest: true})
	oldest := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	halfOpen, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer halfOpen.Close()
	waitActive(t, l, 2)

	c := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	if err := c.WriteMsg([][]byte{[]byte("hello")}, time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadMsg(); err != nil || string(got[0]) != "hello" {
		t.Fatalf("new connection at the cap: %s, %v (stats %+v)", describe(got), err, l.Stats())
	}
	_ = oldest.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := oldest.ReadMsg(); err == nil || err == ErrIdle {
		t.Fatalf("the oldest connection was not closed: %v", err)
	}
	if st := l.Stats(); st.Evicted != 1 || st.Refused != 0 {
		t.Fatalf("stats %+v, want 1 evicted, 0 refused", st)
	}

	// The next one evicts the half-open connection.
	c2 := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	if err := c2.WriteMsg([][]byte{[]byte("again")}, time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := c2.ReadMsg(); err != nil || string(got[0]) != "again" {
		t.Fatalf("second new connection: %s, %v", describe(got), err)
	}
	_ = halfOpen.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := halfOpen.Read(make([]byte, 128)); err == nil {
		// The server greeting may arrive first; the close follows.
		if _, err := halfOpen.Read(make([]byte, 128)); err == nil {
			t.Fatal("the half-open connection was not closed")
		}
	}
}

// waitActive waits until the listener counts n open connections.
func waitActive(t *testing.T, l *Listener, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Active < n {
		if time.Now().After(deadline) {
			t.Fatalf("active %d, want %d", l.Stats().Active, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
