package objects

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// TestQueuedReadGivesUpWithWaitError: a read that gives up while queued
// behind another call of its batch lane fails with a *WaitError (it
// waited on us, not on vCenter); one that gives up while its own call is
// in flight fails with the context's error. A tracked execution says it
// waits on us exactly while its read is queued.
func TestQueuedReadGivesUpWithWaitError(t *testing.T) {
	t.Parallel()
	inFlight := make(chan struct{}, 16)
	s := newSimStore(t, Options{Mirror: MirrorOptions{Off: true}}, func(m *simulator.Model) {
		// Each call takes 1.5 s, a read 0.5 s: on a loaded machine too, a
		// read's call is sent well before its time runs out, and is still in
		// flight when it does.
		m.DelayConfig.MethodDelay = map[string]int{"RetrievePropertiesEx": 1500}
		m.Map().Handler = func(_ *simulator.Context, method *simulator.Method) (mo.Reference, types.BaseMethodFault) {
			if method.Name == "RetrievePropertiesEx" {
				inFlight <- struct{}{}
			}
			return nil, nil
		}
	})
	ctx := context.Background()
	vms, err := s.List(ctx, VM) // connects; the cold index costs one RetrievePropertiesEx
	if err != nil || len(vms) != 4 {
		t.Fatalf("list: %v %v", vms, err)
	}
	<-inFlight
	paths := []string{"runtime.powerState"}

	// A read alone: its call is in flight when its context ends.
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = s.props.get(short, vms[0].Ref, paths)
	cancel()
	var we *WaitError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &we) {
		t.Errorf("read whose call was in flight: %v, want the context's deadline, not a WaitError", err)
	}
	<-inFlight // its call, still sent

	// A read queued behind another one's call.
	first := make(chan error, 1)
	go func() {
		_, err := s.props.get(ctx, vms[1].Ref, paths)
		first <- err
	}()
	<-inFlight // the first read's call is in flight: the lane is busy
	tctx, tr := WithTracker(ctx)
	short, cancel = context.WithTimeout(tctx, 500*time.Millisecond)
	defer cancel()
	queued := make(chan error, 1)
	go func() {
		_, err := s.props.get(short, vms[2].Ref, paths)
		queued <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); !tr.Waiting(); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("the queued read is not tracked as waiting on us")
		}
	}
	err = <-queued
	if !errors.As(err, &we) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read given up while queued: %v (%T), want a WaitError wrapping the deadline", err, err)
	}
	if tr.Waiting() {
		t.Error("still tracked as waiting after it gave up")
	}
	if err := <-first; err != nil {
		t.Errorf("the first read: %v", err)
	}
}
