package objects

import (
	"sort"
	"time"
)

// Stats describe an agent's mirror and sweep for the worker's status.
type Stats struct {
	// Role is the store's role (SetRole).
	Role   Role
	Mirror MirrorStats
	Sweep  SweepStats
}

// MirrorStats describe the property mirror.
type MirrorStats struct {
	// State is "off" (reads always go to vCenter), "idle" (not started:
	// no request yet), "passive" (none kept in this role), "syncing"
	// (first sync under way), "current" (serving), "stale" (not confirmed
	// within the staleness bound: not serving) or "resyncing" (its poll
	// failed: not serving until synced again).
	State string
	// Objects is the number of mirrored managed objects.
	Objects int
	// WatchedPaths is the number of watched properties per type.
	WatchedPaths map[string]int
	// Lag is how long ago the mirror was last confirmed current.
	Lag time.Duration
	// Updates counts object updates applied since start; UpdatesPerSecond
	// is their rate over the last minute.
	Updates          uint64
	UpdatesPerSecond float64
	// Syncs counts full syncs (the first, then one per watched set change
	// or broken poll); FirstSync is how long the first took and
	// FirstSyncCalls how many WaitForUpdatesEx calls it needed.
	Syncs int
	// Retired counts generations replaced and removed from vCenter; while
	// it is below Syncs-1 the mirror is still tearing the previous one
	// down (one or two calls that no request caused).
	Retired        int
	FirstSync      time.Duration
	FirstSyncCalls int
	// Served and Direct count property reads answered from the mirror and
	// from vCenter.
	Served, Direct uint64
	// IndexReads counts the cold index's reads (lookups while the mirror
	// held no inventory).
	IndexReads uint64
}

// SweepStats describe the performance sweep.
type SweepStats struct {
	// Series is the number of series in the sweep, over all intervals.
	Series int
	// Rounds and Calls count sweep rounds and their QueryPerf calls since
	// start; LastRound, LastRoundCalls and LastRoundSeries describe the
	// latest round of any interval.
	Rounds, Calls   uint64
	LastRound       time.Duration
	LastRoundCalls  int
	LastRoundSeries int
	// Hits and Misses count performance requests answered from the sweep
	// and fetched directly.
	Hits, Misses uint64
}

// Stats returns the store's figures.
func (s *Store) Stats() Stats {
	now := s.now()
	st := Stats{Role: s.Role()}
	m := s.mirror
	m.mu.RLock()
	ms := MirrorStats{Updates: m.updates.total, UpdatesPerSecond: m.updates.perSecond(now), Syncs: m.syncs, Retired: m.retired,
		FirstSync: m.first, FirstSyncCalls: m.firstN, WatchedPaths: map[string]int{}}
	switch g := m.serving; {
	case !m.running && st.Role == RolePassive:
		ms.State = "passive"
	case !m.running:
		ms.State = "idle"
	case g == nil:
		ms.State = "syncing"
	case !g.alive:
		ms.State = "resyncing"
	case now.Sub(g.confirmed) > m.opts.MaxAge:
		ms.State = "stale"
	default:
		ms.State = "current"
	}
	if g := m.serving; g != nil {
		ms.Objects = len(g.inv.byRef)
		ms.Lag = now.Sub(g.confirmed)
		for t, n := range g.count {
			ms.WatchedPaths[t] = n
		}
	}
	m.mu.RUnlock()
	if m.opts.Off {
		ms.State = "off"
	}
	ms.Served, ms.Direct = s.served.Load(), s.direct.Load()
	s.index.mu.Lock()
	ms.IndexReads = s.index.reads
	s.index.mu.Unlock()
	st.Mirror = ms

	sw := s.sweep
	sw.mu.Lock()
	st.Sweep.Hits, st.Sweep.Misses = sw.hits, sw.misses
	ids := make([]int32, 0, len(sw.lanes))
	for id := range sw.lanes {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		l := sw.lanes[id]
		st.Sweep.Series += len(l.series)
		st.Sweep.Rounds += l.rounds
		st.Sweep.Calls += l.calls
		if l.rounds > 0 && (st.Sweep.LastRoundCalls == 0 || l.lastCalls > 0) {
			st.Sweep.LastRound, st.Sweep.LastRoundCalls, st.Sweep.LastRoundSeries = l.lastRound, l.lastCalls, l.lastFetched
		}
	}
	sw.mu.Unlock()
	return st
}

// rate counts events per second over the last minute.
type rate struct {
	total   uint64
	buckets [60]uint64
	at      [60]int64 // unix second each bucket counts
}

func (r *rate) add(now time.Time, n int) {
	if n <= 0 {
		return
	}
	sec := now.Unix()
	i := sec % 60
	if r.at[i] != sec {
		r.at[i], r.buckets[i] = sec, 0
	}
	r.buckets[i] += uint64(n)
	r.total += uint64(n)
}

func (r *rate) perSecond(now time.Time) float64 {
	sec := now.Unix()
	var sum uint64
	for i := range r.buckets {
		if sec-r.at[i] < 60 {
			sum += r.buckets[i]
		}
	}
	return float64(sum) / 60
}
