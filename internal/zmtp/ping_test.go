package zmtp

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// Ping sends a ZMTP PING; the peer's PONG is read by ReadMsg and shows in
// LastPong and LastRead. Peers: our own Conn, libzmq 4.3 (a pyzmq DEALER
// with no heartbeat option, as a Python vPoller worker; we greet it as
// zmq4 does, ZMTP 3.0) under NULL and CURVE, and a peer that does not
// know PING at all. The stream's order makes the check exact: the peer's
// reply to a message sent after the PING comes after its PONG.
func TestPing(t *testing.T) {
	server, client := keyPair(t), keyPair(t)
	cases := []struct {
		name     string
		peer     string // "own", "libzmq", "raw"
		curve    bool
		wantPong bool
	}{
		{"own NULL", "own", false, true},
		{"own CURVE", "own", true, true},
		{"libzmq NULL", "libzmq", false, true},
		{"libzmq CURVE", "libzmq", true, true},
		{"no heartbeats", "raw", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := Null(), Null()
			if tc.curve {
				srv, cli = CurveServer(server, nil), CurveClient(server.Public, client)
			}
			type pinged struct {
				first, before, pong, read time.Time
				err                       error
			}
			out := make(chan pinged, 1)
			l, err := Listen("tcp://127.0.0.1:0", ListenConfig{Config: Config{Type: zmq4.Router, Mechanism: srv}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = l.Serve(ctx, func(_ context.Context, c *Conn) {
					var p pinged
					defer func() { out <- p }()
					_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
					if m, err := c.ReadMsg(); err != nil || string(m[len(m)-1]) != "hello" {
						p.err = err
						return
					}
					p.first, p.before = c.LastPong(), time.Now()
					if p.err = c.Ping(5 * time.Second); p.err != nil {
						return
					}
					if p.err = c.WriteMsg([][]byte{[]byte("after-ping")}, 5*time.Second); p.err != nil {
						return
					}
					if m, err := c.ReadMsg(); err != nil || string(m[len(m)-1]) != "ack:after-ping" {
						p.err = err
						return
					}
					p.pong, p.read = c.LastPong(), c.LastRead()
				})
			}()
			defer func() { cancel(); <-done }()

			switch tc.peer {
			case "libzmq":
				args := []string{"testdata/ping_peer.py", "dealer", l.Endpoint()}
				if tc.curve {
					testutil.Python(t, true)
					args = append(args, server.Public.String(), client.Public.String(), client.Secret.String())
				}
				testutil.StartPython(t, args...)
			case "own":
				c := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer, Mechanism: cli})
				go func() {
					if c.WriteMsg([][]byte{[]byte("hello")}, time.Second) != nil {
						return
					}
					for {
						m, err := c.ReadMsg()
						if err != nil {
							return
						}
						if c.WriteMsg([][]byte{append([]byte("ack:"), m[0]...)}, time.Second) != nil {
							return
						}
					}
				}()
			case "raw":
				raw, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer raw.Close()
				go func() {
					stream := append(append(testutil.Greeting("NULL", false), testutil.Ready("DEALER")...), frame(false, []byte("hello"))...)
					if _, err := raw.Write(stream); err != nil {
						return
					}
					var got []byte
					buf := make([]byte, 512)
					for !bytes.Contains(got, frame(false, []byte("after-ping"))) {
						n, err := raw.Read(buf)
						if err != nil {
							return
						}
						got = append(got, buf[:n]...)
					}
					_, _ = raw.Write(frame(false, []byte("ack:after-ping")))
				}()
			}
			var p pinged
			select {
			case p = <-out:
			case <-time.After(15 * time.Second):
				t.Fatal("no exchange within 15 s")
			}
			if p.err != nil {
				t.Fatal(p.err)
			}
			if !p.first.IsZero() {
				t.Fatalf("LastPong %s before any PING", p.first)
			}
			if p.read.Before(p.before) {
				t.Fatalf("LastRead %s before the exchange (%s)", p.read, p.before)
			}
			if !tc.wantPong {
				if !p.pong.IsZero() {
					t.Fatalf("PONG noted from a peer that sends none: %s", p.pong)
				}
				return
			}
			if p.pong.Before(p.before) || p.read.Before(p.pong) {
				t.Fatalf("no PONG: LastPong %s, LastRead %s, PING sent after %s", p.pong, p.read, p.before)
			}
		})
	}
}

// The PING on the wire: TTL 0 (none) and an 8-byte context, counting.
func TestPingBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, server := tcpPair(t, ln)
	if _, err := client.Write(append(testutil.Greeting("NULL", false), testutil.Ready("DEALER")...)); err != nil {
		t.Fatal(err)
	}
	c, err := Open(server, Config{Type: zmq4.Router}, true)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.Ping(time.Second); err != nil {
			t.Fatal(err)
		}
	}
	want := append(testutil.Command("PING", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
		testutil.Command("PING", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 2})...)
	var got []byte
	buf := make([]byte, 512)
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	for !bytes.HasSuffix(got, want) {
		n, err := client.Read(buf)
		if err != nil {
			t.Fatalf("got % x, want it to end with % x: %v", got, want, err)
		}
		got = append(got, buf[:n]...)
	}
	c.Close()
	if err := c.Ping(time.Second); err == nil || !strings.Contains(err.Error(), "PING") {
		t.Fatalf("PING on a closed connection: %v", err)
	}
}
