package objects

import (
	"context"
	"errors"
	"fmt"
)

// Role is what a worker asks of an agent's objects room, so that one
// worker (the owner) keeps a vCenter's mirror and sweep while others
// answer the requests that reach them without building their own
// (docs/broker.md).
type Role int

// The roles.
const (
	// RoleAuto is the behaviour of a worker nobody assigns roles to (one
	// behind a Python proxy): the mirror starts on the first request and
	// the sweep keeps what is asked.
	RoleAuto Role = iota
	// RoleOwner starts the mirror at once, so that it is synced before
	// the first request arrives; the sweep keeps what is asked.
	RoleOwner
	// RoleStandby keeps the mirror warm (a takeover then answers from a
	// current mirror) but no sweep: its series are dropped and
	// performance requests are answered directly (batched).
	RoleStandby
	// RolePassive keeps no mirror: it is stopped (its collector and view
	// removed from vCenter) and reads never start it. Lookups use the
	// cold index, reads go to vCenter through the batchers, and the sweep
	// keeps only what is asked while it is asked.
	RolePassive
)

func (r Role) String() string {
	switch r {
	case RoleAuto:
		return "auto"
	case RoleOwner:
		return "owner"
	case RoleStandby:
		return "standby"
	case RolePassive:
		return "passive"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r >= RoleAuto && r <= RolePassive }

// SetRole applies r: it starts or stops the mirror and drops the sweep's
// series as r says. It is idempotent, safe for concurrent use (the last
// call wins) and never waits for vCenter: a mirror stopped here removes
// its collector in the background, one started here syncs in the
// background. An invalid role, or a call after Close, does nothing.
// Switching from passive to owner builds a new mirror (a cold sync); from
// standby to owner keeps the warm one.
func (s *Store) SetRole(r Role) {
	if !r.Valid() {
		s.log.Warn("objects: ignoring an invalid role", "role", r.String())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bg.isClosed() {
		return
	}
	prev := s.role
	s.role = r
	switch r {
	case RoleOwner, RoleStandby:
		s.mirror.start(s.bg.spawn, s.bg.ctx)
	case RolePassive:
		s.mirror.halt()
	}
	if r == RoleStandby && prev != RoleStandby {
		s.sweep.drop()
	}
}

// Role is the store's current role.
func (s *Store) Role() Role {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.role
}

// drop empties the sweep: every series leaves (remembering its last ask,
// so that it rejoins with its pace known); each lane's loop ends at its
// next tick.
func (sw *sweep) drop() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	for _, l := range sw.lanes {
		for k, s := range l.series {
			sw.left[k] = s.askedAt
		}
		clear(l.series)
	}
}

// ErrNoMirror is WaitSynced's answer in the passive role.
var ErrNoMirror = errors.New("no property mirror in the passive role")

// WaitSynced starts the mirror (as a read would) and waits until it holds
// an inventory, so that reads are served from it: for a worker that wants
// a warm mirror before it announces itself, and for tests. Reads never
// need it: they do not wait for the mirror.
func (s *Store) WaitSynced(ctx context.Context) error {
	if err := s.ready(); err != nil {
		return err
	}
	ch := s.mirror.syncedChan()
	if ch == nil {
		return ErrNoMirror
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return &WaitError{On: "the property mirror's first sync", Err: ctx.Err()}
	}
}
