package objects

import (
	"context"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// maxBatchObjects bounds the objects of one batched RetrievePropertiesEx:
// large enough to absorb a Zabbix poll wave, small enough that one reply
// stays well below vCenter's page size and one slow call delays little.
const maxBatchObjects = 100

// propBatcher batches single-object property reads of the same managed
// object type (groupCommit, one lane per type): reads arriving while a
// read of their type is in flight leave together as one
// RetrievePropertiesEx for every queued object with the union of their
// paths. Each read still gets only its own paths and its own errors.
type propBatcher struct {
	c  Client
	gc groupCommit[*propRead]
}

// propRead is one caller's single-object read.
type propRead struct {
	ref   types.ManagedObjectReference
	paths []string
	done  chan struct{} // closed when vals/err are set
	vals  Values
	err   error
}

func newPropBatcher(c Client, bg *background) *propBatcher {
	b := &propBatcher{c: c}
	b.gc = groupCommit[*propRead]{bg: bg, send: b.send, take: takeFirst[*propRead](maxBatchObjects),
		abandon: func(r *propRead, err error) { r.err = err; close(r.done) }}
	return b
}

// get reads paths of ref, batched with concurrent reads of its type.
func (b *propBatcher) get(ctx context.Context, ref types.ManagedObjectReference, paths []string) (Values, error) {
	r := &propRead{ref: ref, paths: paths, done: make(chan struct{})}
	if err := b.gc.do(ctx, ref.Type, r, r.done); err != nil {
		return nil, err
	}
	return r.vals, r.err
}

// send answers every read of batch (same type) with as few calls as
// their faults allow: a fault that names one property or one object fails
// only the reads it concerns and the others are sent again; any other
// fault of a multi-read call makes each read go alone, so that a read
// never fails because of another one.
func (b *propBatcher) send(ctx context.Context, typ string, batch []*propRead) {
	for len(batch) > 0 {
		var contents []types.ObjectContent
		vc, err := b.c.Client(ctx)
		if err == nil {
			var res *types.RetrievePropertiesResponse
			res, err = property.DefaultCollector(vc).RetrieveProperties(ctx,
				types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{b.spec(vc, typ, batch)}})
			if err == nil {
				contents = res.Returnval
			}
		}
		if err == nil {
			deliver(batch, contents)
			return
		}
		if len(batch) == 1 || !soap.IsSoapFault(err) {
			for _, r := range batch {
				r.err = err
				close(r.done)
			}
			return
		}
		rest := batch[:0:0]
		for _, r := range batch {
			if concerns(soap.ToSoapFault(err).VimFault(), r) {
				r.err = err
				close(r.done)
			} else {
				rest = append(rest, r)
			}
		}
		if len(rest) == len(batch) { // the fault names no read: try each alone
			for _, r := range batch {
				b.send(ctx, typ, []*propRead{r})
			}
			return
		}
		batch = rest
	}
}

// spec builds one filter for the reads: each object once, and the union
// of their paths plus "name" (every batched type has one; it guarantees
// that an existing object appears in the reply).
func (b *propBatcher) spec(vc *vim25.Client, typ string, batch []*propRead) types.PropertyFilterSpec {
	spec := types.PropertyFilterSpec{}
	if reportsMissingObjects(vc) {
		spec.ReportMissingObjectsInResults = types.NewBool(true)
	}
	seenObj := map[types.ManagedObjectReference]bool{}
	paths := []string{PathName}
	seenPath := map[string]bool{PathName: true}
	for _, r := range batch {
		if !seenObj[r.ref] {
			seenObj[r.ref] = true
			spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{Obj: r.ref})
		}
		for _, p := range r.paths {
			if !seenPath[p] {
				seenPath[p] = true
				paths = append(paths, p)
			}
		}
	}
	spec.PropSet = []types.PropertySpec{{Type: typ, PathSet: paths}}
	return spec
}

// deliver splits a batched reply: each read gets its own paths; an object
// missing from the reply, or reported missing, is gone.
func deliver(batch []*propRead, contents []types.ObjectContent) {
	byRef := make(map[types.ManagedObjectReference]*types.ObjectContent, len(contents))
	for i := range contents {
		byRef[contents[i].Obj] = &contents[i]
	}
	for _, r := range batch {
		oc := byRef[r.ref]
		if oc == nil || objectMissing(oc) {
			r.err = errGone
			close(r.done)
			continue
		}
		want := make(map[string]bool, len(r.paths))
		for _, p := range r.paths {
			want[p] = true
		}
		pv := Values{}
		for _, p := range oc.PropSet {
			if want[p.Name] {
				pv[p.Name] = p.Val
			}
		}
		r.vals = pv
		close(r.done)
	}
}

// objectMissing tells whether vCenter reported the object itself as not
// found (ReportMissingObjectsInResults), as opposed to one property.
func objectMissing(oc *types.ObjectContent) bool {
	for _, m := range oc.MissingSet {
		switch m.Fault.Fault.(type) {
		case *types.ManagedObjectNotFound:
			return true
		}
	}
	return false
}

// concerns tells whether a fault of a batched call is about read r: an
// unknown property r asked for, or r's object being gone.
func concerns(f any, r *propRead) bool {
	switch f := f.(type) {
	case types.InvalidProperty:
		return contains(r.paths, f.Name)
	case *types.InvalidProperty:
		return contains(r.paths, f.Name)
	case types.ManagedObjectNotFound:
		return f.Obj == r.ref
	case *types.ManagedObjectNotFound:
		return f.Obj == r.ref
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// reportsMissingObjects tells whether the agent's API (6.5 and later)
// knows PropertyFilterSpec.reportMissingObjectsInResults; older ones
// would refuse the field, and a deleted object then faults the whole call
// (send isolates it).
func reportsMissingObjects(vc *vim25.Client) bool {
	if vc == nil {
		return false
	}
	major, minor, _ := strings.Cut(vc.ServiceContent.About.ApiVersion, ".")
	ma, err := strconv.Atoi(major)
	if err != nil {
		return false
	}
	mi, _ := strconv.Atoi(strings.SplitN(minor, ".", 2)[0])
	return ma > 6 || ma == 6 && mi >= 5
}
