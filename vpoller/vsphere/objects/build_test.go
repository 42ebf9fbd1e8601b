package objects

import (
	"context"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// TestBuildFailureCleansUp: a sync that fails half way (its first
// WaitForUpdatesEx refused) destroys what it created and is retried; the
// store closes cleanly meanwhile. Lookups meanwhile are answered from the
// cold index, without waiting for the mirror.
func TestBuildFailureCleansUp(t *testing.T) {
	t.Parallel()
	s := newSimStore(t, Options{Timeout: time.Second}, func(m *simulator.Model) {
		m.Service.AddFaultRule(&simulator.FaultInjectionRule{MethodName: "WaitForUpdatesEx", ObjectType: "*", ObjectName: "*",
			Probability: 1, Enabled: true, Fault: &types.SystemError{Reason: "injected"}})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.sess.Client(ctx); err != nil { // the simulator starts: slow under -race on a busy machine
		t.Fatal(err)
	}
	if ref, err := s.Lookup(ctx, VM, "DC0_H0_VM0"); err != nil || ref.Type != "VirtualMachine" {
		t.Fatalf("lookup while the mirror cannot sync: %v %v", ref, err)
	}
	for deadline := time.Now().Add(15 * time.Second); s.sess.Stats().Calls["CreatePropertyCollector"] < 3; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sync not retried: %v", s.sess.Stats().Calls)
		}
	}
	st := s.sess.Stats()
	if st.Calls["CreatePropertyCollector"] < 2 || st.Calls["DestroyPropertyCollector"] < st.Calls["CreatePropertyCollector"]-1 ||
		st.Calls["DestroyView"] < st.Calls["CreateContainerView"]-1 {
		t.Errorf("failed syncs left collectors or views behind: %v", st.Calls)
	}
	if m := s.Stats().Mirror; m.State != "syncing" || m.Syncs != 0 {
		t.Errorf("mirror %+v", m)
	}
}
