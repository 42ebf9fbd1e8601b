package vsphere

import (
	"context"
	"errors"
	"testing"
	"time"
)

type stampedInt struct {
	at time.Time
	n  int
}

func (s *stampedInt) loadedAt() time.Time { return s.at }

// A failed load answers for itself during the backoff: 20 requests cost
// one attempt (a refused vAPI login is not retried per request), and a
// load that succeeds later is kept and served without new loads.
func TestReloadableFailureBackoff(t *testing.T) {
	t.Parallel()
	var r reloadable[*stampedInt]
	at := time.Unix(1e9, 0)
	r.now = func() time.Time { return at }
	calls := 0
	refused := errors.New("vAPI login refused")
	failing := func(context.Context) (*stampedInt, error) { calls++; return nil, refused }
	for range 20 {
		if _, err := r.get(context.Background(), time.Minute, time.Time{}, "the thing", failing); !errors.Is(err, refused) {
			t.Fatalf("err %v, want the load's", err)
		}
	}
	if calls != 1 {
		t.Fatalf("%d loads during the backoff, want 1", calls)
	}
	at = at.Add(reloadFailBackoff - time.Nanosecond)
	if _, err := r.get(context.Background(), time.Minute, time.Time{}, "the thing", failing); !errors.Is(err, refused) || calls != 1 {
		t.Fatalf("just before the backoff's end: err %v after %d loads, want the first load's error", err, calls)
	}
	at = at.Add(time.Nanosecond) // the backoff has passed
	ok := func(context.Context) (*stampedInt, error) { calls++; return &stampedInt{at: at, n: 7}, nil }
	for range 5 {
		v, err := r.get(context.Background(), time.Minute, time.Time{}, "the thing", ok)
		if err != nil || v.n != 7 {
			t.Fatalf("%v %v", v, err)
		}
	}
	if calls != 2 {
		t.Fatalf("%d loads in all, want 2 (one failed, one kept)", calls)
	}
	// Past the TTL the next request loads again; within it, not.
	at = at.Add(time.Minute - time.Nanosecond)
	if v, err := r.get(context.Background(), time.Minute, time.Time{}, "the thing", ok); err != nil || v.n != 7 || calls != 2 {
		t.Fatalf("just within the TTL: %v %v after %d loads, want the kept value", v, err, calls)
	}
	at = at.Add(time.Nanosecond)
	if _, err := r.get(context.Background(), time.Minute, time.Time{}, "the thing", ok); err != nil || calls != 3 {
		t.Fatalf("at the TTL: %v after %d loads, want a new load", err, calls)
	}
}
