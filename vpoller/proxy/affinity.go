package proxy

import (
	"hash/fnv"
	"slices"
	"sort"
)

// weight is a worker's rendezvous weight for a vCenter: the highest weight
// among the workers serving a vCenter ranks first. Every proxy computes
// the same weights from the same names, so they agree on the owner
// without talking to each other.
func weight(workerID, vcenter string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(workerID))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(vcenter))
	// FNV's low bits mix poorly for similar inputs; finish with
	// splitmix64's mixer so that near names spread.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// placement is who serves each vCenter: the ranking of the workers that
// serve it, the owner (keeps the vCenter's mirror and sweep) and the
// standby (next in the ranking). It depends only on the workers' ids and
// served sets.
type placement struct {
	ranking map[string][]string // vCenter -> worker ids, highest weight first
	owner   map[string]string   // vCenter -> worker id
	standby map[string]string   // vCenter -> worker id ("" when none)
	owned   map[string][]string // worker id -> vCenters it owns, sorted
	backs   map[string][]string // worker id -> vCenters it stands by for, sorted
}

// place computes the placement for workers (id -> vCenters it serves).
// Owners are chosen in vCenter name order, each the highest-ranked worker
// that owns fewer than ceil(vCenters / workers) so far (rendezvous hashing
// with bounded load: a few vCenters cannot pile up on one worker), or the
// top-ranked one when all its candidates are at the bound. The standby is
// the next worker in the ranking after the owner, under the same bound.
func place(workers map[string][]string) placement {
	p := placement{ranking: map[string][]string{}, owner: map[string]string{}, standby: map[string]string{},
		owned: map[string][]string{}, backs: map[string][]string{}}
	serving := map[string][]string{}
	for id, vcs := range workers {
		for _, vc := range vcs {
			if !slices.Contains(serving[vc], id) {
				serving[vc] = append(serving[vc], id)
			}
		}
	}
	if len(serving) == 0 {
		return p
	}
	names := make([]string, 0, len(serving))
	for vc := range serving {
		names = append(names, vc)
	}
	sort.Strings(names)
	bound := (len(names) + len(workers) - 1) / len(workers)
	load, backLoad := map[string]int{}, map[string]int{}
	for _, vc := range names {
		ids := serving[vc]
		sort.Slice(ids, func(i, j int) bool {
			wi, wj := weight(ids[i], vc), weight(ids[j], vc)
			if wi != wj {
				return wi > wj
			}
			return ids[i] < ids[j]
		})
		p.ranking[vc] = ids
		owner := pickBounded(ids, load, bound, "")
		p.owner[vc] = owner
		load[owner]++
		p.owned[owner] = append(p.owned[owner], vc)
		if len(ids) > 1 {
			sb := pickBounded(ids, backLoad, bound, owner)
			p.standby[vc] = sb
			backLoad[sb]++
			p.backs[sb] = append(p.backs[sb], vc)
		}
	}
	return p
}

// pickBounded returns the first id in ranked order (other than skip) whose
// load is under bound, else the first one other than skip.
func pickBounded(ranked []string, load map[string]int, bound int, skip string) string {
	first := ""
	for _, id := range ranked {
		if id == skip {
			continue
		}
		if first == "" {
			first = id
		}
		if load[id] < bound {
			return id
		}
	}
	return first
}
