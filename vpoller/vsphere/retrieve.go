package vsphere

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// propValues are the raw (govmomi) values of one object's properties by path.
type propValues map[string]any

// retrieve collects the given property paths of refs with one
// RetrievePropertiesEx (plus continuation pages for large sets). Unset
// properties are absent from the maps. An object that no longer exists
// yields a *LookupError for key.
func (a *Agent) retrieve(ctx context.Context, refs []types.ManagedObjectReference, paths []string) (map[types.ManagedObjectReference]propValues, error) {
	out := make(map[types.ManagedObjectReference]propValues, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	typeSet := map[string]bool{}
	spec := types.PropertyFilterSpec{}
	for _, r := range refs {
		spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{Obj: r})
		typeSet[r.Type] = true
	}
	typeNames := make([]string, 0, len(typeSet))
	for t := range typeSet {
		typeNames = append(typeNames, t)
	}
	sort.Strings(typeNames)
	for _, t := range typeNames {
		spec.PropSet = append(spec.PropSet, types.PropertySpec{Type: t, PathSet: paths})
	}
	contents, err := a.retrieveContents(ctx, spec)
	if err != nil {
		return nil, err
	}
	for _, o := range contents {
		pv := out[o.Obj]
		if pv == nil {
			pv = propValues{}
			out[o.Obj] = pv
		}
		for _, p := range o.PropSet {
			pv[p.Name] = p.Val
		}
	}
	return out, nil
}

// retrieveContents runs one RetrievePropertiesEx and follows its
// continuation pages.
func (a *Agent) retrieveContents(ctx context.Context, spec types.PropertyFilterSpec) ([]types.ObjectContent, error) {
	vc, err := a.Client(ctx)
	if err != nil {
		return nil, err
	}
	res, err := methods.RetrievePropertiesEx(ctx, vc, &types.RetrievePropertiesEx{This: vc.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{spec}})
	if err != nil {
		return nil, err
	}
	if res.Returnval == nil {
		return nil, nil
	}
	out := res.Returnval.Objects
	for token := res.Returnval.Token; token != ""; {
		cres, err := methods.ContinueRetrievePropertiesEx(ctx, vc, &types.ContinueRetrievePropertiesEx{
			This: vc.ServiceContent.PropertyCollector, Token: token})
		if err != nil {
			return nil, err
		}
		out = append(out, cres.Returnval.Objects...)
		token = cres.Returnval.Token
	}
	return out, nil
}

// retrieveOne collects paths of one object found by key. Reads of
// inventory objects are batched with concurrent reads of the same type
// (propBatcher).
func (a *Agent) retrieveOne(ctx context.Context, ref types.ManagedObjectReference, key string, paths []string) (propValues, error) {
	var pv propValues
	var err error
	if _, entity := indexed[ref.Type]; entity {
		pv, err = a.props.get(ctx, ref, paths)
	} else { // a singleton manager: nothing to batch with
		var vals map[types.ManagedObjectReference]propValues
		vals, err = a.retrieve(ctx, []types.ManagedObjectReference{ref}, paths)
		pv = vals[ref]
	}
	if err != nil {
		if isObjectGone(err) {
			a.idx.repoll(ctx)
			return nil, &LookupError{Key: key}
		}
		return nil, err
	}
	if pv == nil {
		pv = propValues{}
	}
	return pv, nil
}

func isObjectGone(err error) bool {
	if errors.Is(err, errGone) {
		return true
	}
	if !soap.IsSoapFault(err) {
		return false
	}
	switch soap.ToSoapFault(err).VimFault().(type) {
	case types.ManagedObjectNotFound, *types.ManagedObjectNotFound:
		return true
	}
	return false
}

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
func object(paths []string, pv propValues) vpoller.Object {
	obj := make(vpoller.Object, 0, len(paths))
	for _, p := range paths {
		if v, ok := pv[p]; ok {
			obj = append(obj, vpoller.Field{Key: p, Value: toValue(v)})
		}
	}
	return obj
}

// ConnectError is a failure to reach or log in to a vSphere agent.
type ConnectError struct {
	Agent string
	Err   error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("Cannot connect to vSphere agent %s: %v", e.Agent, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// fail turns a handler error into the reply the original gives for it:
// lookup failures and connection failures get their own messages, property
// collection faults "Cannot collect properties: ...", anything else
// "Task <method> failed" with the error as traceback.
func fail(req *vpoller.Request, err error) *vpoller.Response {
	var le *LookupError
	var ce *ConnectError
	switch {
	case errors.As(err, &le):
		return vpoller.Fail(le.Error())
	case errors.As(err, &ce):
		return &vpoller.Response{Success: 1, Msg: ce.Error(), Cause: err}
	case soap.IsSoapFault(err):
		return &vpoller.Response{Success: 1, Msg: "Cannot collect properties: " + err.Error(), Cause: err}
	}
	return &vpoller.Response{Success: 1, Msg: fmt.Sprintf("Task %s failed", req.Method), Traceback: err.Error(), Cause: err}
}
