package session

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// sessionRT gives every call a deadline and survives session expiry: a
// call refused as not authenticated triggers one re-login (shared by
// concurrent callers) and one retry. A WaitForUpdatesEx long poll gets
// its own deadline, its MaxWaitSeconds plus the agent's timeout, so that
// the per-call timeout never cuts a healthy long poll short.
type sessionRT struct {
	s    *Session
	next soap.RoundTripper
}

func (r *sessionRT) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	ctx, cancel := context.WithTimeout(ctx, r.s.cfg.Timeout+longPollWait(req))
	defer cancel()
	gen := r.s.Generation()
	err := r.next.RoundTrip(ctx, req, res)
	switch req.(type) {
	case *methods.LoginBody, *methods.LogoutBody:
		return err
	}
	if !notAuthenticated(err, res) {
		return err
	}
	if lerr := r.s.relogin(ctx, gen); lerr != nil {
		return fmt.Errorf("session expired and logging in again failed: %w", lerr)
	}
	fresh := newBody(res)
	err = r.next.RoundTrip(ctx, req, fresh)
	setBody(res, fresh)
	return err
}

// longPollWait is how long vCenter may hold req before answering: the
// MaxWaitSeconds of a WaitForUpdatesEx, 0 for every other call.
func longPollWait(req soap.HasFault) time.Duration {
	if b, ok := req.(*methods.WaitForUpdatesExBody); ok && b.Req != nil && b.Req.Options != nil && b.Req.Options.MaxWaitSeconds != nil {
		if w := *b.Req.Options.MaxWaitSeconds; w > 0 {
			return time.Duration(w) * time.Second
		}
	}
	return 0
}

// notAuthenticated reports whether a call failed because the session is
// gone: either a NotAuthenticated fault, or (what vCenter and the
// simulator do for property retrieval) a result whose properties are all
// missing with NotAuthenticated.
func notAuthenticated(err error, res soap.HasFault) bool {
	if err != nil {
		if soap.IsSoapFault(err) {
			return IsNotAuthenticated(soap.ToSoapFault(err).VimFault())
		}
		return false
	}
	var objs []types.ObjectContent
	switch b := res.(type) {
	case *methods.RetrievePropertiesExBody:
		if b.Res != nil && b.Res.Returnval != nil {
			objs = b.Res.Returnval.Objects
		}
	case *methods.ContinueRetrievePropertiesExBody:
		if b.Res != nil {
			objs = b.Res.Returnval.Objects
		}
	}
	for _, o := range objs {
		for _, m := range o.MissingSet {
			if IsNotAuthenticated(m.Fault.Fault) {
				return true
			}
		}
	}
	return false
}

// IsNotAuthenticated reports whether a vSphere fault says the session is
// gone (the objects room also meets it in property update missing sets).
func IsNotAuthenticated(f any) bool {
	switch f.(type) {
	case types.NotAuthenticated, *types.NotAuthenticated:
		return true
	}
	return false
}

// newBody returns a zero value of the same body type as res, so that a
// retried call does not decode into a body still holding the first fault.
func newBody(res soap.HasFault) soap.HasFault {
	return reflect.New(reflect.TypeOf(res).Elem()).Interface().(soap.HasFault)
}

func setBody(dst, src soap.HasFault) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}
