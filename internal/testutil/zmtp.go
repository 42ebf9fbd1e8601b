package testutil

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"
)

// Raw ZMTP 3 bytes (RFC 23), written by hand so that tests can send what
// no ZeroMQ library would: absurd sizes, garbage, truncated handshakes.

// Greeting is a 64-byte ZMTP 3.0 greeting for mechanism ("NULL", "PLAIN",
// "CURVE").
func Greeting(mechanism string, asServer bool) []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 0
	copy(g[12:32], mechanism)
	if asServer {
		g[32] = 1
	}
	return g
}

// Command frames a ZMTP command: its name, then body.
func Command(name string, body []byte) []byte {
	b := append([]byte{byte(len(name))}, name...)
	b = append(b, body...)
	if len(b) <= 255 {
		return append([]byte{0x04, byte(len(b))}, b...)
	}
	return append(binary.BigEndian.AppendUint64([]byte{0x06}, uint64(len(b))), b...)
}

// Ready is the NULL mechanism's READY command announcing socketType.
func Ready(socketType string) []byte {
	body := append([]byte{byte(len("Socket-Type"))}, "Socket-Type"...)
	body = binary.BigEndian.AppendUint32(body, uint32(len(socketType)))
	return Command("READY", append(body, socketType...))
}

// HostilePeer listens on a free loopback port until the test ends and
// writes answer to every connection, whatever it is sent; it then reads
// and discards for up to 2 s. It returns the tcp:// endpoint.
func HostilePeer(tb testing.TB, answer []byte) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_, _ = c.Write(answer)
				buf := make([]byte, 4096)
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			})
		}
	})
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	return "tcp://" + ln.Addr().String()
}

// Buffer is a bytes.Buffer safe for concurrent writers: a process's or a
// logger's output that a test reads while it is written.
type Buffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}
