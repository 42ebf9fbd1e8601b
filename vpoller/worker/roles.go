package worker

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller/backend"
)

// Role is what a worker keeps of a vSphere agent, as our proxies assign
// it (docs/broker.md).
type Role string

// Roles.
const (
	// RoleAuto: no proxy of ours has assigned anything (behind a Python
	// proxy): the mirror and sweep start on first use, as always.
	RoleAuto Role = "auto"
	// RoleOwner: this worker answers the vCenter's requests; it keeps the
	// mirror and sweep.
	RoleOwner Role = "owner"
	// RoleStandby: the next in line keeps the mirror current (no sweep),
	// so that taking over is warm.
	RoleStandby Role = "standby"
	// RolePassive: neither; requests that still come (spill) are read
	// from vCenter without building a mirror.
	RolePassive Role = "passive"
)

// roleTable turns the assignments of our proxies into each agent's role:
// owner if any proxy names this worker the owner, standby if any names it
// the standby, else passive. Losing a role takes effect after a grace
// period (a worker restarting elsewhere comes back, a proxy's view settles),
// except for an agent that has served no request on this worker: workers
// joining one after another make the first ones owners or standbys of
// everything for a moment, and what they started then must not linger.
type roleTable struct {
	set   func(string, Role) error
	grace time.Duration
	now   func() time.Time
	log   *slog.Logger

	mu      sync.Mutex
	used    map[string]*atomic.Bool // agents that ran a request
	byProxy map[int]backend.Assignment
	applied map[string]Role
	since   map[string]time.Time // when the agent lost its last role
}

func newRoleTable(agents []string, set func(string, Role) error, grace time.Duration, now func() time.Time, log *slog.Logger) *roleTable {
	t := &roleTable{set: set, grace: grace, now: now, log: log, used: map[string]*atomic.Bool{},
		byProxy: map[int]backend.Assignment{}, applied: map[string]Role{}, since: map[string]time.Time{}}
	for _, a := range agents {
		t.used[a] = &atomic.Bool{}
		t.applied[a] = RoleAuto
	}
	return t
}

// touch records that agent ran a request.
func (t *roleTable) touch(agent string) {
	t.mu.Lock()
	u := t.used[agent]
	t.mu.Unlock()
	if u != nil && !u.Load() {
		u.Store(true)
	}
}

// setAgents makes the table hold exactly agents (a reload): a new agent
// starts as auto (the proxies' next assignment, sent when the worker
// reconnects with its new announcement, gives it its role), a removed one
// is forgotten. Nothing is applied: the vSphere service added or removed
// the agents itself.
func (t *roleTable) setAgents(agents []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	keep := map[string]bool{}
	for _, a := range agents {
		keep[a] = true
		if _, ok := t.applied[a]; !ok {
			t.used[a] = &atomic.Bool{}
			t.applied[a] = RoleAuto
		}
	}
	for a := range t.applied {
		if !keep[a] {
			delete(t.applied, a)
			delete(t.used, a)
			delete(t.since, a)
		}
	}
}

// assign records proxy i's assignment (the last one stands while that
// proxy is away) and applies what changed.
func (t *roleTable) assign(i int, a backend.Assignment) {
	t.mu.Lock()
	t.byProxy[i] = a
	changes := t.evaluate()
	t.mu.Unlock()
	t.apply(changes)
}

// tick applies the releases whose grace period has passed.
func (t *roleTable) tick() {
	t.mu.Lock()
	changes := t.evaluate()
	t.mu.Unlock()
	t.apply(changes)
}

type roleChange struct {
	agent string
	role  Role
}

// evaluate computes the roles now due (locked).
func (t *roleTable) evaluate() []roleChange {
	if len(t.byProxy) == 0 {
		return nil
	}
	now := t.now()
	var out []roleChange
	for agent, cur := range t.applied {
		want := RolePassive
		for _, a := range t.byProxy {
			switch {
			case slices.Contains(a.Owner, agent):
				want = RoleOwner
			case want != RoleOwner && slices.Contains(a.Standby, agent):
				want = RoleStandby
			}
		}
		switch {
		case want == cur:
			delete(t.since, agent)
			continue
		case want == RolePassive && t.used[agent].Load():
			// It has served requests: keep what it built for the grace
			// period (the role may come back: a restarting worker, a
			// proxy's view settling). One that served nothing, an owner
			// or standby for a moment while workers joined, lets go at
			// once.
			at, ok := t.since[agent]
			if !ok {
				t.since[agent] = now
				continue
			}
			if now.Sub(at) < t.grace {
				continue
			}
		}
		delete(t.since, agent)
		t.applied[agent] = want
		out = append(out, roleChange{agent, want})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].agent < out[j].agent })
	return out
}

func (t *roleTable) apply(changes []roleChange) {
	for _, c := range changes {
		t.log.Info("vCenter role changed", "agent", c.agent, "role", string(c.role))
		if t.set == nil {
			continue
		}
		if err := t.set(c.agent, c.role); err != nil {
			t.log.Warn("vCenter role not applied", "agent", c.agent, "role", string(c.role), "err", err)
		}
	}
}

// current returns every agent's role.
func (t *roleTable) current() map[string]Role {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]Role, len(t.applied))
	for a, r := range t.applied {
		out[a] = r
	}
	return out
}

// releaseLoop applies due releases until ctx ends.
func (w *Worker) releaseLoop(ctx context.Context) {
	tick := time.NewTicker(max(min(w.opts.ReleaseAfter/4, 30*time.Second), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			w.roles.tick()
		}
	}
}
