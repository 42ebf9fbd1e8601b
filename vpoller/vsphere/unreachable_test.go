package vsphere

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

func TestUnreachable(t *testing.T) {
	t.Parallel()
	fault := soap.WrapVimFault(&types.ManagedObjectNotFound{})
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connect error", &ConnectError{Agent: "vc01", Err: errors.New("login failed")}, true},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), true},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"reset", fmt.Errorf("post: %w", syscall.ECONNRESET), true},
		{"soap fault", fault, false},
		// A request that gave up while waiting on our own work (queued
		// behind another call) says nothing about vCenter; one whose
		// SOAP call timed out or was refused does.
		{"queued behind another call", &objects.WaitError{On: "a call queued behind another", Err: context.DeadlineExceeded}, false},
		{"queued, wrapped", fmt.Errorf("vm.get: %w", &objects.WaitError{On: "x", Err: context.Canceled}), false},
		{"SOAP call timed out", fmt.Errorf("Post \"https://vc/sdk\": %w", context.DeadlineExceeded), true},
		{"SOAP call refused", fmt.Errorf("read properties: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"lookup", &LookupError{Key: "x"}, false},
		{"plain", errors.New("bad property path"), false},
	}
	for _, c := range cases {
		if got := Unreachable(c.err); got != c.want {
			t.Errorf("%s: Unreachable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// The worker's breaker reads Response.Cause: a failure reply carries the
// error behind it.
func TestFailCarriesCause(t *testing.T) {
	t.Parallel()
	err := &ConnectError{Agent: "vc01", Err: errors.New("connection refused")}
	r := fail(nil, err)
	if r.Cause != err || !Unreachable(r.Cause) {
		t.Fatalf("fail(ConnectError).Cause = %v, want the ConnectError", r.Cause)
	}
	if string(r.Encode(0)) == "" || r.Msg != err.Error() {
		t.Fatalf("msg = %q", r.Msg)
	}
}

// TestGaveUpCause: a request whose execution is queued behind another
// call of its batch lane when the request's time runs out fails with a
// WaitError cause (not unreachable); one whose own SOAP call is in
// flight fails with the deadline (unreachable).
func TestGaveUpCause(t *testing.T) {
	t.Parallel()
	inFlight := make(chan struct{}, 16)
	s := newSim(t, direct, func(m *simulator.Model) {
		// Each call takes 1.5 s, a request 0.5 s: on a loaded machine too, a
		// request's call is sent well before its time runs out, and is still
		// in flight when it does.
		m.DelayConfig.MethodDelay = map[string]int{"RetrievePropertiesEx": 1500}
		m.Map().Handler = func(_ *simulator.Context, method *simulator.Method) (mo.Reference, types.BaseMethodFault) {
			if method.Name == "RetrievePropertiesEx" {
				select {
				case inFlight <- struct{}{}:
				default:
				}
			}
			return nil, nil
		}
	})
	agent(t, s) // synced: lookups cost no call
	for len(inFlight) > 0 {
		<-inFlight
	}
	get := func(ctx context.Context, vm string) *vpoller.Response {
		return s.Execute(ctx, &vpoller.Request{Method: "vm.get", Hostname: "sim", Name: vm, Properties: []string{"runtime.powerState"}})
	}
	ctx := context.Background()

	alone, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	r := get(alone, "DC0_H0_VM0")
	cancel()
	if r.Success == 0 || !errors.Is(r.Cause, context.DeadlineExceeded) || !Unreachable(r.Cause) {
		t.Errorf("request whose call was in flight: %v (cause %v), want the deadline, unreachable", r.Msg, r.Cause)
	}
	<-inFlight

	first := make(chan *vpoller.Response, 1)
	go func() { first <- get(ctx, "DC0_H0_VM1") }()
	<-inFlight // its call is in flight: the VM lane is busy
	queued, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	r = get(queued, "DC0_C0_RP0_VM0")
	var we *objects.WaitError
	if r.Success == 0 || !errors.As(r.Cause, &we) || Unreachable(r.Cause) {
		t.Errorf("request queued behind another call: %v (cause %v), want a WaitError, not unreachable", r.Msg, r.Cause)
	}
	if r := <-first; r.Success != 0 {
		t.Errorf("the first request: %s", r.Encode(vpoller.Python))
	}
}
