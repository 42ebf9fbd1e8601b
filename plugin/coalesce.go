package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/flight"
	"github.com/vpoller/zabbix-vpoller/internal/guard"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// coalescer lets identical requests in flight share one vPoller call: a
// template with many items per VM, or many hosts polling the same vCenter
// object, produce the same request bytes at the same moment. The password
// is part of the key (it is in the request bytes), so different guest
// credentials never share an answer.
type coalescer struct {
	g flight.Group[*vpoller.Response]
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
// A panic in fn is every caller's error (flight recovers it, logged on log):
// it would otherwise end the plugin and with it the agent.
func (c *coalescer) do(ctx context.Context, log *slog.Logger, endpoint string, req *vpoller.Request, fn callFunc) (*vpoller.Response, error) {
	key := endpoint + "\x00" + string(req.Encode())
	deadline, hasDeadline := ctx.Deadline()
	call := c.g.Start(key, "calling vPoller", log, func() (*vpoller.Response, error) {
		callCtx := context.WithoutCancel(ctx)
		var cancel context.CancelFunc
		if hasDeadline {
			callCtx, cancel = context.WithDeadline(callCtx, deadline)
		} else {
			callCtx, cancel = context.WithTimeout(callCtx, time.Minute)
		}
		defer cancel()
		return fn(callCtx, req)
	})
	r := call.Wait(ctx)
	if r.GaveUp && errors.Is(r.Err, context.DeadlineExceeded) && call.Ran() {
		gctx, cancel := context.WithTimeout(context.Background(), leadGuard)
		defer cancel()
		if lr := call.Wait(gctx); !lr.GaveUp {
			r = lr
		}
	}
	if r.Err != nil {
		var pe *guard.PanicError
		if errors.As(r.Err, &pe) {
			return nil, fmt.Errorf("internal error while calling vPoller: %v", pe.Value)
		}
		return nil, r.Err
	}
	return r.Val, nil
}
