package zmtp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// countingConn counts the bytes read from a real connection and says when
// a number of them has arrived.
type countingConn struct {
	net.Conn
	n       atomic.Int64
	target  int64
	reached chan struct{}
	once    sync.Once
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.n.Add(int64(n)) >= c.target {
		c.once.Do(func() { close(c.reached) })
	}
	return n, err
}

// checkedBudget is one connection's view of a shared budget: at every
// Acquire it checks that the connection is charged for no more than the
// bytes that arrived plus one chunk.
type checkedBudget struct {
	shared   *MemoryBudget
	arrived  func() int64
	used     atomic.Int64
	maxAhead atomic.Int64
	acquires atomic.Int64
}

func (b *checkedBudget) Acquire(n int64) bool {
	if !b.shared.Acquire(n) {
		return false
	}
	b.acquires.Add(1)
	ahead := b.used.Add(n) - b.arrived()
	for {
		m := b.maxAhead.Load()
		if ahead <= m || b.maxAhead.CompareAndSwap(m, ahead) {
			break
		}
	}
	return true
}

func (b *checkedBudget) Release(n int64) {
	b.used.Add(-n)
	b.shared.Release(n)
}

// tcpPair is a connected pair of loopback TCP connections.
func tcpPair(t *testing.T, ln net.Listener) (client, server net.Conn) {
	t.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// 1,000 peers each announce a frame of the maximum size (1 MiB) and send
// part of it (ten of them all but its last byte). This used to allocate
// the announced size at once (a gigabyte for 1,000 peers); now no
// connection is ever charged more than one chunk beyond the bytes that
// arrived, and everything is released when the connections end.
func TestBudgetPartialMessages(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const peers = 1000
	shared := NewMemoryBudget(1 << 40)
	handshake := append(testutil.Greeting("NULL", false), testutil.Ready("DEALER")...)
	header := appendHeader(nil, 0, DefaultMaxMessage)
	payload := bytes.Repeat([]byte("p"), DefaultMaxMessage)
	type result struct {
		budget *checkedBudget
		sent   int64
		err    error
	}
	results := make(chan result, peers)
	var clients []net.Conn
	var arrivedAll, sentAll int64
	for i := range peers {
		sent := int64(i*7919) % 60_000
		if i%100 == 0 {
			sent = DefaultMaxMessage - 1
		}
		client, server := tcpPair(t, ln)
		clients = append(clients, client)
		before := int64(len(handshake) + len(header))
		cc := &countingConn{Conn: server, target: before + sent, reached: make(chan struct{})}
		b := &checkedBudget{shared: shared, arrived: func() int64 { return cc.n.Load() - before }}
		go func() {
			c, err := Open(cc, Config{Type: zmq4.Router, Limits: Limits{Budget: b}}, true)
			if err == nil {
				_, err = c.ReadMsg()
			}
			results <- result{b, sent, err}
		}()
		msg := append(append(append([]byte{}, handshake...), header...), payload[:sent]...)
		go func() { _, _ = client.Write(msg) }()
		select {
		case <-cc.reached:
		case <-time.After(10 * time.Second):
			t.Fatalf("peer %d: only %d of %d bytes arrived", i, cc.n.Load(), cc.target)
		}
		sentAll += sent
		arrivedAll += cc.n.Load() - before
	}
	held := shared.Used()
	if held > arrivedAll+peers*ReadChunk {
		t.Errorf("%d bytes charged for %d arrived from %d peers", held, arrivedAll, peers)
	}
	for _, c := range clients {
		c.Close()
	}
	var maxAhead int64
	for range peers {
		r := <-results
		if r.err == nil {
			t.Fatalf("a partial message of %d bytes was returned", r.sent)
		}
		if r.budget.used.Load() != 0 {
			t.Errorf("a connection that ended holds %d bytes", r.budget.used.Load())
		}
		maxAhead = max(maxAhead, r.budget.maxAhead.Load())
	}
	if maxAhead > ReadChunk {
		t.Errorf("a connection was charged %d bytes ahead of what arrived (chunk %d)", maxAhead, ReadChunk)
	}
	if shared.Used() != 0 {
		t.Errorf("%d bytes still charged after every connection ended", shared.Used())
	}
	t.Logf("%d peers sent %d bytes of partial messages; %d bytes charged at most (%.1f MiB), at most %d bytes ahead of the arrivals",
		peers, sentAll, held, float64(held)/(1<<20), maxAhead)
}

// A message is charged while it is read and returned charged exactly
// MsgBytes; one that does not fit ends the connection with ErrBudget and
// holds nothing; a discarded one is never charged.
func TestBudgetCharge(t *testing.T) {
	server, client := keyPair(t), keyPair(t)
	k := func(n int) []byte { return bytes.Repeat([]byte("k"), n) }
	cases := []struct {
		name    string
		curve   bool
		budget  int64
		limits  Limits
		msg     [][]byte
		wantErr error // nil: the message is returned
		tooBig  bool  // a discarded message, then an "after" that passes
	}{
		{"clear fits", false, 1 << 20, Limits{}, [][]byte{{}, k(300_000)}, nil, false},
		{"clear too big", false, 200_000, Limits{}, [][]byte{k(300_000)}, ErrBudget, false},
		{"second frame too big", false, 350_000, Limits{}, [][]byte{k(200_000), k(200_000)}, ErrBudget, false},
		{"nothing left", false, 0, Limits{}, [][]byte{[]byte("x")}, ErrBudget, false},
		{"empty frames cost nothing", false, 0, Limits{}, [][]byte{{}, {}}, nil, false},
		{"discarded, not charged", false, 10_000, Limits{MaxMessage: 1000, Discard: 1 << 20}, [][]byte{[]byte("env"), k(500_000)}, nil, true},
		{"curve fits", true, 1 << 20, Limits{}, [][]byte{{}, k(300_000)}, nil, false},
		{"curve too big", true, 200_000, Limits{}, [][]byte{k(300_000)}, ErrBudget, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := NewMemoryBudget(tc.budget)
			tc.limits.Budget = b
			srv, cli := Null(), Null()
			if tc.curve {
				srv, cli = CurveServer(server, nil), CurveClient(server.Public, client)
			}
			type read struct {
				frames  [][]byte
				charged int64
				err     error
			}
			reads := make(chan read, 4)
			l, err := Listen("tcp://127.0.0.1:0", ListenConfig{Config: Config{Type: zmq4.Router, Mechanism: srv, Limits: tc.limits}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = l.Serve(ctx, func(_ context.Context, c *Conn) {
					for {
						frames, err := c.ReadMsg()
						reads <- read{frames, b.Used(), err}
						if err != nil {
							if _, ok := IsTooLarge(err); ok {
								continue
							}
							return
						}
						b.Release(MsgBytes(frames))
					}
				})
			}()
			defer func() { cancel(); <-done }()
			c := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer, Mechanism: cli})
			if err := c.WriteMsg(tc.msg, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			var r read
			select {
			case r = <-reads:
			case <-time.After(10 * time.Second):
				t.Fatal("nothing read in 10 s")
			}
			switch {
			case tc.tooBig:
				if _, ok := IsTooLarge(r.err); !ok || r.charged != 0 {
					t.Fatalf("discarded message: %v, %d bytes charged", r.err, r.charged)
				}
				if err := c.WriteMsg([][]byte{[]byte("after")}, time.Second); err != nil {
					t.Fatal(err)
				}
				if r = <-reads; r.err != nil || string(r.frames[0]) != "after" || r.charged != 5 {
					t.Fatalf("after the discarded message: %s, %d charged, %v", describe(r.frames), r.charged, r.err)
				}
			case tc.wantErr != nil:
				if !errors.Is(r.err, tc.wantErr) || r.charged != 0 {
					t.Fatalf("got %v with %d bytes charged, want %v and nothing charged", r.err, r.charged, tc.wantErr)
				}
			default:
				if r.err != nil {
					t.Fatal(r.err)
				}
				var total int64
				for i, f := range r.frames {
					total += int64(len(f))
					if !bytes.Equal(f, tc.msg[i]) {
						t.Fatalf("frame %d differs", i)
					}
				}
				if r.charged != MsgBytes(r.frames) || r.charged < total || r.charged > total+int64(33*len(r.frames)) {
					t.Fatalf("%d bytes charged, MsgBytes %d, frames of %d bytes", r.charged, MsgBytes(r.frames), total)
				}
			}
			c.Close()
			if tc.wantErr == nil {
				<-reads // the connection ended
			}
			if b.Used() != 0 {
				t.Fatalf("%d bytes charged after the connection ended", b.Used())
			}
		})
	}
}

// A message that stops in the middle for Limits.StallTimeout ends the
// connection (ErrStalled) and releases its charge; between messages only
// the caller's deadline applies, also after a command.
func TestStall(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ping := testutil.Command("PING", []byte{0, 0, 'c'})
	cases := []struct {
		name     string
		stall    time.Duration
		deadline time.Duration // caller's read deadline; 0: none
		send     []byte
		want     error
	}{
		{"inside a frame", 100 * time.Millisecond, 0, append(appendHeader(nil, 0, 1000), k10...), ErrStalled},
		{"inside a header", 100 * time.Millisecond, 0, []byte{flagLong, 0, 0, 1}, ErrStalled},
		{"between frames", 100 * time.Millisecond, 0, frame(true, []byte("a")), ErrStalled},
		{"inside a command", 100 * time.Millisecond, 0, ping[:4], ErrStalled},
		{"caller's deadline first", time.Minute, 100 * time.Millisecond, append(appendHeader(nil, 0, 1000), k10...), os.ErrDeadlineExceeded},
		{"idle is no stall", 100 * time.Millisecond, 400 * time.Millisecond, nil, ErrIdle},
		{"idle after a command", 100 * time.Millisecond, 400 * time.Millisecond, ping, ErrIdle},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client, server := tcpPair(t, ln)
			if _, err := client.Write(append(append(testutil.Greeting("NULL", false), testutil.Ready("DEALER")...), tc.send...)); err != nil {
				t.Fatal(err)
			}
			b := NewMemoryBudget(1 << 20)
			c, err := Open(server, Config{Type: zmq4.Router, Limits: Limits{Budget: b, StallTimeout: tc.stall}}, true)
			if err != nil {
				t.Fatal(err)
			}
			if tc.deadline > 0 {
				_ = c.SetReadDeadline(time.Now().Add(tc.deadline))
			}
			res := make(chan error, 1)
			go func() { _, err := c.ReadMsg(); res <- err }()
			select {
			case err = <-res:
			case <-time.After(10 * time.Second):
				t.Fatal("ReadMsg still blocked after 10 s")
			}
			if !errors.Is(err, tc.want) || tc.want != ErrStalled && errors.Is(err, ErrStalled) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if b.Used() != 0 {
				t.Fatalf("%d bytes charged after %v", b.Used(), err)
			}
		})
	}
}

var k10 = []byte("0123456789")
