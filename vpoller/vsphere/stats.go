package vsphere

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vmware/govmomi/vim25/soap"
)

// Stats are the service's counters since NewService. Benchmarks and the
// worker's status report read them to show "vCenter calls per request".
type Stats struct {
	// Requests is the number of Execute calls.
	Requests uint64
	// Coalesced counts requests that shared an identical request's
	// vCenter work instead of doing their own.
	Coalesced uint64
	// SOAPCalls is every SOAP call made to any agent, including logins
	// and inventory index polls.
	SOAPCalls uint64
	// Calls breaks SOAPCalls down by SOAP method name
	// (e.g. "RetrievePropertiesEx", "WaitForUpdatesEx", "Login").
	Calls map[string]uint64
	// Logins counts successful logins (first ones and re-logins).
	Logins uint64
}

// counters is shared by every agent of a Service.
type counters struct {
	requests, coalesced, soap, logins atomic.Uint64
	mu                                sync.Mutex
	byMethod                          map[string]uint64
}

func newCounters() *counters { return &counters{byMethod: map[string]uint64{}} }

func (c *counters) call(method string) {
	c.soap.Add(1)
	c.mu.Lock()
	c.byMethod[method]++
	c.mu.Unlock()
}

func (c *counters) snapshot() Stats {
	s := Stats{Requests: c.requests.Load(), Coalesced: c.coalesced.Load(), SOAPCalls: c.soap.Load(),
		Logins: c.logins.Load(), Calls: map[string]uint64{}}
	c.mu.Lock()
	for k, v := range c.byMethod {
		s.Calls[k] = v
	}
	c.mu.Unlock()
	return s
}

// countingRT counts each SOAP call by method name on its way to vCenter.
type countingRT struct {
	next soap.RoundTripper
	c    *counters
}

func (r *countingRT) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	r.c.call(soapMethod(req))
	return r.next.RoundTrip(ctx, req, res)
}

// soapMethod names a request body type: *methods.LoginBody -> "Login".
func soapMethod(req soap.HasFault) string {
	t := reflect.TypeOf(req)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "unknown"
	}
	return strings.TrimSuffix(t.Name(), "Body")
}
