package worker

import (
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller/backend"
)

// The roles follow the union of the proxies' assignments; a lost role
// is released only after the grace period, unless the agent never served
// a request; a proxy that is away keeps its last assignment.
func TestRoleTable(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	var applied []string
	tbl := newRoleTable([]string{"a", "b", "c"}, func(agent string, r Role) error {
		mu.Lock()
		defer mu.Unlock()
		applied = append(applied, agent+"="+string(r))
		return nil
	}, time.Minute, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := applied
		applied = nil
		return out
	}
	roles := func() map[string]Role { return tbl.current() }

	if r := roles(); r["a"] != RoleAuto || r["b"] != RoleAuto {
		t.Fatalf("before any assignment: %v", r)
	}
	tbl.touch("c") // c served requests before the first assignment
	tbl.assign(0, backend.Assignment{Owner: []string{"a"}, Standby: []string{"b"}})
	// a owner, b standby at once; c used, so its release waits.
	if got := take(); !slices.Equal(got, []string{"a=owner", "b=standby"}) {
		t.Fatalf("first assignment applied %v", got)
	}
	tbl.touch("a") // a serves requests as the owner
	// A second proxy says b is the owner: owner wins over standby.
	tbl.assign(1, backend.Assignment{Owner: []string{"b"}})
	if got := take(); !slices.Equal(got, []string{"b=owner"}) {
		t.Fatalf("second proxy applied %v", got)
	}
	now = now.Add(59 * time.Second)
	tbl.tick()
	if got := take(); len(got) != 0 {
		t.Fatalf("before the grace period: %v", got)
	}
	now = now.Add(2 * time.Second)
	tbl.tick()
	if got := take(); !slices.Equal(got, []string{"c=passive"}) {
		t.Fatalf("after the grace period: %v", got)
	}
	// Both proxies drop a: released after the grace period only.
	tbl.assign(0, backend.Assignment{Standby: []string{"b"}})
	tbl.assign(1, backend.Assignment{Owner: []string{"b"}})
	if got := take(); len(got) != 0 {
		t.Fatalf("a released at once: %v", got)
	}
	// Given back within the grace period: nothing changes.
	now = now.Add(30 * time.Second)
	tbl.assign(0, backend.Assignment{Owner: []string{"a"}})
	now = now.Add(31 * time.Second)
	tbl.tick()
	if got := take(); len(got) != 0 {
		t.Fatalf("a returned within the grace period: %v", got)
	}
	if r := roles(); r["a"] != RoleOwner || r["b"] != RoleOwner || r["c"] != RolePassive {
		t.Fatalf("roles %v", r)
	}
	// b, owner for a while but never asked anything, lets go at once.
	tbl.assign(0, backend.Assignment{Owner: []string{"a"}})
	tbl.assign(1, backend.Assignment{})
	if got := take(); !slices.Equal(got, []string{"b=passive"}) {
		t.Fatalf("an owner that served nothing: %v", got)
	}
	// A vCenter we do not serve is ignored.
	tbl.assign(0, backend.Assignment{Owner: []string{"a", "zz"}})
	if _, ok := roles()["zz"]; ok {
		t.Fatal("an unknown agent got a role")
	}
}
