//go:build faults

package faults

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
)

// Outcomes of one request.
const (
	answered = iota // a reply with success 0
	errored         // a reply that says the request failed
	lost            // no reply within the client's time limit
)

// outcome is one request of a load run.
type outcome struct {
	tag        string
	start, end time.Time
	kind       int
	msg        string // the reply's msg, or the client's error
}

func (o outcome) latency() time.Duration { return o.end.Sub(o.start) }

// loadSpec describes a closed-loop load: conc callers each send a request,
// wait for its outcome, pause, and repeat until the run is stopped.
type loadSpec struct {
	endpoint string
	conc     int
	timeout  time.Duration // one attempt
	retries  int           // attempts; 1 shows what the proxy lost
	pause    time.Duration // between a caller's requests
	// next returns the i-th caller's next request and its tag.
	next func(caller int) (string, *vpoller.Request)
	// total, when > 0, ends the load after that many requests in all.
	total int
	// cancel makes stop cancel the requests in flight (counted lost)
	// instead of letting them run to their time limit.
	cancel bool
	// mech secures the client's connections (nil: NULL).
	mech zmtp.Mechanism
}

// load is a running load; stop ends it and returns what happened.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	cl     *client.Client

	mu   sync.Mutex
	outs []outcome
}

// startLoad starts the callers. Each caller stops after its current
// request once stop is called; a request in flight is not cut short
// (its outcome is what the client decides within timeout x retries).
func startLoad(spec loadSpec) (*load, error) {
	if spec.retries <= 0 {
		spec.retries = 1
	}
	cl, err := client.New(spec.endpoint, client.Options{Timeout: spec.timeout, Retries: spec.retries,
		PoolSize: spec.conc, MaxIdle: spec.conc, Mechanism: spec.mech})
	if err != nil {
		return nil, fmt.Errorf("load client: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, cl: cl}
	var issued atomic.Int64
	for i := range spec.conc {
		l.wg.Go(func() {
			for ctx.Err() == nil {
				if spec.total > 0 && issued.Add(1) > int64(spec.total) {
					return
				}
				tag, req := spec.next(i)
				callCtx := context.Background()
				if spec.cancel {
					callCtx = ctx
				}
				l.add(callWithin(callCtx, cl, tag, req))
				if spec.pause > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(spec.pause):
					}
				}
			}
		})
	}
	return l, nil
}

// call sends one request; its own context lets it finish after stop.
func call(cl *client.Client, tag string, req *vpoller.Request) outcome {
	return callWithin(context.Background(), cl, tag, req)
}

// callWithin sends one request within ctx.
func callWithin(ctx context.Context, cl *client.Client, tag string, req *vpoller.Request) outcome {
	o := outcome{tag: tag, start: time.Now()}
	reply, err := cl.Do(ctx, req.Encode())
	o.end = time.Now()
	if err != nil {
		o.kind, o.msg = lost, err.Error()
		return o
	}
	resp, err := vpoller.DecodeResponse(reply)
	switch {
	case err != nil:
		o.kind, o.msg = errored, fmt.Sprintf("not a reply: %q", reply)
	case resp.Failed():
		o.kind, o.msg = errored, resp.Msg
	default:
		o.kind, o.msg = answered, resp.Msg
	}
	return o
}

func (l *load) add(o outcome) {
	l.mu.Lock()
	l.outs = append(l.outs, o)
	l.mu.Unlock()
}

// stop ends the load, waits for the callers and closes the client.
func (l *load) stop() []outcome {
	l.cancel()
	l.wg.Wait()
	_ = l.cl.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.outs)
}

// snapshot returns the outcomes so far.
func (l *load) snapshot() []outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.outs)
}

// tally counts outcomes.
func tally(outs []outcome) counts {
	c := counts{Sent: len(outs)}
	for _, o := range outs {
		switch o.kind {
		case answered:
			c.Answered++
		case errored:
			c.Errored++
		case lost:
			c.Lost++
		}
	}
	return c
}

// where keeps the outcomes for which keep is true.
func where(outs []outcome, keep func(outcome) bool) []outcome {
	var r []outcome
	for _, o := range outs {
		if keep(o) {
			r = append(r, o)
		}
	}
	return r
}

func tagged(tag string) func(outcome) bool { return func(o outcome) bool { return o.tag == tag } }

// startedIn keeps requests sent in [from, to).
func startedIn(from, to time.Time) func(outcome) bool {
	return func(o outcome) bool { return !o.start.Before(from) && o.start.Before(to) }
}

func and(fs ...func(outcome) bool) func(outcome) bool {
	return func(o outcome) bool {
		for _, f := range fs {
			if !f(o) {
				return false
			}
		}
		return true
	}
}

// percentile returns the q-quantile (0..1) of the latencies; 0 if none.
func percentile(outs []outcome, q float64) time.Duration {
	if len(outs) == 0 {
		return 0
	}
	lat := make([]time.Duration, len(outs))
	for i, o := range outs {
		lat[i] = o.latency()
	}
	slices.Sort(lat)
	i := int(q*float64(len(lat))+0.999999) - 1
	return lat[min(max(i, 0), len(lat)-1)]
}

// messages summarises the distinct failure messages (at most n kinds),
// after "; ", or "" when every request was answered.
func messages(outs []outcome, n int) string {
	seen := map[string]int{}
	var order []string
	for _, o := range outs {
		if o.kind == answered {
			continue
		}
		m := o.msg
		if len(m) > 120 {
			m = m[:120] + "..."
		}
		if seen[m] == 0 {
			order = append(order, m)
		}
		seen[m]++
	}
	var parts []string
	for i, m := range order {
		if i == n {
			parts = append(parts, fmt.Sprintf("... %d more kinds", len(order)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%dx %q", seen[m], m))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, "; ")
}

// pollVM is the request of the steady loads: one property of one VM of
// the simulator's VPX model, as a Zabbix item asks it.
func pollVM(vcenter string) *vpoller.Request {
	return &vpoller.Request{Method: "vm.get", Hostname: vcenter, Name: "DC0_H0_VM0", Properties: []string{"runtime.powerState"}}
}
