package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
)

// What panicked vpoller-client (and through the plugin, the Zabbix agent):
// an absurd frame size right after the handshake, and random bytes after
// a valid greeting. Now each is an error for that call only.
func TestHostileProxyIsAnError(t *testing.T) {
	for name, answer := range map[string][]byte{
		"absurd frame":        append(append(testutil.Greeting("NULL", true), testutil.Ready("ROUTER")...), 0x02, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		"absurd command":      append(testutil.Greeting("NULL", true), 0x06, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		"random after greet":  append(testutil.Greeting("NULL", true), 0x1b, 0x8f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x13),
		"short metadata":      append(testutil.Greeting("NULL", true), 0x04, 9, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o'),
		"reply over the size": append(append(testutil.Greeting("NULL", true), testutil.Ready("ROUTER")...), 0x01, 0x00, 0x02, 0, 0, 0, 0, 0x10, 0, 0, 0),
	} {
		t.Run(name, func(t *testing.T) {
			ep := testutil.HostilePeer(t, answer)
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
