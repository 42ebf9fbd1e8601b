package zmtp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// serveEcho starts a listener whose handler echoes every message back
// (ROUTER-style: what it received, unchanged) and returns it; it stops at
// test cleanup.
func serveEcho(t *testing.T, cfg ListenConfig) *Listener {
	t.Helper()
	return serveEchoWith(t, cfg, nil)
}

// serveEchoWith is serveEcho on a listener that prep, when not nil, sets
// up before Serve (a test hook, a clock).
func serveEchoWith(t *testing.T, cfg ListenConfig, prep func(*Listener)) *Listener {
	t.Helper()
	l, err := Listen("tcp://127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if prep != nil {
		prep(l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.Serve(ctx, func(ctx context.Context, c *Conn) {
			for {
				frames, err := c.ReadMsg()
				if te, ok := IsTooLarge(err); ok {
					reply := append(append([][]byte{}, te.Head...), []byte("too large"))
					if c.WriteMsg(reply, time.Second) != nil {
						return
					}
					continue
				}
				if err != nil {
					return
				}
				if c.WriteMsg(frames, time.Second) != nil {
					return
				}
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return l
}

func dialT(t *testing.T, ep string, cfg Config) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, ep, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pipeConn is a net.Conn that reads a fixed byte stream and discards what
// is written: a peer whose every byte the test (or the fuzzer) chooses.
type pipeConn struct {
	r  *bytes.Reader
	mu sync.Mutex
	w  bytes.Buffer
}

func newPipeConn(data []byte) *pipeConn { return &pipeConn{r: bytes.NewReader(data)} }

func (p *pipeConn) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err == io.EOF && n == 0 {
		return 0, io.EOF
	}
	return n, nil
}
func (p *pipeConn) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.w.Write(b)
}
func (p *pipeConn) Close() error                     { return nil }
func (p *pipeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (p *pipeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (p *pipeConn) SetDeadline(time.Time) error      { return nil }
func (p *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (p *pipeConn) SetWriteDeadline(time.Time) error { return nil }

// frame encodes one clear-text ZMTP frame.
func frame(more bool, body []byte) []byte {
	var flags byte
	if more {
		flags = flagMore
	}
	return append(appendHeader(nil, flags, len(body)), body...)
}

// describe prints frames for a failure message: short ones as text, long
// ones by length only.
func describe(frames [][]byte) string {
	out := make([]string, len(frames))
	for i, f := range frames {
		if len(f) <= 40 {
			out[i] = fmt.Sprintf("%q", f)
		} else {
			out[i] = fmt.Sprintf("<%d bytes>", len(f))
		}
	}
	return fmt.Sprint(out)
}
