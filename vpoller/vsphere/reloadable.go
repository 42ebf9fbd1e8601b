package vsphere

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/flight"
)

// stamped is a value that knows when its load started.
type stamped interface{ loadedAt() time.Time }

// reloadable holds one load of a small per-agent catalogue (the tag
// catalogue, the custom field definitions): vCenter changes them rarely,
// so requests share one load until it is older than a TTL, or older than
// what a caller needs (notBefore: the caller met an id the value it had
// did not know). Concurrent reloads share one load. The zero value is
// ready.
type reloadable[T stamped] struct {
	mu       sync.Mutex
	cur      T
	has      bool
	failed   error // the last load's error, until a load succeeds
	failedAt time.Time
	load     flight.Group[T]
	// now is the clock the TTL and the failure backoff are measured on:
	// time.Now when nil; tests set one that steps past a TTL instead of
	// waiting it out.
	now func() time.Time
}

func (r *reloadable[T]) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// reloadFailBackoff is how long a failed load answers for itself: requests
// within it get its error without a new attempt, so that a vCenter whose
// vAPI refuses our login, say, is not asked again by every request.
const reloadFailBackoff = 10 * time.Second

// get returns the held value, reloading it with load when it is older
// than ttl or was loaded before notBefore. A shared load that started
// before notBefore is not enough: get loads once more, then gives up
// saying that what keeps changing.
func (r *reloadable[T]) get(ctx context.Context, ttl time.Duration, notBefore time.Time, what string,
	load func(context.Context) (T, error)) (T, error) {
	var zero T
	for range 2 {
		r.mu.Lock()
		cur, has, failed, failedAt := r.cur, r.has, r.failed, r.failedAt
		r.mu.Unlock()
		if has && !cur.loadedAt().Before(notBefore) && r.clock().Sub(cur.loadedAt()) < ttl {
			return cur, nil
		}
		if failed != nil && r.clock().Sub(failedAt) < reloadFailBackoff {
			return zero, failed
		}
		// A panicking load is the load's error (flight recovers it).
		res := r.load.Do(ctx, "load", "loading "+what, nil, func() (T, error) {
			v, err := load(ctx)
			r.mu.Lock()
			defer r.mu.Unlock()
			if err != nil {
				if ctx.Err() == nil { // a caller giving up is no failure of the source
					r.failed, r.failedAt = err, r.clock()
				}
				return zero, err
			}
			r.cur, r.has, r.failed = v, true, nil
			return v, nil
		})
		if res.Err != nil {
			return zero, res.Err
		}
		if v := res.Val; !v.loadedAt().Before(notBefore) {
			return v, nil
		}
	}
	return zero, fmt.Errorf("%s keeps changing", what)
}
