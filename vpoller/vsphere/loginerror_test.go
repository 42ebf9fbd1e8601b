package vsphere

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

// A refused login is an account problem, said as such in the reply, and
// not "vCenter unreachable": the circuit breaker must not count it.
func TestLoginErrorReply(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.Local)
	le := &session.LoginError{Agent: "vc01", Username: "monitoring@vsphere.local", Fault: "InvalidLogin", At: at,
		Next: at.Add(150 * time.Second), Failures: 1, Err: soap.WrapVimFault(&types.InvalidLogin{})}
	for _, err := range []error{le, fmt.Errorf("read: %w", le)} {
		r := fail(&vpoller.Request{Method: "vm.get"}, err)
		want := "login to vc01 as monitoring@vsphere.local refused by vCenter (InvalidLogin) at 10:00:00; next attempt after 10:02:30"
		if !r.Failed() || r.Msg != want {
			t.Errorf("reply %q, want %q", r.Msg, want)
		}
		if Unreachable(err) {
			t.Errorf("Unreachable(%v) = true: the breaker would count an account problem", err)
		}
		var got *session.LoginError
		if !errors.As(r.Cause, &got) || strings.Contains(r.Msg, "secret") {
			t.Errorf("cause %v", r.Cause)
		}
	}
}
