package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/plugin/agent2"
)

// logRecorder keeps the plugin's log records.
type logRecorder struct {
	mu   sync.Mutex
	recs []string // "LEVEL message"
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec.Level.String()+" "+rec.Message)
	r.mu.Unlock()
	return nil
}

// find returns the records of level that contain all of parts.
func (r *logRecorder) find(level string, parts ...string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
next:
	for _, rec := range r.recs {
		if !strings.HasPrefix(rec, level+" ") {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(rec, p) {
				continue next
			}
		}
		out = append(out, rec)
	}
	return out
}

// newStatePlugin is a plugin configured like the agent would: its logger
// first, then Configure with the state file.
func newStatePlugin(t *testing.T, endpoint, state string) (*VPoller, *logRecorder) {
	t.Helper()
	rec := &logRecorder{}
	p := New()
	p.UseLogger(slog.New(rec))
	if err := p.Configure(agent2.GlobalOptions{Timeout: 3}, opts("Endpoint", endpoint, "EventsStateFile", state)); err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(p.Stop)
	return p, rec
}

// postf posts n user events with the messages format % 0..n-1.
func (c *eventChain) postf(t *testing.T, format string, n int) {
	t.Helper()
	for i := range n {
		_, err := methods.PostEvent(t.Context(), c.vc.Client, &types.PostEvent{This: *c.vc.ServiceContent.EventManager,
			EventToPost: &types.GeneralUserEvent{GeneralEvent: types.GeneralEvent{Event: types.Event{FullFormattedMessage: fmt.Sprintf(format, i)}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func pollEvents(t *testing.T, p *VPoller, params ...string) []string {
	t.Helper()
	v, err := export(p, "vpoller.events", 10*time.Second, params...)
	if err != nil {
		t.Fatalf("vpoller.events%q: %v", params, err)
	}
	for _, l := range lines(v) {
		if !eventLineRE.MatchString(l) {
			t.Errorf("line %q", l)
		}
	}
	return lines(v)
}

func readState(t *testing.T, path string) []stateStream {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := parseEventState(b)
	if err != nil {
		t.Fatalf("the plugin wrote a state file it cannot read: %v\n%s", err, b)
	}
	return ss
}

// TestEventsResumeAfterRestart: events made while the plugin is down (a
// new plugin instance over the same state file, through the same real
// proxy, worker and simulated vCenter) are delivered by the first poll
// after it is back, in order, and none twice; each key resumes from its
// own position.
func TestEventsResumeAfterRestart(t *testing.T) {
	c := startEventChain(t)
	state := filepath.Join(t.TempDir(), "vpoller-events.json")
	const vm = "DC0_H0_VM1"
	p1, _ := newStatePlugin(t, c.endpoint, state)
	for _, key := range [][]string{{simVC}, {simVC, vm}} {
		if got := pollEvents(t, p1, key...); got != nil {
			t.Fatalf("first poll of %q: %q", key, got)
		}
	}
	c.postf(t, "before %d", 2)
	if got := pollEvents(t, p1, simVC); len(got) != 2 || !strings.HasSuffix(got[0], ": before 0") || !strings.HasSuffix(got[1], ": before 1") {
		t.Fatalf("before the restart: %q", got)
	}
	p1.Stop()

	// Down: 7 user events and a power-off (2 events): 9 events.
	c.postf(t, "while down %d", 7)
	c.powerOff(t, vm)

	p2, rec := newStatePlugin(t, c.endpoint, state)
	if got := rec.find("INFO", "vpoller.events positions restored"); len(got) != 1 {
		t.Errorf("restore log: %q", rec.find("INFO"))
	}
	got := pollEvents(t, p2, simVC)
	if len(got) != 9 {
		t.Fatalf("first poll after the restart: %d lines, want the 9 made meanwhile:\n%s", len(got), strings.Join(got, "\n"))
	}
	for i := range 7 {
		if want := fmt.Sprintf(" info GeneralUserEvent %s: while down %d", simVC, i); !strings.HasSuffix(got[i], want) {
			t.Errorf("line %d %q, want suffix %q", i, got[i], want)
		}
	}
	if !strings.Contains(got[7], " VmStoppingEvent "+vm+": ") || !strings.Contains(got[8], " VmPoweredOffEvent "+vm+": ") {
		t.Errorf("the power-off: %q", got[7:])
	}
	own := pollEvents(t, p2, simVC, vm)
	if len(own) != 2 || !strings.Contains(own[0], " VmStoppingEvent "+vm+": ") || !strings.Contains(own[1], " VmPoweredOffEvent "+vm+": ") {
		t.Fatalf("the VM's key after the restart: %q", own)
	}
	for _, key := range [][]string{{simVC}, {simVC, vm}} {
		if got := pollEvents(t, p2, key...); got != nil {
			t.Fatalf("second poll of %q after the restart: %q (delivered twice?)", key, got)
		}
	}
	// The file holds both keys at their positions.
	ss := readState(t, state)
	if len(ss) != 2 || ss[0].Key != ss[1].Key || ss[0].Key <= 0 {
		t.Fatalf("state file %+v", ss)
	}
	if entries, _ := os.ReadDir(filepath.Dir(state)); len(entries) != 1 {
		t.Errorf("left in the state directory: %v", entries)
	}
}

// TestEventsStateProblems: a state file that cannot be used never stops
// the plugin: a corrupt or unreadable one is reported and the streams
// start at "now" (the file is replaced at the next poll); a directory
// that cannot take the file turns persistence off; a stored position
// beyond the stream means another stream and starts at "now".
func TestEventsStateProblems(t *testing.T) {
	c := startEventChain(t)
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the state path
		warn    []string
		persist bool
	}{
		{"garbage", func(t *testing.T, dir string) string {
			return writeFile(t, dir, "\x00\x01not json")
		}, []string{"cannot be used, starting afresh", "not a vpoller.events state file"}, true},
		{"truncated", func(t *testing.T, dir string) string {
			return writeFile(t, dir, `{"version":1,"streams":[{"host":"`+simVC+`","key":`)
		}, []string{"cannot be used, starting afresh", "unexpected EOF"}, true},
		{"other version", func(t *testing.T, dir string) string {
			return writeFile(t, dir, `{"version":2,"streams":[]}`)
		}, []string{"cannot be used, starting afresh", "version 2, want 1"}, true},
		{"a directory where the file should be", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "state")
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}, []string{"not a regular file", "kept in memory only"}, false},
		{"no such directory", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "missing", "state.json")
		}, []string{"is not writable by the agent's user", "kept in memory only"}, false},
		{"directory is a file", func(t *testing.T, dir string) string {
			return filepath.Join(writeFile(t, dir, "x"), "state.json")
		}, []string{"is not writable by the agent's user", "kept in memory only"}, false},
		{"another event stream", func(t *testing.T, dir string) string {
			return writeFile(t, dir, `{"version":1,"streams":[{"host":"`+simVC+`","key":1099511627776,"polled":"2026-03-01T10:00:00Z"}]}`)
		}, []string{"the stored position (event 1099511627776) is beyond the newest event of " + simVC, "starting at \"now\""}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			state := tt.setup(t, dir)
			p, rec := newStatePlugin(t, c.endpoint, state)
			if got := pollEvents(t, p, simVC); got != nil {
				t.Fatalf("first poll: %q, want nothing (starts at now)", got)
			}
			c.postf(t, tt.name+" %d", 1)
			if got := pollEvents(t, p, simVC); len(got) != 1 || !strings.HasSuffix(got[0], ": "+tt.name+" 0") {
				t.Fatalf("second poll: %q", got)
			}
			if w := rec.find("WARN", tt.warn...); len(w) != 1 {
				t.Fatalf("want one WARN with %q; log: %q", tt.warn, rec.find("WARN"))
			}
			if fi, err := os.Stat(state); tt.persist {
				if ss := readState(t, state); len(ss) != 1 || ss[0].Host != simVC {
					t.Fatalf("state after the polls: %+v", ss)
				}
			} else if err == nil && fi.Mode().IsRegular() {
				t.Fatalf("persistence is off but %s was written", state)
			}
		})
	}
}

func writeFile(t *testing.T, dir, content string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "state-*.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// commitAt sets the position of a key as a poll at now would.
func commitAt(ps *eventPositions, host string, key int64, now time.Time) {
	pos := ps.get(host, "", "", now)
	pos.mu.Lock()
	pos.key, pos.started = key, true
	ps.commit(pos)
	pos.mu.Unlock()
}

// TestEventsStateBounded: the file keeps the maxStateStreams most
// recently polled streams, and concurrent polls all end up in it.
func TestEventsStateBounded(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "events.json")
	var ps eventPositions
	ps.useStore(state, slog.New(slog.DiscardHandler), time.Now())
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	const n = maxStateStreams + 50
	for i := range n - 1 { // positions set without a write each (one write of 1,000 streams takes a while)
		pos := ps.get(fmt.Sprintf("vc%04d", i), "", "", start.Add(time.Duration(i)*time.Second))
		ps.mu.Lock()
		pos.started, pos.key, pos.saved, pos.savedSet = true, int64(i), int64(i), true
		ps.mu.Unlock()
	}
	commitAt(&ps, fmt.Sprintf("vc%04d", n-1), n-1, start.Add((n-1)*time.Second))
	ss := readState(t, state)
	if len(ss) != maxStateStreams || ss[0].Host != fmt.Sprintf("vc%04d", n-1) || ss[len(ss)-1].Host != fmt.Sprintf("vc%04d", n-maxStateStreams) {
		t.Fatalf("%d streams, from %s to %s", len(ss), ss[0].Host, ss[len(ss)-1].Host)
	}
	for _, s := range ss {
		if want := fmt.Sprintf("vc%04d", s.Key); s.Host != want || !s.Polled.Equal(start.Add(time.Duration(s.Key)*time.Second)) {
			t.Fatalf("stream %+v", s)
		}
	}
	if b, _ := os.ReadFile(state); len(b) > 200*maxStateStreams {
		t.Errorf("state file of %d bytes", len(b))
	}

	// Concurrent polls of different keys share writes; every final
	// position is in the file once they return.
	var ps2 eventPositions
	state2 := filepath.Join(dir, "concurrent.json")
	ps2.useStore(state2, slog.New(slog.DiscardHandler), time.Now())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range 30 {
				commitAt(&ps2, fmt.Sprintf("vc%d", g), int64(k+1), start.Add(time.Duration(k)*time.Second))
			}
		})
	}
	wg.Wait()
	ss = readState(t, state2)
	if len(ss) != 8 {
		t.Fatalf("%d streams: %+v", len(ss), ss)
	}
	for _, s := range ss {
		if s.Key != 30 {
			t.Errorf("stream %s at %d, want 30", s.Host, s.Key)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("left in the state directory: %v", entries)
	}
}

// TestParseEventState checks the state file reader on good and bad files.
func TestParseEventState(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	tests := []struct {
		name string
		in   string
		want []stateStream
		err  string
	}{
		{"empty list", `{"version":1,"streams":[]}`, []stateStream{}, ""},
		{"two streams, newest first", `{"version":1,"streams":[
			{"host":"vc1","key":5,"polled":"2026-03-01T10:00:00Z"},
			{"host":"vc1","name":"vm1","endpoint":"Prod","key":-3,"polled":"2026-03-01T11:00:00+01:00"},
			{"host":"vc2","key":7,"polled":"2026-03-01T10:30:00Z"}]}`,
			[]stateStream{{Host: "vc2", Key: 7, Polled: at("2026-03-01T10:30:00Z")}, {Host: "vc1", Key: 5, Polled: at("2026-03-01T10:00:00Z")},
				{Host: "vc1", Name: "vm1", Endpoint: "Prod", Key: -3, Polled: at("2026-03-01T11:00:00+01:00")}}, ""},
		{"duplicate keeps the newer", `{"version":1,"streams":[
			{"host":"vc1","key":5,"polled":"2026-03-01T10:00:00Z"},
			{"host":"vc1","key":9,"polled":"2026-03-01T10:01:00Z"}]}`,
			[]stateStream{{Host: "vc1", Key: 9, Polled: at("2026-03-01T10:01:00Z")}}, ""},
		{"no host", `{"version":1,"streams":[{"key":5}]}`, nil, "stream 0 has no host"},
		{"NUL", `{"version":1,"streams":[{"host":"a\u0000b","key":5}]}`, nil, "NUL"},
		{"unknown field", `{"version":1,"streams":[],"extra":1}`, nil, "unknown field"},
		{"key not an integer", `{"version":1,"streams":[{"host":"vc1","key":1.5}]}`, nil, "not a vpoller.events state file"},
		{"bad time", `{"version":1,"streams":[{"host":"vc1","key":1,"polled":"yesterday"}]}`, nil, "not a vpoller.events state file"},
		{"trailing data", `{"version":1,"streams":[]} {}`, nil, "data after the JSON object"},
		{"no version", `{"streams":[]}`, nil, "version 0, want 1"},
		{"empty", ``, nil, "EOF"},
		{"too big", `{"version":1,"streams":[]}` + strings.Repeat(" ", maxStateBytes), nil, "more than"},
	}
	for _, tt := range tests {
		got, err := parseEventState([]byte(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: %+v %v, want error with %q", tt.name, got, err, tt.err)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("%s: %+v %v, want %+v", tt.name, got, err, tt.want)
			continue
		}
		for i := range got {
			g, w := got[i], tt.want[i]
			if g.Host != w.Host || g.Name != w.Name || g.Endpoint != w.Endpoint || g.Key != w.Key || !g.Polled.Equal(w.Polled) {
				t.Errorf("%s: stream %d %+v, want %+v", tt.name, i, g, w)
			}
		}
	}
	// More than maxStateStreams: the most recently polled are kept.
	f := stateFile{Version: 1}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxStateStreams + 5 {
		f.Streams = append(f.Streams, stateStream{Host: fmt.Sprint("vc", i), Key: int64(i), Polled: base.Add(time.Duration(i) * time.Minute)})
	}
	b, _ := json.Marshal(f)
	got, err := parseEventState(b)
	if err != nil || len(got) != maxStateStreams || got[len(got)-1].Key != 5 {
		t.Fatalf("capped: %d streams, last %+v, %v", len(got), got[len(got)-1], err)
	}
}

// FuzzEventState: the reader never panics, and what it accepts is
// bounded, well-formed and written back identically.
func FuzzEventState(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"streams":[]}`,
		`{"version":1,"streams":[{"host":"vc1","name":"vm 1","endpoint":"tcp://127.0.0.1:10123","key":42,"polled":"2026-03-01T10:00:00.123456789+02:00"}]}`,
		`{"version":1,"streams":[{"host":"vc1","key":5,"polled":"2026-03-01T10:00:00Z"},{"host":"vc1","key":9,"polled":"2026-03-01T10:00:00Z"}]}`,
		`{"version":1,"streams":[{"host":"vc1","key":-9223372036854775808}]}`,
		`{"version":2}`, `null`, `[]`, `{"version":1,"streams":null}`, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := parseEventState(b)
		if err != nil {
			return
		}
		if len(ss) > maxStateStreams {
			t.Fatalf("%d streams", len(ss))
		}
		seen := map[string]bool{}
		for _, s := range ss {
			if s.Host == "" || seen[s.id()] {
				t.Fatalf("stream %+v", s)
			}
			seen[s.id()] = true
		}
		out, err := json.Marshal(stateFile{Version: stateVersion, Streams: ss})
		if err != nil {
			t.Fatalf("cannot write back what was read: %v", err)
		}
		again, err := parseEventState(out)
		if err != nil || len(again) != len(ss) {
			t.Fatalf("round trip: %v, %d -> %d streams", err, len(ss), len(again))
		}
		for i := range ss {
			a, b := ss[i], again[i]
			if a.id() != b.id() || a.Key != b.Key || !a.Polled.Equal(b.Polled) {
				t.Fatalf("round trip: %+v -> %+v", a, b)
			}
		}
	})
}
