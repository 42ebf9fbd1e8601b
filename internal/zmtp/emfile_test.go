package zmtp

import (
	"context"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// A real EMFILE: the process's file limit is lowered until the listener's
// Accept fails for want of a descriptor. The accept loop must back off and
// keep going (it used to return for good while status said "running"):
// once descriptors are free again a client is served.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	l := serveEcho(t, ListenConfig{Config: Config{Type: zmq4.Router}})
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = uint64(len(fds) + 8)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
				t.Error(err)
			}
		}
	}
	defer restore()

	// Dial until the table is full; the connections the kernel queued but
	// the listener cannot accept make Accept fail with EMFILE.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().AcceptErrors == 0 && time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second)
		if err == nil {
			conns = append(conns, c)
			continue
		}
		time.Sleep(10 * time.Millisecond)
	}
	if l.Stats().AcceptErrors == 0 {
		t.Fatalf("no accept error after %d connections; stats %+v", len(conns), l.Stats())
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	restore()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, l.Endpoint(), Config{Type: zmq4.Dealer})
	if err != nil {
		t.Fatalf("after EMFILE: %v (stats %+v)", err, l.Stats())
	}
	defer c.Close()
	if err := c.WriteMsg([][]byte{[]byte("alive")}, time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadMsg(); err != nil || string(got[0]) != "alive" {
		t.Fatalf("after EMFILE: %s, %v", describe(got), err)
	}
}
