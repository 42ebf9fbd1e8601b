package objects

import (
	"context"
	"errors"
	"sort"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// errGone marks an object that vCenter no longer knows (reported per
// object in a batched reply, or absent from the mirror); Get turns it
// into a LookupError.
var errGone = errors.New("managed object not found")

// retrieve collects paths of refs from vCenter with one
// RetrievePropertiesEx (govmomi's collector follows continuation pages).
// Objects vCenter does not return are absent from the result.
func retrieve(ctx context.Context, vc *vim25.Client, refs []types.ManagedObjectReference, paths []string) (map[types.ManagedObjectReference]Values, error) {
	out := make(map[types.ManagedObjectReference]Values, len(refs))
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
	res, err := property.DefaultCollector(vc).RetrieveProperties(ctx, types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{spec}})
	if err != nil {
		return nil, err
	}
	collect(out, res.Returnval)
	return out, nil
}

// retrieveView collects paths of every object of types in a container
// view with one RetrievePropertiesEx: discovery never sends one object
// spec per object.
func retrieveView(ctx context.Context, v *view.ContainerView, typeNames, paths []string) ([]types.ObjectContent, error) {
	var contents []types.ObjectContent
	if err := v.Retrieve(ctx, typeNames, paths, &contents); err != nil {
		return nil, err
	}
	return contents, nil
}

func collect(out map[types.ManagedObjectReference]Values, contents []types.ObjectContent) {
	for _, o := range contents {
		pv := out[o.Obj]
		if pv == nil {
			pv = Values{}
			out[o.Obj] = pv
		}
		for _, p := range o.PropSet {
			pv[p.Name] = p.Val
		}
	}
}

// IsObjectGone reports whether err says the object no longer exists.
func IsObjectGone(err error) bool {
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
