//go:build faults

package faults

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// target is a listening socket to attack: its address, the socket type a
// legitimate peer presents, and the PLAIN credentials it needs ("" for
// NULL sockets).
type target struct {
	name       string
	addr       string
	socketType string
	user, pass string
}

// attack is one hostile input: it connects, misbehaves and reports what
// it saw (for the criteria that look at replies).
type attack struct {
	name string
	run  func(t target) (string, error)
}

// attackResult is what one attack saw.
type attackResult struct {
	target, attack string
	saw            string
	err            error
}

// send connects, writes payload and waits (at most wait) for the peer to
// close; the peer closing is the expected end.
func send(t target, payload []byte, wait time.Duration) (string, error) {
	c, err := dialRaw(t.addr, wait+5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_, werr := c.Write(payload)
	if drain(c, wait) {
		return "closed by the peer", nil
	}
	return fmt.Sprintf("still open after %s (write error: %v)", wait, werr), nil
}

// afterHandshake completes a legitimate handshake, then writes payload.
func afterHandshake(t target, payload []byte, wait time.Duration) (string, error) {
	c, err := dialRaw(t.addr, wait+5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.handshake(t.socketType, t.user, t.pass); err != nil {
		return "", fmt.Errorf("handshake: %w", err)
	}
	_, werr := c.Write(payload)
	if drain(c, wait) {
		return "closed by the peer", nil
	}
	return fmt.Sprintf("still open after %s (write error: %v)", wait, werr), nil
}

// bigMessage is a message of n payload bytes after an empty delimiter
// (the envelope of a REQ-style request).
func bigMessage(n int) []byte {
	return append(frame(nil, true), frame(bytes.Repeat([]byte("x"), n), false)...)
}

// oversizedRequest sends a 2 MiB message (over the 1 MiB request limit)
// and reports the reply, if one comes ("Request too large" from the
// frontend).
func oversizedRequest(t target) (string, error) {
	c, err := dialRaw(t.addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.handshake(t.socketType, t.user, t.pass); err != nil {
		return "", fmt.Errorf("handshake: %w", err)
	}
	if _, err := c.Write(bigMessage(2 << 20)); err != nil {
		return "write failed: " + err.Error(), nil
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	frames, err := c.readMsg()
	if err != nil {
		return "no reply: " + err.Error(), nil
	}
	return fmt.Sprintf("reply %q", bytes.Join(frames, []byte("|"))), nil
}

// attacks are the hostile inputs every listening socket gets.
func attacks() []attack {
	const wait = 2 * time.Second
	fixed := func(name string, b func() []byte) attack {
		return attack{name: name, run: func(t target) (string, error) { return send(t, b(), wait) }}
	}
	post := func(name string, b func() []byte) attack {
		return attack{name: name, run: func(t target) (string, error) { return afterHandshake(t, b(), wait) }}
	}
	return []attack{
		fixed("the 73 bytes (greeting + absurd frame size)", the73Bytes),
		fixed("random bytes after a valid greeting", func() []byte { return append(testutil.Greeting("NULL", false), randomBytes(4096)...) }),
		fixed("random bytes instead of a greeting", func() []byte { return randomBytes(4096) }),
		fixed("absurd command size in the handshake", func() []byte {
			return append(testutil.Greeting("NULL", false), 0x06, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		}),
		fixed("PLAIN greeting with a wrong secret", func() []byte {
			return append(testutil.Greeting("PLAIN", false), testutil.Command("HELLO", []byte("\x07vpoller\x05wrong"))...)
		}),
		fixed("truncated greeting", func() []byte { return testutil.Greeting("NULL", false)[:20] }),
		post("absurd frame size after the handshake", absurdFrame),
		post("random bytes after the handshake", func() []byte { return randomBytes(4096) }),
		post("100 frames in one message", func() []byte {
			var b []byte
			for i := range 100 {
				b = append(b, frame([]byte("f"), i < 99)...)
			}
			return b
		}),
		post("frame announcing 1 TiB, 1 MiB sent", func() []byte {
			return append(frameHeader(1<<40, false), bytes.Repeat([]byte{0}, 1<<20)...)
		}),
		{name: "2 MiB message (over the request limit)", run: oversizedRequest},
	}
}

// attackAll runs every attack against every target, the targets in
// parallel (each target's attacks one after another).
func attackAll(targets []target) []attackResult {
	var mu sync.Mutex
	var out []attackResult
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() {
			for _, a := range attacks() {
				saw, err := a.run(t)
				mu.Lock()
				out = append(out, attackResult{target: t.name, attack: a.name, saw: saw, err: err})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// hostileServer plays a broken or hostile "proxy" (or whoever bound the
// proxy's port while it was down) for the dialing side: the n-th
// connection gets payloads[n % len] (nil: silence), then the server reads
// until the peer closes or 3 s pass.
type hostileServer struct {
	ln       net.Listener
	payloads [][]byte
	served   atomic.Int64
	wg       sync.WaitGroup
}

func startHostile(payloads [][]byte) (*hostileServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("hostile server: %w", err)
	}
	h := &hostileServer{ln: ln, payloads: payloads}
	h.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := h.served.Add(1) - 1
			h.wg.Go(func() {
				defer c.Close()
				if p := h.payloads[int(n)%len(h.payloads)]; p != nil {
					_, _ = c.Write(p)
				}
				drain(c, 3*time.Second)
			})
		}
	})
	return h, nil
}

func (h *hostileServer) endpoint() string { return "tcp://" + h.ln.Addr().String() }

func (h *hostileServer) close() {
	h.ln.Close()
	h.wg.Wait()
}

// hostilePeerPayloads are what a hostile "proxy" answers a connecting
// client or worker with.
func hostilePeerPayloads() map[string][]byte {
	srv := testutil.Greeting("NULL", true)
	return map[string][]byte{
		"the 73 bytes (greeting + absurd frame size)": append(append([]byte{}, srv...), absurdFrame()...),
		"random bytes after a valid greeting":         append(append([]byte{}, srv...), randomBytes(4096)...),
		"absurd frame size after READY":               append(append(append([]byte{}, srv...), ready("ROUTER")...), absurdFrame()...),
		"random bytes after READY":                    append(append(append([]byte{}, srv...), ready("ROUTER")...), randomBytes(4096)...),
		"absurd command size in the handshake":        append(append([]byte{}, srv...), 0x06, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
	}
}
