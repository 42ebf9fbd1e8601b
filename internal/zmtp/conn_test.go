package zmtp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

func TestRoundTripNull(t *testing.T) {
	l := serveEcho(t, ListenConfig{Config: Config{Type: zmq4.Router}})
	c := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	if c.PeerType() != zmq4.Router {
		t.Fatalf("peer type %q", c.PeerType())
	}
	msgs := [][][]byte{
		{[]byte("a")},
		{{}, []byte(`{"method": "about"}`)},
		{[]byte("id"), {}, bytes.Repeat([]byte("x"), 300), bytes.Repeat([]byte("y"), 70000)},
	}
	for _, m := range msgs {
		if err := c.WriteMsg(m, time.Second); err != nil {
			t.Fatal(err)
		}
		got, err := c.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(m) {
			t.Fatalf("got %d frames, want %d", len(got), len(m))
		}
		for i := range m {
			if !bytes.Equal(got[i], m[i]) {
				t.Fatalf("frame %d: got %d bytes, want %d", i, len(got[i]), len(m[i]))
			}
		}
	}
}

func TestIncompatibleSocketTypes(t *testing.T) {
	l := serveEcho(t, ListenConfig{Config: Config{Type: zmq4.Router}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if c, err := Dial(ctx, l.Endpoint(), Config{Type: zmq4.Pub}); err == nil {
		c.Close()
		t.Fatal("PUB connected to ROUTER")
	}
}

// The message limit holds for the sum of the frames, not each frame: six
// frames of 300 KB in one message (1.8 MB) pass no per-frame cap of 1 MiB
// but are refused; with Discard the sender gets an answer and the
// connection goes on.
func TestMessageLimit(t *testing.T) {
	big := bytes.Repeat([]byte("z"), 300_000)
	six := [][]byte{{}, big, big, big, big, big, big}
	cases := []struct {
		name    string
		limits  Limits
		wantErr bool // the connection ends
	}{
		{"fatal", Limits{MaxMessage: 1 << 20}, true},
		{"discard", Limits{MaxMessage: 1 << 20, Discard: 4 << 20}, false},
		{"discard too small", Limits{MaxMessage: 1 << 20, Discard: 1500 << 10}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := serveEcho(t, ListenConfig{Config: Config{Type: zmq4.Router, Limits: tc.limits}})
			c := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
			if err := c.WriteMsg(six, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			got, err := c.ReadMsg()
			if tc.wantErr {
				if err == nil {
					t.Fatalf("connection kept; got %s", describe(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The reply carries the frames read before the limit was
			// crossed (the envelope) and the echo server's error.
			if len(got) != 5 || len(got[0]) != 0 || string(got[4]) != "too large" {
				t.Fatalf("reply %s", describe(got))
			}
			if err := c.WriteMsg([][]byte{{}, []byte("after")}, time.Second); err != nil {
				t.Fatal(err)
			}
			got, err = c.ReadMsg()
			if err != nil || len(got) != 2 || string(got[1]) != "after" {
				t.Fatalf("after the refused message: %s, %v", describe(got), err)
			}
		})
	}
}

func TestFrameCountLimit(t *testing.T) {
	l := serveEcho(t, ListenConfig{Config: Config{Type: zmq4.Router, Limits: Limits{MaxFrames: 4}}})
	c := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	if err := c.WriteMsg(make([][]byte, 5), time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadMsg(); err == nil {
		t.Fatal("five frames accepted with MaxFrames 4")
	}
}

// Byte streams that took zmq4 down (makeslice: len out of range, index
// out of range in its metadata parser) or could exhaust memory: each gets
// an error, none a panic or an allocation of the announced size.
func TestHostileBytes(t *testing.T) {
	huge := append([]byte{flagCommand | flagLong}, binary.BigEndian.AppendUint64(nil, 1<<62)...)
	badMeta := append([]byte{5}, "READY"...)
	badMeta = append(badMeta, 11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p')
	cases := map[string][]byte{
		"huge command in handshake": append(testutil.Greeting("NULL", false), huge...),
		"huge frame after handshake": append(append(testutil.Greeting("NULL", false), testutil.Ready("DEALER")...),
			append([]byte{flagLong}, binary.BigEndian.AppendUint64(nil, 1<<62)...)...),
		"truncated metadata":  append(testutil.Greeting("NULL", false), append([]byte{flagCommand, byte(len(badMeta))}, badMeta...)...),
		"metadata overflow":   append(testutil.Greeting("NULL", false), append([]byte{flagCommand, 20}, append(append([]byte{5}, "READY"...), 1, 'x', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0)...)...),
		"random after greet":  append(testutil.Greeting("NULL", false), 0x1b, 0x8f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x13),
		"bad signature":       bytes.Repeat([]byte{0xff}, 64),
		"wrong mechanism":     testutil.Greeting("CURVE", false),
		"many command frames": append(testutil.Greeting("NULL", false), bytes.Repeat([]byte{flagCommand | flagMore | flagLong, 0, 0, 0, 0, 0, 0, 0xff, 0}, 10)...),
		// A PING with MORE set after the handshake: a command is one frame.
		"command with MORE": append(append(testutil.Greeting("NULL", false), testutil.Ready("DEALER")...),
			append([]byte{flagCommand | flagMore, 7, 4}, "PING\x00\x00"...)...),
	}
	for name, stream := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := Open(newPipeConn(stream), Config{Type: zmq4.Router}, true)
			if err == nil {
				_, err = c.ReadMsg()
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "panicked") {
				t.Fatalf("panic inside the handshake: %v", err)
			}
		})
	}
}

// A listener stays available while peers connect and say nothing: their
// handshakes time out in their own goroutines, in their own pool, and
// release their slots.
func TestIdleHandshakesDoNotBlock(t *testing.T) {
	var ev <-chan hookEvent
	// The timeout bounds the real client's handshake below too: long
	// enough for a loaded machine, short enough to wait the idle ones out.
	l := serveEchoWith(t, ListenConfig{Config: Config{Type: zmq4.Router, HandshakeTimeout: time.Second}, MaxConns: 1},
		func(l *Listener) { ev = watch(l) })
	addr := l.Addr().String()
	var idle []net.Conn
	for range 7 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	// The one established slot is free: a real client gets it at once.
	c := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	if err := talk(c, "x"); err != nil {
		t.Fatal(err)
	}
	// The idle ones are dropped after the handshake timeout.
	var remotes []string
	for _, ic := range idle {
		remotes = append(remotes, ic.LocalAddr().String())
	}
	waitEvents(t, ev, "released", remotes...)
	if s := l.Stats(); s.Active != 1 || s.Handshakes != 0 || s.Failed != 7 {
		t.Fatalf("stats %+v, want 1 active and 7 failed handshakes", s)
	}
	buf := make([]byte, 64)
	_ = idle[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(idle[0], buf[:64]); err != nil {
		t.Fatalf("greeting not sent to an idle peer: %v", err)
	}
	if _, err := idle[0].Read(buf); err == nil {
		t.Fatal("idle connection still open after the handshake timeout")
	}
}

// MaxConns caps the established connections: a newcomer completes its
// handshake (the pool is checked then) and is closed; once a connection
// ends, the next one is served.
func TestMaxConns(t *testing.T) {
	var ev <-chan hookEvent
	l := serveEchoWith(t, ListenConfig{Config: Config{Type: zmq4.Router}, MaxConns: 2}, func(l *Listener) { ev = watch(l) })
	a := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	b := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	for _, x := range []*Conn{a, b} {
		if err := talk(x, "ok"); err != nil {
			t.Fatal(err)
		}
	}
	third := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	if err := talk(third, "third"); err == nil {
		t.Fatal("third connection served with MaxConns 2")
	}
	if s := l.Stats(); s.Refused != 1 || s.Active != 2 || s.Accepted != 2 {
		t.Fatalf("stats %+v: want 1 refused, 2 established", s)
	}
	a.Close()
	waitEvent(t, ev, "released", a.raw.LocalAddr().String())
	c := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	for _, x := range []*Conn{b, c} {
		if err := talk(x, "ok"); err != nil {
			t.Fatal(err)
		}
	}
}

// PING gets a PONG with the same context (libzmq's heartbeats).
func TestPingPong(t *testing.T) {
	l := serveEcho(t, ListenConfig{Config: Config{Type: zmq4.Router}})
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	stream := append(testutil.Greeting("NULL", false), testutil.Ready("DEALER")...)
	ping := append([]byte{4}, "PING"...)
	ping = append(ping, 0, 10, 'c', 't', 'x')
	stream = append(stream, flagCommand, byte(len(ping)))
	stream = append(stream, ping...)
	if _, err := raw.Write(stream); err != nil {
		t.Fatal(err)
	}
	_ = raw.SetReadDeadline(time.Now().Add(3 * time.Second))
	got := make([]byte, 0, 256)
	buf := make([]byte, 256)
	want := append([]byte{flagCommand, 8, 4}, "PONGctx"...)
	for !bytes.Contains(got, want) {
		n, err := raw.Read(buf)
		if err != nil {
			t.Fatalf("no PONG; got % x: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
}

func TestPlain(t *testing.T) {
	l := serveEcho(t, ListenConfig{Config: Config{Type: zmq4.Router, Mechanism: PlainServer("vpoller", "s3cret")}})
	c := dialT(t, l.Endpoint(), Config{Type: zmq4.Req, Mechanism: PlainClient("vpoller", "s3cret")})
	if err := c.WriteMsg([][]byte{{}, []byte("status")}, time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadMsg(); err != nil || len(got) != 2 || string(got[1]) != "status" {
		t.Fatalf("%s %v", describe(got), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := Dial(ctx, l.Endpoint(), Config{Type: zmq4.Req, Mechanism: PlainClient("vpoller", "guess")})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong secret: %v, want ErrAuth", err)
	}
	if _, err := Dial(ctx, l.Endpoint(), Config{Type: zmq4.Req}); err == nil {
		t.Fatal("NULL client accepted by a PLAIN server")
	}
	deadline := time.Now().Add(2 * time.Second)
	for l.Stats().AuthFailed != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := l.Stats(); s.AuthFailed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// An ipc socket is a file only its owner can connect to (mode 0600); its
// directory is created when missing, and a stale file is replaced.
func TestIPCListener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "vpoller", "mgmt.sock")
	ipc, err := Listen("ipc://"+path, ListenConfig{Config: Config{Type: zmq4.Router}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %04o, want 0600", st.Mode().Perm())
	}
	if _, err := Listen("ipc://"+path, ListenConfig{Config: Config{Type: zmq4.Router}}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second listener on a live socket: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ipc.Serve(ctx, func(_ context.Context, c *Conn) {
			if m, err := c.ReadMsg(); err == nil {
				_ = c.WriteMsg(m, time.Second)
			}
		})
	}()
	c := dialT(t, ipc.Endpoint(), Config{Type: zmq4.Req})
	if err := c.WriteMsg([][]byte{{}, []byte("status")}, time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadMsg(); err != nil || len(got) != 2 || string(got[1]) != "status" {
		t.Fatalf("%s %v", describe(got), err)
	}
	cancel()
	<-done
}

// A read deadline that passes between messages leaves the connection in
// step: ErrIdle, then the next message reads normally.
func TestIdleDeadline(t *testing.T) {
	l := serveEcho(t, ListenConfig{Config: Config{Type: zmq4.Router}})
	c := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.ReadMsg(); !errors.Is(err, ErrIdle) {
		t.Fatalf("want ErrIdle, got %v", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	if err := c.WriteMsg([][]byte{[]byte("still"), []byte("here")}, time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadMsg(); err != nil || len(got) != 2 || string(got[1]) != "here" {
		t.Fatalf("after ErrIdle: %s %v", describe(got), err)
	}
}

// With Evict, a full listener makes room for a newcomer that completed
// its handshake by closing the connection idle the longest; a busy
// connection is never picked, and a half-open connection evicts nobody.
func TestEvictIdle(t *testing.T) {
	l, err := Listen("tcp://127.0.0.1:0", ListenConfig{Config: Config{Type: zmq4.Router}, MaxConns: 3, Evict: true})
	if err != nil {
		t.Fatal(err)
	}
	var busyMu sync.Mutex
	busy := map[string]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.Serve(ctx, func(_ context.Context, c *Conn) {
			c.SetBusy(func() bool {
				busyMu.Lock()
				defer busyMu.Unlock()
				return busy[c.RemoteAddr()]
			})
			for {
				m, err := c.ReadMsg()
				if err != nil {
					return
				}
				if string(m[0]) == "busy" {
					busyMu.Lock()
					busy[c.RemoteAddr()] = true
					busyMu.Unlock()
				}
				if c.WriteMsg(m, time.Second) != nil {
					return
				}
			}
		})
	}()
	defer func() { cancel(); <-done }()
	// busy: marked busy; idle1, idle2: talked once, idle1 first (their
	// last messages are ordered by the round trips).
	busyC := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	if err := talk(busyC, "busy"); err != nil {
		t.Fatal(err)
	}
	idle1 := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	if err := talk(idle1, "hello"); err != nil {
		t.Fatal(err)
	}
	idle2 := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	if err := talk(idle2, "hello"); err != nil {
		t.Fatal(err)
	}
	// A half-open connection waits in the handshake pool and evicts
	// nobody.
	half, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	if _, err := io.ReadFull(half, make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	if s := l.Stats(); s.Evicted != 0 || s.Handshakes != 1 || s.Active != 3 {
		t.Fatalf("stats %+v with a half-open connection", s)
	}
	// A real client completes its handshake and evicts idle1.
	newcomer := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer})
	if err := talk(newcomer, "hi"); err != nil {
		t.Fatalf("newcomer: %v", err)
	}
	if err := talk(idle1, "still there?"); err == nil {
		t.Fatal("the idle connection was not evicted")
	}
	for name, c := range map[string]*Conn{"busy": busyC, "idle2": idle2} {
		if err := talk(c, "x"); err != nil {
			t.Fatalf("%s evicted: %v", name, err)
		}
	}
	if s := l.Stats(); s.Evicted != 1 || s.Refused != 0 || s.Handshakes != 1 || s.HandshakesEvicted != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Application metadata (X- properties) travel in both directions under
// NULL and CURVE; names outside the X- space are refused before dialling.
func TestMetadata(t *testing.T) {
	server, client := keyPair(t), keyPair(t)
	for _, tc := range []struct {
		name         string
		srvMech, cli Mechanism
	}{
		{"NULL", Null(), Null()},
		{"CURVE", CurveServer(server, nil), CurveClient(server.Public, client)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Listen("tcp://127.0.0.1:0", ListenConfig{Config: Config{Type: zmq4.Router, Mechanism: tc.srvMech,
				Metadata: map[string]string{"X-Role": "proxy"}}})
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan string, 1)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = l.Serve(ctx, func(ctx context.Context, c *Conn) { got <- c.PeerMeta("X-Worker") + "|" + c.PeerMeta("X-Role") })
			}()
			defer func() { cancel(); <-done }()
			c := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer, Mechanism: tc.cli,
				Metadata: map[string]string{"X-Worker": `{"id":"w1","serves":["vc1"]}`}})
			if v := c.PeerMeta("X-Role"); v != "proxy" {
				t.Errorf("client saw X-Role %q, want proxy", v)
			}
			if v := <-got; v != `{"id":"w1","serves":["vc1"]}|` {
				t.Errorf("server saw %q", v)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := Dial(ctx, "tcp://127.0.0.1:1", Config{Type: zmq4.Dealer, Metadata: map[string]string{"Role": "x"}}); err == nil ||
		!strings.Contains(err.Error(), "X-") {
		t.Fatalf("a non-X- property: %v", err)
	}
}
