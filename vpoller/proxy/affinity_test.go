package proxy

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

func servingAll(workers, vcenters int) map[string][]string {
	vcs := make([]string, vcenters)
	for i := range vcs {
		vcs[i] = fmt.Sprintf("vc%02d.example.org", i)
	}
	out := map[string][]string{}
	for i := range workers {
		out[fmt.Sprintf("worker-%d", i)] = vcs
	}
	return out
}

// Ownership is spread with bounded load: each worker owns at most
// ceil(vCenters/workers), and with equal vCenters the spread is even.
func TestPlaceBoundedLoad(t *testing.T) {
	for _, tc := range []struct{ workers, vcenters int }{
		{1, 2}, {2, 2}, {4, 2}, {4, 8}, {3, 8}, {5, 50}, {20, 50}, {50, 50}, {4, 1},
	} {
		t.Run(fmt.Sprintf("%dw%dv", tc.workers, tc.vcenters), func(t *testing.T) {
			p := place(servingAll(tc.workers, tc.vcenters))
			bound := (tc.vcenters + tc.workers - 1) / tc.workers
			if len(p.owner) != tc.vcenters {
				t.Fatalf("%d vCenters have an owner, want %d", len(p.owner), tc.vcenters)
			}
			for id, vcs := range p.owned {
				if len(vcs) > bound {
					t.Errorf("%s owns %d vCenters, bound %d", id, len(vcs), bound)
				}
			}
			owners := len(p.owned)
			if want := min(tc.workers, tc.vcenters); owners != want {
				t.Errorf("%d workers own something, want %d", owners, want)
			}
			for vc, sb := range p.standby {
				if sb == p.owner[vc] {
					t.Errorf("%s: standby %s is the owner", vc, sb)
				}
			}
			if tc.workers > 1 && len(p.standby) != tc.vcenters {
				t.Errorf("%d standbys, want %d", len(p.standby), tc.vcenters)
			}
		})
	}
}

// The placement depends only on the workers and what they serve, not on
// the order a proxy learned them in: two proxies agree.
func TestPlaceDeterministic(t *testing.T) {
	a := servingAll(4, 8)
	b := map[string][]string{}
	for _, id := range slices.Sorted(maps.Keys(a)) {
		vcs := slices.Clone(a[id])
		slices.Reverse(vcs)
		b[id] = vcs
	}
	pa, pb := place(a), place(b)
	if !maps.Equal(pa.owner, pb.owner) || !maps.Equal(pa.standby, pb.standby) {
		t.Fatalf("placements differ:\n%v\n%v", pa.owner, pb.owner)
	}
}

// A worker leaving moves only what it owned (and what the bound then
// shifts), not the whole map; the standby of a lost owner takes over when
// the bound allows.
func TestPlaceTakeover(t *testing.T) {
	all := servingAll(4, 8)
	before := place(all)
	gone := before.owner["vc00.example.org"]
	rest := maps.Clone(all)
	delete(rest, gone)
	after := place(rest)
	for vc, owner := range after.owner {
		if owner == gone {
			t.Fatalf("%s still owned by the worker that left", vc)
		}
	}
	if after.owner["vc00.example.org"] != before.standby["vc00.example.org"] &&
		len(after.owned[before.standby["vc00.example.org"]]) < 3 {
		t.Errorf("vc00's standby %s did not take over (owner now %s) though it had room",
			before.standby["vc00.example.org"], after.owner["vc00.example.org"])
	}
	moved := 0
	for vc, owner := range before.owner {
		if owner != gone && after.owner[vc] != owner {
			moved++
		}
	}
	if moved > 2 {
		t.Errorf("%d vCenters of the remaining workers moved, want at most 2", moved)
	}
}

// A worker is only given vCenters it serves.
func TestPlaceServedSets(t *testing.T) {
	p := place(map[string][]string{
		"a": {"vc1", "vc2"},
		"b": {"vc2", "vc3"},
		"c": {"vc3"},
	})
	want := map[string][]string{"vc1": {"a"}, "vc2": {"a", "b"}, "vc3": {"b", "c"}}
	for vc, ids := range want {
		if !slices.Contains(ids, p.owner[vc]) {
			t.Errorf("%s owned by %s, which does not serve it", vc, p.owner[vc])
		}
		if sb := p.standby[vc]; sb != "" && !slices.Contains(ids, sb) {
			t.Errorf("%s standby %s does not serve it", vc, sb)
		}
	}
	if p.standby["vc1"] != "" {
		t.Errorf("vc1 has one server, standby %q", p.standby["vc1"])
	}
	if len(place(nil).owner) != 0 {
		t.Error("no workers, owners")
	}
}
