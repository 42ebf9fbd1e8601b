package lograte

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := New(50 * time.Millisecond)
	if !l.Allow() {
		t.Fatal("first event held back")
	}
	for range 5 {
		if l.Allow() {
			t.Fatal("event within the period allowed")
		}
	}
	time.Sleep(60 * time.Millisecond)
	if !l.Allow() || l.Suppressed() != 5 {
		t.Fatalf("after the period: suppressed %d, want 5", l.Suppressed())
	}
}
