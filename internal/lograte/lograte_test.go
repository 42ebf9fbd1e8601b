package lograte

import (
	"testing"
	"time"
)

// TestLimiter steps a fake clock through the period: events inside it are
// held back and counted, the first one at its end is let through with the
// count, whatever the machine's speed.
func TestLimiter(t *testing.T) {
	const period = 50 * time.Millisecond
	at := time.Unix(1e9, 0)
	l := New(period)
	l.now = func() time.Time { return at }
	if !l.Allow() {
		t.Fatal("first event held back")
	}
	for range 5 {
		at = at.Add(period / 10)
		if l.Allow() {
			t.Fatal("event within the period allowed")
		}
	}
	at = at.Add(period - 6*period/10) // one tick short of the period since the allowed event
	if l.Allow() {
		t.Fatal("event just before the period's end allowed")
	}
	at = at.Add(period / 10) // the period has passed
	if !l.Allow() {
		t.Fatal("event after the period held back")
	}
	if got := l.Suppressed(); got != 6 {
		t.Fatalf("after the period: suppressed %d, want 6", got)
	}
	if l.Allow() {
		t.Fatal("event right after an allowed one allowed")
	}
	at = at.Add(period)
	if !l.Allow() || l.Suppressed() != 1 {
		t.Fatalf("next period: suppressed %d, want 1", l.Suppressed())
	}
}
