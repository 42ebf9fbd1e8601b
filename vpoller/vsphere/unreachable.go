package vsphere

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/vmware/govmomi/vim25/soap"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Unreachable reports whether err means the vSphere agent did not answer:
// it could not be connected to or logged in to, a call timed out, or the
// connection broke. A fault that vCenter returned (an unknown object, a
// missing privilege) is an answer and is not unreachable. The worker's
// per-vCenter circuit breaker counts only these errors, so that a stalled
// vCenter is cut off while one with many missing objects is not. A
// request that gave up while waiting on the agent's own work (a read
// queued behind another call: *objects.WaitError) says nothing about
// vCenter and is not unreachable.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var we *objects.WaitError
	if errors.As(err, &we) {
		return false
	}
	var ce *ConnectError
	if errors.As(err, &ce) {
		return true
	}
	if soap.IsSoapFault(err) || soap.IsVimFault(err) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}
