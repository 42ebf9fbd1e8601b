package zmtp

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

func keyPair(t *testing.T) curvekey.KeyPair {
	t.Helper()
	kp, err := curvekey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func TestCurveRoundTrip(t *testing.T) {
	server, client, other := keyPair(t), keyPair(t), keyPair(t)
	allow := curvekey.AllowList{client.Public: "plugin.key"}
	l := serveEcho(t, ListenConfig{Config: Config{Type: zmq4.Router, Mechanism: CurveServer(server, allow)}})

	c := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer, Mechanism: CurveClient(server.Public, client)})
	for _, m := range [][][]byte{
		{{}, []byte("hello")},
		{[]byte("id"), {}, bytes.Repeat([]byte("x"), 300_000)},
		{{}, {}},
	} {
		if err := c.WriteMsg(m, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		got, err := c.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(m) {
			t.Fatalf("got %s, want %s", describe(got), describe(m))
		}
		for i := range m {
			if !bytes.Equal(got[i], m[i]) {
				t.Fatalf("frame %d: got %s, want %s", i, describe(got), describe(m))
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// A key not in the allow-list is told so and refused.
	_, err := Dial(ctx, l.Endpoint(), Config{Type: zmq4.Dealer, Mechanism: CurveClient(server.Public, other)})
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), `ERROR "400"`) {
		t.Fatalf("key not allowed: %v", err)
	}
	// A client that has the wrong server key cannot even say HELLO.
	if c, err := Dial(ctx, l.Endpoint(), Config{Type: zmq4.Dealer, Mechanism: CurveClient(other.Public, client)}); err == nil {
		c.Close()
		t.Fatal("client with the wrong server key connected")
	}
	// Nor can a client without CURVE, and it is told why.
	if c, err := Dial(ctx, l.Endpoint(), Config{Type: zmq4.Dealer}); err == nil {
		c.Close()
		t.Fatal("NULL client connected to a CURVE server")
	} else if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "the peer does not use NULL") {
		t.Fatalf("NULL client: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for l.Stats().AuthFailed < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := l.Stats(); s.AuthFailed != 2 || s.Accepted != 1 {
		t.Fatalf("stats %+v: want 2 refused for their keys, 1 accepted", s)
	}
}

// Encrypted messages are bounded like clear ones, and never discarded
// (they cannot be skipped unread).
func TestCurveMessageLimit(t *testing.T) {
	server, client := keyPair(t), keyPair(t)
	l := serveEcho(t, ListenConfig{Config: Config{Type: zmq4.Router, Mechanism: CurveServer(server, nil),
		Limits: Limits{MaxMessage: 1000, Discard: 1 << 20}}})
	c := dialT(t, l.Endpoint(), Config{Type: zmq4.Dealer, Mechanism: CurveClient(server.Public, client)})
	if err := c.WriteMsg([][]byte{{}, make([]byte, 600), make([]byte, 600)}, time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadMsg(); err == nil {
		t.Fatalf("1200 bytes accepted with a 1000-byte limit: %s", describe(got))
	}
}

func python(t *testing.T) string { return testutil.Python(t, true) }

// libzmq's CURVE client (pyzmq REQ) talks to our CURVE server, with and
// without libzmq heartbeats (encrypted PINGs our side must answer).
func TestCurveInteropLibzmqClient(t *testing.T) {
	py := python(t)
	server, client := keyPair(t), keyPair(t)
	l := serveEcho(t, ListenConfig{Config: Config{Type: zmq4.Router,
		Mechanism: CurveServer(server, curvekey.AllowList{client.Public: "pyzmq"})}})
	for _, hb := range []string{"0", "100"} {
		out, err := exec.Command(py, "testdata/curve_peer.py", "client", l.Endpoint(),
			server.Public.String(), client.Public.String(), client.Secret.String(), hb).CombinedOutput()
		if err != nil {
			t.Fatalf("heartbeat %s: %v\n%s", hb, err, out)
		}
		want := "5 hello\n100000 pppppppppppp\n"
		if hb != "0" {
			want += "16 after heartb\n"
		}
		if string(out) != want {
			t.Fatalf("heartbeat %s: pyzmq printed %q, want %q", hb, out, want)
		}
	}
	// A key we do not allow gets nothing back, and the refusal is counted.
	stranger := keyPair(t)
	out, err := exec.Command(py, "testdata/curve_peer.py", "client", l.Endpoint(),
		server.Public.String(), stranger.Public.String(), stranger.Secret.String(), "0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "timeout") {
		t.Fatalf("stranger's key: %v\n%s", err, out)
	}
	if l.Stats().AuthFailed == 0 {
		t.Fatalf("stats %+v: refusal not counted", l.Stats())
	}
}

// Our CURVE client talks to libzmq's CURVE server (a pyzmq ROUTER).
func TestCurveInteropLibzmqServer(t *testing.T) {
	server, client := keyPair(t), keyPair(t)
	ep := testutil.StartPython(t, "testdata/curve_peer.py", "server", server.Secret.String()).Line
	c := dialT(t, strings.TrimSpace(ep), Config{Type: zmq4.Req, Mechanism: CurveClient(server.Public, client)})
	for _, p := range [][]byte{[]byte("status"), bytes.Repeat([]byte("q"), 200_000)} {
		if err := c.WriteMsg([][]byte{{}, p}, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		got, err := c.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || len(got[0]) != 0 || !bytes.Equal(got[1], append([]byte("echo:"), p...)) {
			t.Fatalf("reply %s", describe(got))
		}
	}
	// With the wrong server key the handshake fails.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c, err := Dial(ctx, strings.TrimSpace(ep), Config{Type: zmq4.Req, Mechanism: CurveClient(client.Public, client)}); err == nil {
		c.Close()
		t.Fatal("connected with the wrong server key")
	}
}
