package objects

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/flight"
)

// DefaultTimeout is the time limit of one vCenter read shared by many
// requests (a snapshot load, the cold index) when none is set.
const DefaultTimeout = 8 * time.Second

// DefaultFailBackoff is how long a failed load of the small catalogues
// (tags, custom fields) answers for itself: a vCenter whose vAPI refuses
// our login, say, is not asked again by every request.
const DefaultFailBackoff = 10 * time.Second

// Snapshot holds the latest load of a value that is costly to read from
// vCenter and cheap to keep: the alarm states of every object, the tag
// catalogue and attachments, the custom field definitions, the event
// stream's drain. Requests answer from it while it is younger than a TTL,
// so the cost per agent is one load per TTL whatever the number of Zabbix
// items; a request that needs a load that began after some moment (it met
// an id the value it had did not know) asks for one with GetSince.
//
// Requests that find it due share one load (package flight): it runs on
// a context detached from theirs and bounded by Timeout, so a requester
// giving up returns at once with its own context's error while the load
// goes on for the others; a panic in the load is the load's error.
//
// A failed load keeps the value it would have replaced, but does not
// serve it: within FailBackoff every request gets the failure's error
// without a new attempt (a vCenter refusing a login is not asked again by
// every request), after it the next request loads again.
type Snapshot[T any] struct {
	load func(ctx context.Context, start time.Time) (T, error)
	o    SnapshotOptions

	mu       sync.Mutex
	cur      T
	taken    time.Time // when cur's load started
	has      bool
	failed   error // the last load's error, until a load succeeds
	failedAt time.Time
	flight   flight.Group[loaded[T]]
}

// SnapshotOptions tune a Snapshot.
type SnapshotOptions struct {
	// What names the value in errors and logs ("the tag catalogue").
	What string
	// TTL is how long a load serves; at most zero: until a request asks
	// for a newer one (GetSince).
	TTL time.Duration
	// Timeout bounds a shared load (DefaultTimeout when zero).
	Timeout time.Duration
	// FailBackoff is how long a failed load answers for itself (zero:
	// every request after a failure loads again).
	FailBackoff time.Duration
	// Logger logs a panicking load with its stack (nil: not logged).
	Logger *slog.Logger
	// Now is the clock the TTL, the backoff and the load stamps are
	// measured on: time.Now when nil; tests step one past a TTL instead
	// of waiting it out.
	Now func() time.Time
}

// loaded is one load's value and when it started.
type loaded[T any] struct {
	val   T
	taken time.Time
}

// NewSnapshot makes a snapshot loaded by load, which is given the
// context of the shared load and when it started (on the snapshot's
// clock: values that carry their age take it).
func NewSnapshot[T any](o SnapshotOptions, load func(ctx context.Context, start time.Time) (T, error)) *Snapshot[T] {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Snapshot[T]{load: load, o: o}
}

// Now is the time on the snapshot's clock, for a caller's notBefore.
func (s *Snapshot[T]) Now() time.Time { return s.o.Now() }

// Get returns the held value, loading it when there is none or it is
// older than the TTL.
func (s *Snapshot[T]) Get(ctx context.Context) (T, error) {
	return s.GetSince(ctx, time.Time{})
}

// GetSince is Get, also loading when the held value's load started
// before notBefore. A shared load that started before notBefore (or that
// took longer than the TTL) is not enough: GetSince loads once more, then
// gives up saying so.
func (s *Snapshot[T]) GetSince(ctx context.Context, notBefore time.Time) (T, error) {
	var zero T
	var last loaded[T]
	for range 2 {
		s.mu.Lock()
		cur, has, failed, failedAt := loaded[T]{s.cur, s.taken}, s.has, s.failed, s.failedAt
		s.mu.Unlock()
		if has && s.fresh(cur.taken, notBefore) {
			return cur.val, nil
		}
		if failed != nil && s.o.Now().Sub(failedAt) < s.o.FailBackoff {
			return zero, failed
		}
		r := s.flight.Do(ctx, "load", "loading "+s.o.What, s.o.Logger, flight.Detached(ctx, s.o.Timeout, s.run))
		if r.Err != nil {
			return zero, r.Err
		}
		if last = r.Val; s.fresh(last.taken, notBefore) {
			return last.val, nil
		}
	}
	if last.taken.Before(notBefore) {
		return zero, fmt.Errorf("%s keeps changing", s.o.What)
	}
	return zero, fmt.Errorf("%s: no read completed within %s", s.o.What, s.o.TTL)
}

// fresh tells whether a load that started at taken may answer.
func (s *Snapshot[T]) fresh(taken, notBefore time.Time) bool {
	return !taken.Before(notBefore) && (s.o.TTL <= 0 || s.o.Now().Sub(taken) < s.o.TTL)
}

// run is the shared load: it keeps a value newer than the held one, or
// the failure.
func (s *Snapshot[T]) run(ctx context.Context) (loaded[T], error) {
	start := s.o.Now()
	v, err := s.load(ctx, start)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failed, s.failedAt = err, s.o.Now()
		return loaded[T]{}, err
	}
	if !s.has || !start.Before(s.taken) {
		s.cur, s.taken, s.has = v, start, true
	}
	s.failed = nil
	return loaded[T]{v, start}, nil
}
