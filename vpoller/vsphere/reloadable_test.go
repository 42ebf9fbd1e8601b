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
	var r reloadable[*stampedInt]
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
	r.mu.Lock()
	r.failedAt = time.Now().Add(-reloadFailBackoff) // the backoff has passed
	r.mu.Unlock()
	ok := func(context.Context) (*stampedInt, error) { calls++; return &stampedInt{at: time.Now(), n: 7}, nil }
	for range 5 {
		v, err := r.get(context.Background(), time.Minute, time.Time{}, "the thing", ok)
		if err != nil || v.n != 7 {
			t.Fatalf("%v %v", v, err)
		}
	}
	if calls != 2 {
		t.Fatalf("%d loads in all, want 2 (one failed, one kept)", calls)
	}
}
