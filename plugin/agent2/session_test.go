package agent2

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// agentSide drives a Session like the agent does, over a socket pair.
type agentSide struct {
	t    *testing.T
	conn net.Conn
	done chan error
	in   chan []byte
}

func startSession(t *testing.T, p *Plugin) *agentSide {
	t.Helper()
	a, b := net.Pipe()
	as := &agentSide{t: t, conn: a, done: make(chan error, 1), in: make(chan []byte, 1000)}
	go func() { as.done <- Serve(b, p); b.Close() }()
	go func() {
		defer close(as.in)
		for {
			f, err := ReadFrame(a)
			if err != nil {
				return
			}
			as.in <- f
		}
	}()
	t.Cleanup(func() { a.Close() })
	return as
}

func (a *agentSide) send(body string) {
	a.t.Helper()
	if err := WriteFrame(a.conn, []byte(body)); err != nil {
		a.t.Fatal(err)
	}
}

// next returns the next non-log frame.
func (a *agentSide) next() string {
	a.t.Helper()
	for {
		select {
		case f, ok := <-a.in:
			if !ok {
				a.t.Fatal("session closed the socket")
			}
			if !bytes.HasPrefix(f, []byte(`{"id":0,"message"`)) {
				return string(f)
			}
		case <-time.After(5 * time.Second):
			a.t.Fatal("no reply")
		}
	}
}

func (a *agentSide) wait() error {
	a.t.Helper()
	select {
	case err := <-a.done:
		return err
	case <-time.After(5 * time.Second):
		a.t.Fatal("Serve did not return")
		return nil
	}
}

func TestExportPanicIsItemError(t *testing.T) {
	a := startSession(t, &Plugin{Name: "Vsphtest", Metrics: testMetrics, Handler: &testPlugin{}})
	a.send(`{"id":1,"type":8,"global_options":{"Timeout":3,"SourceIP":""},"private_options":null}`)
	a.send(`{"id":2,"type":4}`)
	a.send(`{"id":3,"type":6,"key":"vsphtest.panic"}`)
	got := a.next()
	if want := `{"error":"internal error in the plugin while computing vsphtest.panic: boom","id":3,"type":7}`; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	a.send(`{"id":4,"type":6,"key":"vsphtest.ping","timeout":7}`)
	if got, want := a.next(), `{"id":4,"type":7,"value":"1"}`; got != want {
		t.Fatalf("after a panic: got %s want %s", got, want)
	}
	a.send(`{"id":5,"type":5}`)
	if err := a.wait(); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentExportsDoNotQueue(t *testing.T) {
	var mu sync.Mutex
	inside, peak := 0, 0
	release := make(chan struct{})
	h := exporterFunc(func(ctx context.Context, r Request) (string, error) {
		mu.Lock()
		inside++
		peak = max(peak, inside)
		mu.Unlock()
		<-release
		mu.Lock()
		inside--
		mu.Unlock()
		return r.Params[0], nil
	})
	a := startSession(t, &Plugin{Name: "X", Metrics: []Metric{{"x.y", "Does x."}}, Handler: h})
	const n = 50
	for i := 1; i <= n; i++ {
		a.send(fmt.Sprintf(`{"id":%d,"type":6,"key":"x.y","parameters":["v%d"]}`, i, i))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		p := peak
		mu.Unlock()
		if p == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d exports ran at once", p, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		var r exportResponse
		if err := json.Unmarshal([]byte(a.next()), &r); err != nil || r.Value == nil {
			t.Fatalf("bad reply %v %+v", err, r)
		}
		if *r.Value != fmt.Sprintf("v%d", r.ID) {
			t.Fatalf("reply %d carries %q", r.ID, *r.Value)
		}
		seen[*r.Value] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct replies", len(seen))
	}
	a.conn.Close() // EOF ends the session
	if err := a.wait(); err != nil {
		t.Fatal(err)
	}
}

type exporterFunc func(ctx context.Context, r Request) (string, error)

func (f exporterFunc) Export(ctx context.Context, r Request) (string, error) { return f(ctx, r) }

func TestTerminateCancelsInFlight(t *testing.T) {
	a := startSession(t, &Plugin{Name: "Vsphtest", Metrics: testMetrics, Handler: &testPlugin{}})
	a.send(`{"id":1,"type":6,"key":"vsphtest.block"}`)
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	a.send(`{"id":2,"type":5}`)
	if got, want := a.next(), `{"error":"context canceled","id":1,"type":7}`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	if err := a.wait(); err != nil || time.Since(start) > TerminateGrace {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestBadInputKeepsServing(t *testing.T) {
	tp := &testPlugin{}
	a := startSession(t, &Plugin{Name: "Vsphtest", Metrics: testMetrics, Handler: tp})
	// not JSON, wrong payload type, malformed Export fields, unknown type
	a.send(`not json`)
	hdr := []byte{2, 0, 0, 0, 2, 0, 0, 0, '{', '}'}
	if _, err := a.conn.Write(hdr); err != nil {
		t.Fatal(err)
	}
	a.send(`{"id":7,"type":6,"key":"vsphtest.echo","parameters":[1,2]}`)
	got := a.next()
	if !strings.HasPrefix(got, `{"error":"agent2: malformed message type 6: `) || !strings.HasSuffix(got, `"id":7,"type":7}`) {
		t.Fatalf("malformed export: %s", got)
	}
	a.send(`{"id":8,"type":99}`)
	a.send(`{"id":9,"type":6,"key":"vsphtest.echo","parameters":["100%"]}`)
	if got, want := a.next(), `{"id":9,"type":7,"value":"{\"key\":\"vsphtest.echo\",\"n\":1,\"params\":[\"100%\"]}"}`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	a.send(`{"id":10,"type":9,"private_options":{"Name":"Vsphtest","Nodes":[{"Name":"X","Nodes":[{"Value":"!!","Line":3}],"Line":3}],"Line":1}}`)
	if got := a.next(); !strings.Contains(got, `X (line 3): value is not base64`) {
		t.Fatalf("validate with bad base64: %s", got)
	}
	a.send(`{"id":0,"type":5}`)
	if err := a.wait(); err != nil {
		t.Fatal(err)
	}
}

type failingConfig struct{ testPlugin }

func (f *failingConfig) Configure(GlobalOptions, *Options) error {
	return errors.New("Endpoint is wrong")
}

func TestConfigureErrorFailsExports(t *testing.T) {
	a := startSession(t, &Plugin{Name: "Vsphtest", Metrics: testMetrics, Handler: &failingConfig{}})
	a.send(`{"id":1,"type":8,"global_options":{"Timeout":3,"SourceIP":""}}`)
	a.send(`{"id":2,"type":4}`)
	a.send(`{"id":3,"type":6,"key":"vsphtest.ping"}`)
	if got, want := a.next(), `{"error":"plugin configuration failed: Endpoint is wrong","id":3,"type":7}`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	a.send(`{"id":0,"type":5}`)
	_ = a.wait()
}

func TestConfigureAndRunner(t *testing.T) {
	tp := &testPlugin{}
	a := startSession(t, &Plugin{Name: "Vsphtest", Metrics: testMetrics, Handler: tp})
	a.send(`{"id":1,"type":8,"global_options":{"Timeout":4,"SourceIP":""},"private_options":{"Name":"Vsphtest","Nodes":[{"Name":"Timeout","Nodes":[{"Value":"Nw==","Line":2}],"Line":2}],"Line":1}}`)
	a.send(`{"id":2,"type":4}`)
	a.send(`{"id":3,"type":6,"key":"vsphtest.ping"}`)
	a.next()
	a.send(`{"id":4,"type":5}`)
	_ = a.wait()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.global.Timeout != 4 || tp.started != 1 || tp.stopped != 1 {
		t.Fatalf("global %+v started %d stopped %d", tp.global, tp.started, tp.stopped)
	}
	if o, ok := tp.configured.Get("timeout"); !ok || o.Value != "7" || o.Line != 2 {
		t.Fatalf("Timeout option: %+v %v", o, ok)
	}
}

func TestRegisterRefusedBadTable(t *testing.T) {
	a := startSession(t, &Plugin{Name: "X", Metrics: []Metric{{"x.y", "returns 1."}}, Handler: &testPlugin{}})
	a.send(`{"id":1,"type":2,"version":"6.0.13"}`)
	want := `{"error":"metric \"x.y\": description \"returns 1.\" must start with a capital letter and end with '.'","id":1,"type":3}`
	if got := a.next(); got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if err := a.wait(); !errors.Is(err, ErrRegistration) {
		t.Fatalf("Serve: %v, want ErrRegistration", err)
	}
}

func TestRegisterEveryVersion(t *testing.T) {
	for _, v := range []string{"1.0", "6.0.13", "6.2.7", "6.4.0", "7.4.0", "", "garbage"} {
		a := startSession(t, &Plugin{Name: "X", Metrics: []Metric{{"x.y", "Does x."}}, Handler: &testPlugin{}})
		a.send(fmt.Sprintf(`{"id":1,"type":2,"version":%q}`, v))
		if got, want := a.next(), `{"id":1,"interfaces":7,"metrics":["x.y","Does x."],"name":"X","type":3}`; got != want {
			t.Fatalf("version %q: %s", v, got)
		}
		a.send(`{"id":2,"type":5}`)
		_ = a.wait()
	}
}

func TestLogEscapesPercent(t *testing.T) {
	if got, want := string(logBody(SeverityWarning, "100% <ok> & done")), `{"id":0,"message":"100%% <ok> & done","severity":3,"type":1}`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

func TestExportTimeout(t *testing.T) {
	for raw, want := range map[string]time.Duration{
		``: 0, `null`: 0, `60`: 60 * time.Second, `2`: 2 * time.Second, `"10"`: 10 * time.Second,
		`0`: 0, `-1`: 0, `1e300`: 0, `{}`: 0, `2.5`: 2500 * time.Millisecond,
	} {
		if got := exportTimeout(json.RawMessage(raw)); got != want {
			t.Errorf("timeout %s: %v, want %v", raw, got, want)
		}
	}
}

func TestReadFrameErrors(t *testing.T) {
	if _, err := ReadFrame(bytes.NewReader(nil)); err != io.EOF {
		t.Fatalf("empty: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{1, 0, 0})); err != io.ErrUnexpectedEOF {
		t.Fatalf("short header: %v", err)
	}
	big := AppendFrame(nil, nil)
	big[4], big[5], big[6], big[7] = 0, 0, 0, 0x10 // 256 MiB announced
	if _, err := ReadFrame(bytes.NewReader(big)); err != io.ErrUnexpectedEOF {
		t.Fatalf("oversized, body missing: %v", err)
	}
	// oversized but present: skipped, and the next frame is still read
	over := make([]byte, 0, MaxFrameSize+100)
	over = AppendFrame(over, make([]byte, MaxFrameSize+1))
	over = AppendFrame(over, []byte(`{"id":1}`))
	r := bytes.NewReader(over)
	if _, err := ReadFrame(r); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
	if b, err := ReadFrame(r); err != nil || string(b) != `{"id":1}` {
		t.Fatalf("after oversized: %q %v", b, err)
	}
}

func TestRunArgs(t *testing.T) {
	p := &Plugin{Name: "X", Version: "1.2.3", Metrics: []Metric{{"x.y", "Does x."}}, Handler: &testPlugin{}}
	var out, errb bytes.Buffer
	if code := Run(p, []string{"bin", "-V"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "bin 1.2.3\n") {
		t.Fatalf("-V: %d %q", code, out.String())
	}
	out.Reset()
	if code := Run(p, []string{"bin", "-h"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "x.y") || !strings.Contains(out.String(), "Plugins.X.System.Path=bin") {
		t.Fatalf("-h: %d %q", code, out.String())
	}
	if code := Run(p, []string{"bin", "/sock", "maybe"}, &out, &errb); code != 2 {
		t.Fatalf("bad args: %d", code)
	}
}
