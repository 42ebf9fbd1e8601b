package agent2

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// transcriptFrame is one frame of the recorded agent <-> plugin traffic.
type transcriptFrame struct {
	toPlugin bool
	hdr      []byte
	body     []byte
	line     int
	// truncated: the transcript shortened this line (section C prints only
	// the first ~300 characters) and no complete copy was found.
	truncated bool
}

func (f transcriptFrame) announced() int { return int(binary.LittleEndian.Uint32(f.hdr[4:8])) }

var frameLineRE = regexp.MustCompile(`\[pid (\d+)\] (AGENT->PLUGIN|PLUGIN->AGENT) hdr=([0-9a-f]{16}) body=(.*)$`)

// readTranscript returns the frames of a transcript grouped by plugin
// process, in file order.
func readTranscript(t testing.TB, name string) (pids []string, frames map[string][]transcriptFrame) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	frames = map[string][]transcriptFrame{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		m := frameLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		hdr, err := hex.DecodeString(m[3])
		if err != nil {
			t.Fatalf("%s:%d: %v", name, n, err)
		}
		if _, ok := frames[m[1]]; !ok {
			pids = append(pids, m[1])
		}
		frames[m[1]] = append(frames[m[1]], transcriptFrame{toPlugin: m[2] == "AGENT->PLUGIN", hdr: hdr, body: []byte(m[4]), line: n})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// Restore shortened lines from a complete frame with the same header
	// and prefix (the agent sends identical configuration frames each run).
	var full []transcriptFrame
	for _, pid := range pids {
		for _, f := range frames[pid] {
			if len(f.body) == f.announced() {
				full = append(full, f)
			}
		}
	}
	for _, pid := range pids {
		for i, f := range frames[pid] {
			if len(f.body) >= f.announced() {
				continue
			}
			frames[pid][i].truncated = true
			for _, c := range full {
				if bytes.Equal(c.hdr, f.hdr) && bytes.HasPrefix(c.body, f.body) {
					frames[pid][i].body, frames[pid][i].truncated = c.body, false
					break
				}
			}
		}
	}
	if len(pids) == 0 {
		t.Fatalf("%s: no frames found", name)
	}
	return pids, frames
}

var transcripts = []string{"agent2-6.0-transcript.txt", "agent2-7.0-transcript.txt"}

// TestTranscriptFramesDecode checks every recorded frame, in both
// directions, against ReadFrame and AppendFrame: same header bytes, same body.
func TestTranscriptFramesDecode(t *testing.T) {
	for _, name := range transcripts {
		pids, frames := readTranscript(t, name)
		count := 0
		for _, pid := range pids {
			for _, f := range frames[pid] {
				raw := append(append([]byte(nil), f.hdr...), f.body...)
				body, err := ReadFrame(bytes.NewReader(raw))
				if f.truncated {
					// A frame cut short must be reported, not half-decoded.
					if !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Fatalf("%s:%d: truncated frame: err %v, want unexpected EOF", name, f.line, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s:%d: %v", name, f.line, err)
				}
				if !bytes.Equal(body, f.body) {
					t.Fatalf("%s:%d: body mismatch", name, f.line)
				}
				if got := AppendFrame(nil, f.body); !bytes.Equal(got[:HeaderSize], f.hdr) {
					t.Fatalf("%s:%d: header %x, transcript %x", name, f.line, got[:HeaderSize], f.hdr)
				}
				if !json.Valid(f.body) {
					t.Fatalf("%s:%d: body is not JSON", name, f.line)
				}
				count++
			}
		}
		if count < 50 {
			t.Fatalf("%s: only %d frames", name, count)
		}
	}
}

// testPlugin behaves like the plugin that recorded the transcripts, minus
// its deliberate misbehaviours: it always returns strings (the transcripts
// show why: the agents mangle numbers and objects).
type testPlugin struct {
	validateErr string
	mu          sync.Mutex
	configured  *Options
	global      GlobalOptions
	started     int
	stopped     int
}

func (p *testPlugin) Validate(opts *Options) error {
	if p.validateErr != "" {
		return errors.New(p.validateErr)
	}
	return nil
}

func (p *testPlugin) Configure(g GlobalOptions, opts *Options) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.configured, p.global = opts, g
	return nil
}

func (p *testPlugin) Start() { p.mu.Lock(); p.started++; p.mu.Unlock() }
func (p *testPlugin) Stop()  { p.mu.Lock(); p.stopped++; p.mu.Unlock() }

func (p *testPlugin) Export(ctx context.Context, req Request) (string, error) {
	switch req.Key {
	case "vsphtest.ping":
		return "1", nil
	case "vsphtest.echo":
		b, err := json.Marshal(map[string]any{"key": req.Key, "n": len(req.Params), "params": req.Params})
		return string(b), err
	case "vsphtest.sleep":
		return req.Params[0], nil
	case "vsphtest.err":
		return "", errors.New("deliberate test error")
	case "vsphtest.num":
		return "3.25", nil
	case "vsphtest.empty", "vsphtest.nil":
		return "", nil
	case "vsphtest.int":
		return "42", nil
	case "vsphtest.obj":
		return `{"a":1,"b":[1,2]}`, nil
	case "vsphtest.panic":
		panic("boom")
	case "vsphtest.block":
		<-ctx.Done()
		return "", ctx.Err()
	}
	return "", fmt.Errorf("unknown key %s", req.Key)
}

var testMetrics = []Metric{
	{"vsphtest.ping", "Returns 1."}, {"vsphtest.echo", "Echoes parameters as JSON."},
	{"vsphtest.sleep", "Sleeps N seconds then returns N."}, {"vsphtest.err", "Always returns an error."},
	{"vsphtest.num", "Returns a float64 number."}, {"vsphtest.obj", "Returns a JSON object value."},
	{"vsphtest.big", "Returns N bytes."}, {"vsphtest.int", "Returns integer 42."},
	{"vsphtest.nil", "Returns no value."}, {"vsphtest.empty", "Returns empty string."},
}

// replay feeds agent frames to a Session over a socket pair and returns the
// plugin's frames once Serve has returned.
func replay(t testing.TB, p *Plugin, agentFrames [][]byte, closeAfter bool) (out [][]byte, serveErr error) {
	t.Helper()
	agent, plug := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- Serve(plug, p); plug.Close() }()
	go func() {
		for _, b := range agentFrames {
			if WriteFrame(agent, b) != nil {
				return
			}
		}
		if closeAfter {
			// half-close is not available on net.Pipe; the reader below
			// closes the whole pipe once we stop writing.
			_ = agent.SetReadDeadline(time.Now().Add(2 * time.Second))
		}
	}()
	for {
		b, err := ReadFrame(agent)
		if err != nil {
			break
		}
		out = append(out, b)
	}
	agent.Close()
	select {
	case serveErr = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	return out, serveErr
}

// TestTranscriptReplay replays the agent's side of every recorded plugin
// process and compares the plugin's answers byte for byte with the
// recorded ones where the plugin side is deterministic.
func TestTranscriptReplay(t *testing.T) {
	canonicalRegister := ""
	for _, name := range transcripts {
		pids, frames := readTranscript(t, name)
		for _, pid := range pids {
			fs := frames[pid]
			var agentFrames [][]byte
			var want [][]byte // recorded plugin replies (types 3, 7, 10)
			tp := &testPlugin{}
			misbehaving := false
			for _, f := range fs {
				if f.truncated && f.toPlugin {
					misbehaving = true // cannot replay what was not recorded
				}
				if f.truncated {
					want = append(want, f.body) // compared as a prefix below
					continue
				}
				if f.toPlugin {
					agentFrames = append(agentFrames, f.body)
					continue
				}
				var h struct {
					Type  uint32          `json:"type"`
					Error string          `json:"error"`
					Name  string          `json:"name"`
					ID    uint32          `json:"id"`
					Value json.RawMessage `json:"value"`
				}
				if err := json.Unmarshal(f.body, &h); err != nil {
					t.Fatalf("%s:%d: %v", name, f.line, err)
				}
				switch h.Type {
				case TypeLog:
					// Log frames: re-encode the same message and compare bytes.
					var l logRequest
					_ = json.Unmarshal(f.body, &l)
					if got := logBody(l.Severity, l.Message); !bytes.Equal(got, f.body) {
						t.Errorf("%s:%d: log frame\n got %s\nwant %s", name, f.line, got, f.body)
					}
				case TypeRegisterResponse:
					if canonicalRegister == "" && h.Error == "" && h.Name == "Vsphtest" {
						canonicalRegister = string(f.body)
					}
					if h.Error != "" || h.Name != "Vsphtest" || string(f.body) != canonicalRegister {
						// The recording plugin was told to misbehave here
						// (register error, wrong name, bad description):
						// cases about the agent, not about this package.
						misbehaving = true
					}
					want = append(want, f.body)
				case TypeValidateResponse:
					tp.validateErr = h.Error
					want = append(want, f.body)
				case TypeExportResponse:
					if len(h.Value) > 0 && h.Value[0] != '"' {
						// The recording plugin sent a number or object
						// (to show how the agent mangles it); we always
						// send the JSON text as a string.
						b, _ := encodeBody(exportResponse{ID: h.ID, Type: TypeExportResponse, Value: ptr(string(h.Value))})
						want = append(want, b)
					} else {
						want = append(want, f.body)
					}
				}
			}
			if misbehaving {
				continue
			}
			if last := agentFrames[len(agentFrames)-1]; !bytes.Contains(last, []byte(`"type":5}`)) {
				// The recording ended without Terminate (the agent gave up
				// or died); end the replay the way the agent's exit would.
				agentFrames = append(agentFrames, []byte(`{"id":0,"type":5}`))
			}
			p := &Plugin{Name: "Vsphtest", Metrics: testMetrics, Handler: tp}
			got, err := replay(t, p, agentFrames, false)
			if err != nil {
				t.Fatalf("%s pid %s: Serve: %v", name, pid, err)
			}
			gotSet := map[string]int{}
			answered := 0
			for _, b := range got {
				var h header
				_ = json.Unmarshal(b, &h)
				if h.Type != TypeLog {
					gotSet[string(b)]++
					answered++
				}
			}
			for _, w := range want {
				for g := range gotSet {
					if gotSet[g] > 0 && len(w) < len(g) && strings.HasPrefix(g, string(w)) {
						w = []byte(g) // shortened line in the transcript
						break
					}
				}
				if gotSet[string(w)] == 0 {
					t.Errorf("%s pid %s: missing reply %s\n got: %q", name, pid, w, got)
				}
				gotSet[string(w)]--
			}
			// every Register/Validate/Export the agent sent is answered once
			expect := 0
			for _, b := range agentFrames {
				var h header
				_ = json.Unmarshal(b, &h)
				switch h.Type {
				case TypeRegister, TypeValidate, TypeExport:
					expect++
				}
			}
			if answered != expect {
				t.Errorf("%s pid %s: %d replies for %d requests", name, pid, answered, expect)
			}
		}
	}
	if canonicalRegister == "" {
		t.Fatal("no register response found in the transcripts")
	}
}

func ptr(s string) *string { return &s }

func TestReplayRegisterBytes(t *testing.T) {
	// The Register reply for the recording plugin's metric table is byte
	// identical to the transcript (6.0 section A).
	pids, frames := readTranscript(t, transcripts[0])
	var want []byte
	for _, pid := range pids { // file order: section A's plugin first
		for _, f := range frames[pid] {
			if !f.toPlugin && strings.Contains(string(f.body), `"interfaces":7`) {
				want = f.body
				break
			}
		}
		if want != nil {
			break
		}
	}
	p := &Plugin{Name: "Vsphtest", Metrics: testMetrics, Handler: &testPlugin{}}
	got, err := replay(t, p, [][]byte{[]byte(`{"id":1,"type":2,"version":"6.0.13"}`), []byte(`{"id":0,"type":5}`)}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !bytes.Equal(got[0], want) {
		t.Fatalf("got %q\nwant %s", got, want)
	}
}
