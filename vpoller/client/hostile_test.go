package client

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
)

// hostilePeer accepts connections and answers each with the given bytes
// after reading whatever comes: a broken or hostile "proxy" (or whoever
// bound the proxy's port while it was down).
func hostilePeer(t *testing.T, answer []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = c.Write(answer)
				buf := make([]byte, 4096)
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "tcp://" + ln.Addr().String()
}

func greeting() []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 0
	copy(g[12:], "NULL")
	return g
}

func ready(socketType string) []byte {
	body := append([]byte{5}, "READY"...)
	body = append(body, 11)
	body = append(body, "Socket-Type"...)
	body = binary.BigEndian.AppendUint32(body, uint32(len(socketType)))
	body = append(body, socketType...)
	return append([]byte{0x04, byte(len(body))}, body...)
}

// What panicked vpoller-client (and through the plugin, the Zabbix agent):
// an absurd frame size right after the handshake, and random bytes after
// a valid greeting. Now each is an error for that call only.
func TestHostileProxyIsAnError(t *testing.T) {
	for name, answer := range map[string][]byte{
		"absurd frame":        append(append(greeting(), ready("ROUTER")...), 0x02, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		"absurd command":      append(greeting(), 0x06, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		"random after greet":  append(greeting(), 0x1b, 0x8f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x13),
		"short metadata":      append(greeting(), 0x04, 9, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o'),
		"reply over the size": append(append(greeting(), ready("ROUTER")...), 0x01, 0x00, 0x02, 0, 0, 0, 0, 0x10, 0, 0, 0),
	} {
		t.Run(name, func(t *testing.T) {
			ep := hostilePeer(t, answer)
			c := newClient(t, ep, Options{Timeout: 500 * time.Millisecond, Retries: 2, MaxReplyBytes: 1 << 20})
			start := time.Now()
			_, err := c.Do(context.Background(), []byte(`{"method": "about"}`))
			if err == nil {
				t.Fatal("no error")
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("took %s: %v", time.Since(start), err)
			}
		})
	}
}

// Our client with CURVE against libzmq's CURVE ROUTER (pyzmq), and the
// refusal when the server does not know our key.
func TestCurveAgainstLibzmqRouter(t *testing.T) {
	testutil.Python(t, true)
	server, _ := curvekey.Generate()
	client, _ := curvekey.Generate()
	other, _ := curvekey.Generate()
	// The allow-list is a directory of public certificates written by us
	// and read by pyzmq's authenticator (ZAP).
	allow := t.TempDir()
	if _, _, err := curvekey.WriteCertFiles(filepath.Join(allow, "plugin"), client); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(filepath.Join(allow, "plugin.key_secret"))
	peer := testutil.StartPython(t, "-c", `
import sys, zmq
from zmq.auth.thread import ThreadAuthenticator
ctx = zmq.Context()
auth = ThreadAuthenticator(ctx)
auth.start()
auth.configure_curve(domain="*", location=sys.argv[3])
s = ctx.socket(zmq.ROUTER)
s.curve_server = True
s.curve_secretkey = sys.argv[1].encode()
s.curve_publickey = sys.argv[2].encode()
port = s.bind_to_random_port("tcp://127.0.0.1")
print(port, flush=True)
while True:
    f = s.recv_multipart()
    s.send_multipart(f[:-1] + [b"pong:" + f[-1]])
`, server.Secret.String(), server.Public.String(), allow)
	ep := "tcp://127.0.0.1:" + peer.Line
	c := newClient(t, ep, Options{Timeout: 3 * time.Second, Retries: 1, Mechanism: zmtp.CurveClient(server.Public, client)})
	got, err := c.Do(context.Background(), []byte("ping"))
	if err != nil || string(got) != "pong:ping" {
		t.Fatalf("%q %v", got, err)
	}
	stranger := newClient(t, ep, Options{Timeout: 2 * time.Second, Retries: 1, Mechanism: zmtp.CurveClient(server.Public, other)})
	_, err = stranger.Do(context.Background(), []byte("ping"))
	if err == nil || !errors.Is(err, zmtp.ErrAuth) {
		t.Fatalf("a key libzmq's authenticator does not allow: %v", err)
	}
}
