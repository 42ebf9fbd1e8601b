package vsphere

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func TestUnreachable(t *testing.T) {
	sf := &soap.Fault{Code: "ServerFaultCode", String: "not found"}
	sf.Detail.Fault = &types.ManagedObjectNotFound{}
	fault := soap.WrapSoapFault(sf)
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
	err := &ConnectError{Agent: "vc01", Err: errors.New("connection refused")}
	r := fail(nil, err)
	if r.Cause != err || !Unreachable(r.Cause) {
		t.Fatalf("fail(ConnectError).Cause = %v, want the ConnectError", r.Cause)
	}
	if string(r.Encode(0)) == "" || r.Msg != err.Error() {
		t.Fatalf("msg = %q", r.Msg)
	}
}
