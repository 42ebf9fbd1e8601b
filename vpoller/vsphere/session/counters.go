package session

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/vim25/soap"
)

// Stats are a session's counters since it was created. The worker's
// status and the benchmarks read them to show what vCenter pays.
type Stats struct {
	// SOAPCalls is every SOAP call made to the agent, including logins,
	// long polls and retried calls.
	SOAPCalls uint64
	// Calls breaks SOAPCalls down by SOAP method name
	// (e.g. "RetrievePropertiesEx", "WaitForUpdatesEx", "Login").
	Calls map[string]uint64
	// Logins counts successful logins (first ones and re-logins).
	Logins uint64
	// RESTCalls is every vAPI (REST) request made to the agent, logins
	// included; RESTCallsByName breaks it down by method, path and action
	// ("POST cis/tagging/tag-association?list-attached-tags-on-objects").
	RESTCalls       uint64
	RESTCallsByName map[string]uint64
	// RESTLogins counts successful vAPI logins (first ones and re-logins).
	RESTLogins uint64
	// FailedLogins counts the logins (SOAP and vAPI) vCenter refused:
	// a wrong password shows here long before SSO locks the account.
	FailedLogins uint64
	// NextLoginAt is when the login backoff allows the next login after
	// vCenter refused one; zero when logins are not paused.
	NextLoginAt time.Time
}

// counters counts SOAP calls by method and vAPI (REST) calls by name.
type counters struct {
	soap, logins          atomic.Uint64
	restCalls, restLogins atomic.Uint64
	mu                    sync.Mutex
	byMethod, restByName  map[string]uint64
}

func newCounters() *counters {
	return &counters{byMethod: map[string]uint64{}, restByName: map[string]uint64{}}
}

func (c *counters) restCall(name string) {
	c.restCalls.Add(1)
	c.mu.Lock()
	c.restByName[name]++
	c.mu.Unlock()
}

func (c *counters) call(method string) {
	c.soap.Add(1)
	c.mu.Lock()
	c.byMethod[method]++
	c.mu.Unlock()
}

func (c *counters) snapshot() Stats {
	s := Stats{SOAPCalls: c.soap.Load(), Logins: c.logins.Load(), Calls: map[string]uint64{},
		RESTCalls: c.restCalls.Load(), RESTLogins: c.restLogins.Load(), RESTCallsByName: map[string]uint64{}}
	c.mu.Lock()
	for k, v := range c.byMethod {
		s.Calls[k] = v
	}
	for k, v := range c.restByName {
		s.RESTCallsByName[k] = v
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
