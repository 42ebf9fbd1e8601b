package agent2

import (
	"bytes"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

func TestAgentClosesFirst(t *testing.T) {
	for v, want := range map[string]bool{"1.0": true, "6.0.13": true, "6.2.7": true, "6.4.0": false, "7.0.22": false, "": false, "x.y": false, "6": false} {
		if got := agentClosesFirst(v); got != want {
			t.Errorf("agentClosesFirst(%q) = %v", v, got)
		}
	}
}

// fakeAgent listens like the agent, runs the plugin's Run on its socket
// and returns the accepted connection and Run's exit status channel.
func fakeAgent(t *testing.T, phase string) (net.Conn, <-chan int) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.plugin.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := &Plugin{Name: "X", Version: "1", Metrics: []Metric{{"x.y", "Does x."}}, Handler: &testPlugin{}}
	code := make(chan int, 1)
	go func() { code <- Run(p, []string{"bin", sock, phase}, io.Discard, io.Discard) }()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, code
}

func exchange(t *testing.T, conn net.Conn, body string) {
	t.Helper()
	if err := WriteFrame(conn, []byte(body)); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := ReadFrame(conn)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(f, []byte(`{"id":0,"message"`)) {
			return
		}
	}
}

// After Terminate, a plugin of a 6.0-6.2 agent leaves the socket open
// until the agent closes it (6.0.14 spins on the EOF otherwise, logging
// "failed to read type header" hundreds of times); for 6.4 and later,
// which wait for the plugin's exit before they close, it exits at once.
func TestRunEndsAsTheAgentExpects(t *testing.T) {
	for _, tc := range []struct {
		version string
		lingers bool
	}{{"6.0.13", true}, {"1.0", true}, {"6.4.0", false}} {
		t.Run(tc.version, func(t *testing.T) {
			conn, code := fakeAgent(t, "true")
			exchange(t, conn, `{"id":1,"type":2,"version":"`+tc.version+`"}`)
			if err := WriteFrame(conn, []byte(`{"id":2,"type":5}`)); err != nil {
				t.Fatal(err)
			}
			// A plugin that lingers is still connected at the end of this
			// read's window (it lingers up to 1 s); one that does not
			// closes, and the read sees EOF.
			_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, err := conn.Read(make([]byte, 1))
			var ne net.Error
			switch timedOut := errors.As(err, &ne) && ne.Timeout(); {
			case tc.lingers && !timedOut:
				t.Fatalf("the plugin closed the socket before the agent: %v", err)
			case !tc.lingers && !errors.Is(err, io.EOF):
				t.Fatalf("the plugin did not exit at once: %v", err)
			}
			conn.Close() // the agent closes
			select {
			case c := <-code:
				if c != 0 {
					t.Fatalf("exit status %d", c)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after the agent closed the socket")
			}
		})
	}
}

// A registration run whose agent goes silent after Register (7.0.9 when
// it refuses the plugin's name itself: it waits for the plugin's exit)
// ends; an operating run never does on silence.
func TestRegistrationRunEndsOnSilence(t *testing.T) {
	old := registrationIdle
	registrationIdle = 200 * time.Millisecond
	t.Cleanup(func() { registrationIdle = old })
	conn, code := fakeAgent(t, "true")
	exchange(t, conn, `{"id":1,"type":2,"version":"6.4.0"}`)
	select {
	case c := <-code:
		if c != 1 {
			t.Fatalf("exit status %d, want 1", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the registration run did not end when the agent went silent")
	}

	conn, code = fakeAgent(t, "false")
	if err := WriteFrame(conn, []byte(`{"id":1,"type":8,"global_options":{"Timeout":3}}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		t.Fatalf("the operating run ended (%d) on silence", c)
	case <-time.After(3 * registrationIdle):
	}
	conn.Close()
	if c := <-code; c != 0 {
		t.Fatalf("operating run: exit status %d after EOF", c)
	}
}
