package mgmt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"go.uber.org/goleak"

	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/curvekey"
	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T) (*Server, string) {
	t.Helper()
	return startAt(t, "tcp://127.0.0.1:0", nil)
}

func startAt(t *testing.T, ep string, mech zmtp.Mechanism) (*Server, string) {
	t.Helper()
	s, err := Listen(context.Background(), ep, Options{
		Security:  mech,
		Logger:    discard(),
		StatusMsg: "vPoller Proxy status",
		Status: func() vpoller.Object {
			return vpoller.Object{{Key: "status", Value: "running"}, {Key: "hostname", Value: "vm"}}
		},
		UnknownMsg: "Uknown method name received",
		Version:    "1.2.3~mgmt",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, s.Endpoint()
}

func TestAnswers(t *testing.T) {
	_, ep := start(t)
	cases := []struct{ method, want string }{
		{"status", `{"success": 0, "msg": "vPoller Proxy status", "result": {"status": "running", "hostname": "vm", "version": "1.2.3~mgmt"}}`},
		{"foo", `{"success": 1, "msg": "Uknown method name received"}`},
		{"", `{"success": 1, "msg": "Missing method name"}`},
	}
	for _, c := range cases {
		got, err := Call(context.Background(), ep, c.method, 3*time.Second, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.method, err)
		}
		if string(got) != c.want {
			t.Errorf("%s: got %s want %s", c.method, got, c.want)
		}
	}
}

// TestRawFrames sends what the Python managers choke on.
func TestRawFrames(t *testing.T) {
	s, _ := start(t)
	for in, want := range map[string]string{
		"not json":        `{"success": 1, "msg": "Invalid message received"}`,
		"[1, 2]":          `{"success": 1, "msg": "Invalid message received"}`,
		`{"x": 1}`:        `{"success": 1, "msg": "Missing method name"}`,
		`{"method": 7}`:   `{"success": 1, "msg": "Missing method name"}`,
		`{"method": "é"}`: `{"success": 1, "msg": "Uknown method name received"}`,
	} {
		got, _ := s.answer([]byte(in))
		if string(got) != want {
			t.Errorf("%q: got %s want %s", in, got, want)
		}
	}
}

func TestShutdown(t *testing.T) {
	s, ep := startAt(t, "ipc://"+filepath.Join(t.TempDir(), "mgmt.sock"), nil)
	got, err := Call(context.Background(), ep, "shutdown", 3*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"success": 0, "msg": "Shutdown time has arrived"}` {
		t.Fatalf("got %s", got)
	}
	select {
	case <-s.ShutdownRequested():
	case <-time.After(3 * time.Second):
		t.Fatal("shutdown not signalled")
	}
}

func TestCallTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A TCP listener that never speaks ZMTP: the call must give up.
	defer ln.Close()
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	defer func() {
		ln.Close()
		<-accepted
		for _, c := range conns {
			c.Close()
		}
		time.Sleep(100 * time.Millisecond) // let the released dial goroutine exit before goleak looks
	}()
	start := time.Now()
	_, err = Call(context.Background(), fmt.Sprintf("tcp://%s", ln.Addr()), "status", 300*time.Millisecond, nil)
	if !errors.Is(err, ErrNoReply) && err == nil {
		t.Fatalf("want an error, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s", d)
	}
}

func FuzzAnswer(f *testing.F) {
	f.Add([]byte(`{"method": "status"}`))
	f.Add([]byte(`{"method": "shutdown"}`))
	f.Add([]byte("\xff"))
	s := &Server{opts: Options{StatusMsg: "x", UnknownMsg: MsgUnknownMethod, Logger: nil}}
	s.opts.Logger = discard()
	f.Fuzz(func(t *testing.T, data []byte) {
		reply, _ := s.answer(data)
		if _, err := vpoller.DecodeResponse(reply); err != nil {
			t.Fatalf("reply is not a vPoller reply: %s", reply)
		}
	})
}

func TestCommand(t *testing.T) {
	s, ep := startAt(t, "ipc://"+filepath.Join(t.TempDir(), "mgmt.sock"), nil)
	got, err := Command(context.Background(), ep, "status", 3*time.Second, nil)
	if err != nil || !strings.HasPrefix(string(got), `{"success": 0, "msg": "vPoller Proxy status"`) {
		t.Fatalf("status: %s %v", got, err)
	}
	if _, err := Command(context.Background(), ep, "restart", time.Second, nil); err == nil {
		t.Fatal("unknown command accepted")
	}
	got, err = Command(context.Background(), ep, "stop", 3*time.Second, nil)
	if err != nil || string(got) != `{"success": 0, "msg": "Shutdown time has arrived"}` {
		t.Fatalf("stop: %s %v", got, err)
	}
	<-s.ShutdownRequested()
}

func TestConnectable(t *testing.T) {
	for in, want := range map[string]string{
		"tcp://*:9999":         "tcp://127.0.0.1:9999",
		"tcp://127.0.0.1:9999": "tcp://127.0.0.1:9999",
		"tcp://[::1]:1":        "tcp://[::1]:1",
		"ipc:///run/x.sock":    "ipc:///run/x.sock",
	} {
		if got := Connectable(in); got != want {
			t.Errorf("%s: got %s want %s", in, got, want)
		}
	}
}

// Over tcp without authentication anyone who can connect could stop the
// daemon: status is answered, shutdown is refused and nothing stops.
func TestShutdownRefusedOverUnauthenticatedTCP(t *testing.T) {
	s, ep := start(t)
	got, err := Command(context.Background(), ep, "stop", 3*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"success": 1`) || !strings.Contains(string(got), "Shutdown refused") {
		t.Fatalf("stop over tcp: %s", got)
	}
	select {
	case <-s.ShutdownRequested():
		t.Fatal("shutdown signalled")
	case <-time.After(100 * time.Millisecond):
	}
	if got, err := Command(context.Background(), ep, "status", 3*time.Second, nil); err != nil || !strings.Contains(string(got), `"success": 0`) {
		t.Fatalf("status: %s %v", got, err)
	}
}

// With a shared secret or CURVE, tcp management is authenticated: the
// right credentials stop the daemon, others do not even connect.
func TestAuthenticatedTCP(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "mgmt.secret")
	if err := os.WriteFile(secretFile, []byte("a long enough secret for PLAIN, 32+\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kp, _ := curvekey.Generate()
	_, keyFile, err := curvekey.WriteCertFiles(filepath.Join(dir, "worker"), kp)
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := curvekey.Generate()
	for _, sec := range []config.Security{{SecretFile: secretFile}, {CurveSecretKey: keyFile}} {
		srvMech, _, err := ServerSecurity(sec)
		if err != nil {
			t.Fatal(err)
		}
		s, ep := startAt(t, "tcp://127.0.0.1:0", srvMech)
		for _, bad := range []zmtp.Mechanism{nil, zmtp.PlainClient(zmtp.SecretUser, "a wrong secret"), zmtp.CurveClient(kp.Public, stranger)} {
			if got, err := Command(context.Background(), ep, "stop", time.Second, bad); err == nil {
				t.Fatalf("%s: stop with wrong credentials answered: %s", srvMech.Name(), got)
			}
		}
		cliMech, err := ClientSecurity(sec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Command(context.Background(), ep, "stop", 3*time.Second, cliMech)
		if err != nil || string(got) != `{"success": 0, "msg": "Shutdown time has arrived"}` {
			t.Fatalf("%s: stop: %s %v", srvMech.Name(), got, err)
		}
		<-s.ShutdownRequested()
	}
}

// Idle connections do not hold status up: neither handshakes that never
// complete nor 100 completed ones that never ask anything (more than the
// socket's 64 connections: the longest idle make room).
func TestIdleConnectionsDoNotBlockStatus(t *testing.T) {
	s, ep := start(t)
	var idle []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		c, err := zmtp.Dial(ctx, ep, zmtp.Config{Type: zmq4.Dealer})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	start := time.Now()
	if _, err := Command(context.Background(), ep, "status", 3*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("status took %s behind 20 idle connections", d)
	}
}

// Management sockets whose protection does not hold beyond this host are
// warned about at start-up, as the proxy warns about a frontend exposed
// without CURVE.
func TestExposedWarnings(t *testing.T) {
	dir := t.TempDir()
	kp, _ := curvekey.Generate()
	_, keyFile, err := curvekey.WriteCertFiles(filepath.Join(dir, "d"), kp)
	if err != nil {
		t.Fatal(err)
	}
	mech := func(sec config.Security) zmtp.Mechanism {
		m, _, err := ServerSecurity(sec)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	plain := zmtp.PlainServer(zmtp.SecretUser, strings.Repeat("s", 32))
	anyKey := mech(config.Security{CurveSecretKey: keyFile, CurveAllow: "*"})
	ownKey := mech(config.Security{CurveSecretKey: keyFile})
	const plainWarn, anyWarn = "reachable from other hosts with PLAIN", "accepts any CURVE client key"
	for _, tc := range []struct {
		ep   string
		mech zmtp.Mechanism
		want string // "" = no warning
	}{
		{"tcp://0.0.0.0:9999", plain, plainWarn},
		{"tcp://*:9999", plain, plainWarn},
		{"tcp://192.0.2.10:9999", plain, plainWarn},
		{"tcp://mgmt.example.org:9999", plain, plainWarn},
		{"tcp://[2001:db8::1]:9999", plain, plainWarn},
		{"tcp://127.0.0.1:9999", plain, ""},
		{"tcp://127.0.0.2:9999", plain, ""},
		{"tcp://[::1]:9999", plain, ""},
		{"tcp://localhost:9999", plain, ""},
		{"ipc:///run/vpoller/proxy-mgmt.sock", plain, ""},
		{"tcp://127.0.0.1:9999", anyKey, anyWarn},
		{"tcp://0.0.0.0:9999", anyKey, anyWarn},
		{"tcp://0.0.0.0:9999", ownKey, ""},
		{"tcp://0.0.0.0:9999", zmtp.Null(), ""}, // warned otherwise: shutdown is refused
	} {
		var buf bytes.Buffer
		warnExposed(slog.New(slog.NewTextHandler(&buf, nil)), tc.ep, tc.mech)
		out := buf.String()
		switch {
		case tc.want == "" && out != "":
			t.Errorf("%s %s: warned %q", tc.ep, tc.mech.Name(), out)
		case tc.want != "" && (!strings.Contains(out, "level=WARN") || !strings.Contains(out, tc.want) || !strings.Contains(out, tc.ep)):
			t.Errorf("%s %s: logged %q, want a warning with %q", tc.ep, tc.mech.Name(), out, tc.want)
		}
	}
	// Listen warns at start-up.
	var buf bytes.Buffer
	s, err := Listen(context.Background(), "tcp://127.0.0.1:0", Options{Security: anyKey, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !strings.Contains(buf.String(), anyWarn) {
		t.Fatalf("Listen logged %q", buf.String())
	}
}

// What ServerSecurity makes of the mgmt_* keys: the daemon's own key is
// always allowed; without mgmt_curve_allow only it; "*" any key.
func TestServerSecurityAllowList(t *testing.T) {
	dir := t.TempDir()
	own, _ := curvekey.Generate()
	admin, _ := curvekey.Generate()
	stranger, _ := curvekey.Generate()
	_, ownFile, err := curvekey.WriteCertFiles(filepath.Join(dir, "daemon"), own)
	if err != nil {
		t.Fatal(err)
	}
	adminPub, _, err := curvekey.WriteCertFiles(filepath.Join(dir, "admin"), admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		allow string
		ok    map[*curvekey.KeyPair]bool
	}{
		{"", map[*curvekey.KeyPair]bool{&own: true, &admin: false, &stranger: false}},
		{adminPub, map[*curvekey.KeyPair]bool{&own: true, &admin: true, &stranger: false}},
		{"*", map[*curvekey.KeyPair]bool{&own: true, &admin: true, &stranger: true}},
	} {
		m, _, err := ServerSecurity(config.Security{CurveSecretKey: ownFile, CurveAllow: tc.allow})
		if err != nil {
			t.Fatal(err)
		}
		_, ep := startAt(t, "tcp://127.0.0.1:0", m)
		for kp, want := range tc.ok {
			_, err := Command(context.Background(), ep, "status", 3*time.Second, zmtp.CurveClient(own.Public, *kp))
			if (err == nil) != want {
				t.Errorf("allow %q, key %s: %v, want allowed=%v", tc.allow, kp.Public, err, want)
			}
		}
	}
}
