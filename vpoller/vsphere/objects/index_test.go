package objects

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	govobj "github.com/vmware/govmomi/object"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
)

// TestColdIndex: a passive store's lookups share one index read, reuse
// it for indexMaxAge, look a name it lacks up in a new one only when it
// is older than indexMissGap, and find an object renamed since.
func TestColdIndex(t *testing.T) {
	t.Parallel()
	s := newSimStore(t, Options{}, nil)
	clk := testutil.NewClock(time.Unix(1e9, 0))
	s.index.now = clk.Now
	s.SetRole(RolePassive)
	ctx := context.Background()
	reads := func() uint64 { return s.Stats().Mirror.IndexReads }
	lookup := func(name string) error {
		_, err := s.Lookup(ctx, VM, name)
		return err
	}
	// Concurrent lookups share the first read.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := lookup("DC0_H0_VM0"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	ref, err := s.Lookup(ctx, VM, "DC0_H0_VM1")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := govmomi.NewClient(ctx, s.sess.Simulator().URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Logout(ctx) }()
	task, err := govobj.NewVirtualMachine(admin.Client, ref).Rename(ctx, "renamed")
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	var le *LookupError
	for i, step := range []struct {
		advance time.Duration
		name    string
		found   bool
		reads   uint64 // index reads so far
	}{
		{0, "DC0_H0_VM0", true, 1},                               // shared, then reused
		{time.Second, "renamed", false, 1},                       // a miss, the snapshot younger than the gap
		{time.Second + 500*time.Millisecond, "renamed", true, 2}, // older than the gap: a new read finds it
		{time.Second, "nope", false, 2},                          // a miss within the gap of that read
		{indexMissGap + time.Millisecond, "nope", false, 3},
		{time.Second, "DC0_H0_VM0", true, 3},
		{indexMaxAge, "DC0_H0_VM0", true, 4}, // too old to reuse
	} {
		clk.Add(step.advance)
		err := lookup(step.name)
		if step.found && err != nil || !step.found && !errors.As(err, &le) {
			t.Errorf("step %d: lookup %s: %v", i, step.name, err)
		}
		if got := reads(); got != step.reads {
			t.Errorf("step %d: %d index reads, want %d", i, got, step.reads)
		}
	}
	c := s.sess.Stats().Calls
	if c["CreateContainerView"] != 4 || c["DestroyView"] != 4 || c["WaitForUpdatesEx"] != 0 {
		t.Errorf("calls %v", c)
	}
}
