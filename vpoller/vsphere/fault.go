package vsphere

import (
	"reflect"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// notAuthenticated reports whether a call failed because the session is
// gone: either a NotAuthenticated fault, or (what vCenter and the
// simulator do for property retrieval) a result whose properties are all
// missing with NotAuthenticated.
func notAuthenticated(err error, res soap.HasFault) bool {
	if err != nil {
		if soap.IsSoapFault(err) {
			return isNotAuthFault(soap.ToSoapFault(err).VimFault())
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
			if isNotAuthFault(m.Fault.Fault) {
				return true
			}
		}
	}
	return false
}

func isNotAuthFault(f any) bool {
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
