package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// coalescer lets identical requests in flight share one vPoller call: a
// template with many items per VM, or many hosts polling the same vCenter
// object, produce the same request bytes at the same moment. The password
// is part of the key (it is in the request bytes), so different guest
// credentials never share an answer.
type coalescer struct {
	g singleflight.Group
}

// callFunc sends one request and returns the decoded reply.
type callFunc func(ctx context.Context, req *vpoller.Request) (*vpoller.Response, error)

// leadGuard bounds how long the caller that started a shared call waits
// for it past its own deadline (the call has that deadline too, so it ends
// at once: this only guards against one that overran). It stays well
// within Margin.
const leadGuard = Margin / 2

// do runs fn once for all concurrent callers with the same endpoint and
// request. The shared call runs with the first caller's deadline but is not
// cancelled when that caller goes away; each caller still returns at its
// own deadline. The first caller, whose deadline the call has, takes the
// call's own error when both end together: it says what each attempt met
// (which proxy refused, which stayed silent), a bare deadline does not.
func (c *coalescer) do(ctx context.Context, endpoint string, req *vpoller.Request, fn callFunc) (*vpoller.Response, error) {
	key := endpoint + "\x00" + string(req.Encode())
	deadline, hasDeadline := ctx.Deadline()
	lead := make(chan struct{}) // closed when this caller's fn runs: it started the call
	ch := c.g.DoChan(key, func() (v any, err error) {
		close(lead)
		defer func() {
			// DoChan re-panics in a goroutine of its own, which would kill
			// the plugin and with it the agent: recover here instead.
			if r := recover(); r != nil {
				err = fmt.Errorf("internal error while calling vPoller: %v", r)
			}
		}()
		callCtx := context.WithoutCancel(ctx)
		if hasDeadline {
			var cancel context.CancelFunc
			callCtx, cancel = context.WithDeadline(callCtx, deadline)
			defer cancel()
		} else {
			var cancel context.CancelFunc
			callCtx, cancel = context.WithTimeout(callCtx, time.Minute)
			defer cancel()
		}
		return fn(callCtx, req)
	})
	result := func(r singleflight.Result) (*vpoller.Response, error) {
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*vpoller.Response), nil
	}
	select {
	case r := <-ch:
		return result(r)
	case <-ctx.Done():
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		select {
		case <-lead:
			guard := time.NewTimer(leadGuard)
			defer guard.Stop()
			select {
			case r := <-ch:
				return result(r)
			case <-guard.C:
			}
		default:
		}
	}
	return nil, ctx.Err()
}
