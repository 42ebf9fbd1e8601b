package proxy

import (
	"bytes"
	"testing"
)

// Frames pass through the proxy unaltered, both ways: raw UTF-8, a NUL, and
// the exact three-frame shape the Python worker accepts.
func TestFramesPassUnaltered(t *testing.T) {
	p := startProxy(t)
	w := startWorker(t, p, "w1", recording(4))
	req := reqSocket(t, p.Addrs().Frontend)

	payload := []byte("{\"method\": \"vm.get\", \"name\": \"Ünïcødé VM ✓\"}\x00tail\xff")
	got := roundTrip(t, req, payload)
	if len(got) != 1 {
		t.Fatalf("REQ client got %d frames, want 1: %q", len(got), got)
	}
	if want := append([]byte("w1:"), payload...); !bytes.Equal(got[0], want) {
		t.Errorf("reply bytes:\n got %q\nwant %q", got[0], want)
	}

	frames := <-w.frames
	if len(frames) != 3 {
		t.Fatalf("worker got %d frames, want [id][\"\"][payload]: %q", len(frames), frames)
	}
	if len(frames[0]) != 12 || len(frames[1]) != 0 || !bytes.Equal(frames[2], payload) {
		t.Errorf("worker frames = %q, want [12-byte id][\"\"][%q]", frames, payload)
	}

	// A second request gets a fresh id.
	got = roundTrip(t, req, []byte("second"))
	if string(got[0]) != "w1:second" {
		t.Errorf("second reply = %q", got[0])
	}
	if again := <-w.frames; bytes.Equal(again[0], frames[0]) {
		t.Errorf("request id reused: %q", again[0])
	}
	if s := p.Stats(); s.Served != 2 || s.Outstanding != 0 || s.Workers != 1 {
		t.Errorf("stats = %+v, want 2 served, 0 outstanding, 1 worker", s)
	}
}
