package zmtp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// acceptOpen accepts tcp connections on loopback and runs our end of the
// handshake (Open, as a server with cfg) on each, without a Listener:
// every handshake's error is sent to the returned channel (nil for a
// success, after which the connection echoes what it reads).
func acceptOpen(t *testing.T, cfg Config) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 16)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer raw.Close()
				c, err := Open(raw, cfg, true)
				select {
				case results <- err:
				default: // a test reads the first ones only
				}
				for err == nil {
					var frames [][]byte
					if frames, err = c.ReadMsg(); err == nil {
						err = c.WriteMsg(frames, 5*time.Second)
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		// Connections end when their peers (python processes, gone by
		// now) have closed them.
		wg.Wait()
	})
	return "tcp://" + ln.Addr().String(), results
}

// libzmq's CURVE client against our server, every way in and every way
// refused: what libzmq reports (its socket monitor's handshake event:
// HANDSHAKE_FAILED_AUTH with the status of our ERROR), and our error.
func TestCurveInteropLibzmqClientMatrix(t *testing.T) {
	py := python(t)
	server, client, stranger := keyPair(t), keyPair(t), keyPair(t)
	cfg := Config{Type: zmq4.Router, Mechanism: CurveServer(server, curvekey.AllowList{client.Public: "pyzmq.key"})}
	for _, tc := range []struct {
		name             string
		spub, cpub, csec string
		libzmq           string // what the peer prints
		ours             string // in our (ErrAuth) error ("" = accepted)
	}{
		{"allowed key", server.Public.String(), client.Public.String(), client.Secret.String(),
			"event HANDSHAKE_SUCCEEDED 0\nreply hello\n", ""},
		{"client key not allowed", server.Public.String(), stranger.Public.String(), stranger.Secret.String(),
			"event HANDSHAKE_FAILED_AUTH 400\n", "not in the allow-list"},
		{"wrong server key", stranger.Public.String(), client.Public.String(), client.Secret.String(),
			"event HANDSHAKE_FAILED_AUTH 400\n", "made for another server key"},
		{"bad vouch: an allowed public key with another secret key", server.Public.String(), client.Public.String(), stranger.Secret.String(),
			"event HANDSHAKE_FAILED_AUTH 400\n", "did not vouch"},
		{"low-order client key", server.Public.String(), lowOrderKey.String(), stranger.Secret.String(),
			"event HANDSHAKE_FAILED_AUTH 400\n", "small order"},
		{"all-zero client key", server.Public.String(), curvekey.Key{}.String(), stranger.Secret.String(),
			"event HANDSHAKE_FAILED_AUTH 400\n", "small order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A listener per case: libzmq reconnects after a refusal, and
			// the handshake it reported is the first one.
			ep, results := acceptOpen(t, cfg)
			out, err := exec.Command(py, "testdata/curve_peer.py", "client-auth", ep, tc.spub, tc.cpub, tc.csec).CombinedOutput()
			if err != nil || string(out) != tc.libzmq {
				t.Fatalf("libzmq printed %q (%v), want %q", out, err, tc.libzmq)
			}
			var ours error
			select {
			case ours = <-results:
			case <-time.After(10 * time.Second):
				t.Fatal("no handshake on our side")
			}
			if tc.ours == "" {
				if ours != nil {
					t.Fatalf("our end: %v", ours)
				}
			} else if !errors.Is(ours, ErrAuth) || !strings.Contains(ours.Error(), tc.ours) {
				t.Fatalf("our end: %v, want ErrAuth with %q", ours, tc.ours)
			}
		})
	}
}

// Our CURVE client against libzmq's CURVE server with its ZAP
// authenticator (zmq.auth, allowing only our client's certificate): our
// error for every refusal, and libzmq's own report of it.
func TestCurveInteropLibzmqServerMatrix(t *testing.T) {
	server, client, stranger := keyPair(t), keyPair(t), keyPair(t)
	allowDir := filepath.Join(t.TempDir(), "clients.d")
	if err := os.Mkdir(allowDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := curvekey.WriteCertFiles(filepath.Join(allowDir, "ours"), client); err != nil {
		t.Fatal(err)
	}
	peer := testutil.StartPython(t, "testdata/curve_peer.py", "server-zap", server.Secret.String(), allowDir)
	ep := strings.TrimSpace(peer.Line)
	for _, tc := range []struct {
		name   string
		mech   Mechanism
		kind   error  // nil: connected
		ours   string // in our error
		libzmq string // the prefix of libzmq's event line ("" = not read)
	}{
		{"allowed key", CurveClient(server.Public, client), nil, "", "event HANDSHAKE_SUCCEEDED 0"},
		{"client key not allowed", CurveClient(server.Public, stranger), ErrAuth, `ERROR "400"`, "event HANDSHAKE_FAILED_AUTH 400"},
		{"wrong server key", CurveClient(stranger.Public, client), ErrAuth, "closed the connection after our HELLO",
			"event HANDSHAKE_FAILED_PROTOCOL"},
		{"bad vouch: our public key, another secret key", CurveClient(server.Public, curvekey.KeyPair{Public: client.Public, Secret: stranger.Secret}),
			ErrAuth, "closed the connection after our INITIATE", "event HANDSHAKE_FAILED_PROTOCOL"},
		// Refused before a byte of the handshake: libzmq sees a greeting
		// and a close, which it may or may not report.
		{"low-order server key", CurveClient(lowOrderKey, client), ErrAuth, "configured server key", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Dial(ctx, ep, Config{Type: zmq4.Req, Mechanism: tc.mech})
			if tc.kind == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if err := c.WriteMsg([][]byte{{}, []byte("status")}, 5*time.Second); err != nil {
					t.Fatal(err)
				}
				if got, err := c.ReadMsg(); err != nil || len(got) != 2 || string(got[1]) != "echo:status" {
					t.Fatalf("reply %s, %v", describe(got), err)
				}
			} else if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.ours) {
				t.Fatalf("error %v, want %v with %q", err, tc.kind, tc.ours)
			}
			if tc.libzmq != "" {
				if line := peer.Next(t, 10*time.Second); !strings.HasPrefix(line, tc.libzmq) {
					t.Fatalf("libzmq reported %q, want %q", line, tc.libzmq)
				}
			}
		})
	}
}
