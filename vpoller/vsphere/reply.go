package vsphere

import (
	"context"
	"errors"
	"fmt"

	"github.com/vmware/govmomi/vim25/soap"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

// pathName is the property every object result starts with.
const pathName = objects.PathName

// withName returns "name" followed by extra paths (request order), each once.
func withName(extra ...[]string) []string {
	out := []string{pathName}
	seen := map[string]bool{pathName: true}
	for _, list := range extra {
		for _, p := range list {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// object builds a result object keyed by path in the order of paths,
// leaving out unset properties.
func object(paths []string, pv objects.Values) vpoller.Object {
	obj := make(vpoller.Object, 0, len(paths))
	for _, p := range paths {
		if v, ok := pv[p]; ok {
			obj = append(obj, vpoller.Field{Key: p, Value: toValue(v)})
		}
	}
	return obj
}

// fail turns a handler error into the reply the original gives for it:
// lookup failures and connection failures get their own messages, property
// collection faults "Cannot collect properties: ...", anything else
// "Task <method> failed" with the error as traceback. The reply's Cause
// is the error (the worker's circuit breaker reads it, see Unreachable).
func fail(req *vpoller.Request, err error) *vpoller.Response {
	var le *LookupError
	var ce *ConnectError
	var lg *session.LoginError
	switch {
	case errors.As(err, &le):
		return vpoller.Fail(le.Error())
	case errors.As(err, &ce):
		return &vpoller.Response{Success: 1, Msg: ce.Error(), Cause: err}
	case errors.As(err, &lg):
		// The account, not the network: the message says which, when
		// and when the next login may go (logins pause after refusals,
		// so that vCenter SSO does not lock the account).
		return &vpoller.Response{Success: 1, Msg: lg.Error(), Cause: err}
	case soap.IsSoapFault(err):
		return &vpoller.Response{Success: 1, Msg: "Cannot collect properties: " + err.Error(), Cause: err}
	case Unreachable(err) && errors.Is(err, context.DeadlineExceeded):
		// Not "Task ... failed" with the cause hidden in the traceback,
		// which Zabbix does not show: the vCenter and what happened.
		return &vpoller.Response{Success: 1, Msg: fmt.Sprintf("vSphere agent %s did not answer in time: %v", req.Hostname, err), Cause: err}
	case Unreachable(err):
		return &vpoller.Response{Success: 1, Msg: fmt.Sprintf("Cannot connect to vSphere agent %s: %v", req.Hostname, err), Cause: err}
	}
	return vpoller.TaskFailed(req.Method, err.Error(), err)
}

// failColon is fail for the methods whose original lookup message has a
// colon ("Cannot find object: <name>": perf metric get/info, snapshots).
func failColon(req *vpoller.Request, err error) *vpoller.Response {
	var le *LookupError
	if errors.As(err, &le) && len(le.Candidates) == 0 {
		return vpoller.Fail("Cannot find object: " + le.Key)
	}
	return fail(req, err)
}
