package objects

import (
	"fmt"
	"strings"

	"github.com/vmware/govmomi/vim25/types"
)

// LookupError is a failed object lookup. Its text is the original
// vPoller's "Cannot find object <name>". When several objects share the
// name we refuse to guess (vSphere only makes names unique per folder, and
// polling the wrong VM silently is worse than an error) and name the
// candidates' managed object ids, which the caller can use instead.
type LookupError struct {
	Key        string
	Candidates []string // managed object ids when the name is ambiguous
}

func (e *LookupError) Error() string {
	if len(e.Candidates) > 1 {
		return fmt.Sprintf("Cannot find object %s: %d objects have this name (%s); use the managed object id",
			e.Key, len(e.Candidates), strings.Join(e.Candidates, ", "))
	}
	return "Cannot find object " + e.Key
}

// Values are the raw (govmomi) values of one object's properties by path;
// unset properties are absent. Values handed out are shared and must not
// be modified.
type Values map[string]any

// object is one mirrored managed object.
type object struct {
	ref  types.ManagedObjectReference
	seq  uint64 // arrival order: discovery lists objects in it
	vals Values
	gone bool
	keys []string // lookup keys it is filed under (see keysOf)
	// changed is the stamp of the latest update applied to it (mirror
	// generations; 0 in index snapshots).
	changed uint64
}

// inventory is the set of objects one mirror generation maintains, with
// lookup tables kept current as updates arrive (no scan per request).
type inventory struct {
	view  types.ManagedObjectReference // the container view whose members it holds
	byRef map[types.ManagedObjectReference]*object
	seq   uint64
	order []*object // arrival order, with gone objects until compacted
	nGone int
	// Lookup tables: "n:"+name, "i:"+moref id, "u:"+info.url,
	// "x:"+lower-case uuid.
	table map[string][]*object
}

func newInventory() *inventory {
	return &inventory{byRef: map[types.ManagedObjectReference]*object{}, table: map[string][]*object{}}
}

// enter returns ref's object, creating it at the end of the order.
func (inv *inventory) enter(ref types.ManagedObjectReference) *object {
	if o := inv.byRef[ref]; o != nil {
		return o
	}
	inv.seq++
	o := &object{ref: ref, seq: inv.seq, vals: Values{}}
	inv.byRef[ref] = o
	inv.order = append(inv.order, o)
	inv.file(o)
	return o
}

// leave forgets ref.
func (inv *inventory) leave(ref types.ManagedObjectReference) {
	o := inv.byRef[ref]
	if o == nil {
		return
	}
	delete(inv.byRef, ref)
	inv.unfile(o)
	o.gone = true
	inv.nGone++
	if inv.nGone > 64 && inv.nGone > len(inv.order)/2 {
		live := inv.order[:0]
		for _, x := range inv.order {
			if !x.gone {
				live = append(live, x)
			}
		}
		clear(inv.order[len(live):])
		inv.order, inv.nGone = live, 0
	}
}

// set changes one property of o and refiles o if it is a lookup key.
func (inv *inventory) set(o *object, path string, v any, unset bool) {
	if unset {
		delete(o.vals, path)
	} else {
		o.vals[path] = v
	}
	if isKeyPath(path) {
		inv.unfile(o)
		inv.file(o)
	}
}

func isKeyPath(p string) bool {
	switch p {
	case PathName, PathURL, pathVMInstUUID, pathVMBiosUUID, pathHostUUID:
		return true
	}
	return false
}

// keysOf lists the lookup keys of o.
func keysOf(o *object) []string {
	keys := []string{"i:" + o.ref.Value}
	if n, ok := o.vals[PathName].(string); ok {
		keys = append(keys, "n:"+n)
	}
	if u, ok := o.vals[PathURL].(string); ok {
		keys = append(keys, "u:"+u)
	}
	for _, p := range uuidPaths {
		if u, ok := o.vals[p].(string); ok && u != "" {
			keys = append(keys, "x:"+strings.ToLower(u))
		}
	}
	return keys
}

func (inv *inventory) file(o *object) {
	o.keys = keysOf(o)
	for _, k := range o.keys {
		inv.table[k] = append(inv.table[k], o)
	}
}

func (inv *inventory) unfile(o *object) {
	for _, k := range o.keys {
		list := inv.table[k]
		for i, x := range list {
			if x == o {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(inv.table, k)
		} else {
			inv.table[k] = list
		}
	}
	o.keys = nil
}

// find resolves key for kind k: by info.url (datastores), then name, then
// managed object id, then UUID (VMs, hosts).
func (inv *inventory) find(k *Kind, key string) (*object, error) {
	prefixes := []string{"n:", "i:"}
	if k.ByURL {
		prefixes = []string{"u:", "n:", "i:"}
	}
	if k.UUID {
		prefixes = append(prefixes, "x:")
	}
	for _, p := range prefixes {
		lk := key
		if p == "x:" {
			lk = strings.ToLower(key)
		}
		var list []*object
		for _, o := range inv.table[p+lk] {
			if k.Has(o.ref.Type) {
				list = append(list, o)
			}
		}
		if len(list) == 0 {
			continue
		}
		if len(list) == 1 {
			return list[0], nil
		}
		// Ties are listed in discovery order, so that the message is stable.
		sortBySeq(list)
		ids := make([]string, len(list))
		for i, o := range list {
			ids[i] = o.ref.Value
		}
		return nil, &LookupError{Key: key, Candidates: ids}
	}
	return nil, &LookupError{Key: key}
}

func sortBySeq(list []*object) {
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && list[j].seq < list[j-1].seq; j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}
}

// list returns the live objects of kind k in discovery order.
func (inv *inventory) list(k *Kind) []*object {
	var out []*object
	for _, o := range inv.order {
		if !o.gone && k.Has(o.ref.Type) {
			out = append(out, o)
		}
	}
	return out
}

// apply folds one WaitForUpdatesEx result into the inventory and returns
// the number of object updates it held, marking each object it changed
// with the stamp at. intern maps a reported path to the watched path's
// own string, so that thousands of objects share one copy of each path
// name. An update of the view's member list removes the
// objects it no longer lists (unless they entered in this result): the
// leave of an object is not always reported otherwise (the simulator
// drops it when its view changed just before).
func (inv *inventory) apply(set *types.UpdateSet, intern func(string) string, at uint64) (n int, err error) {
	var members map[types.ManagedObjectReference]bool
	entered := map[types.ManagedObjectReference]bool{}
	for _, fs := range set.FilterSet {
		for _, ou := range fs.ObjectSet {
			if ou.Obj == inv.view && inv.view.Value != "" {
				for _, c := range ou.ChangeSet {
					if c.Name != pathView {
						continue
					}
					// Several lists in one result: an object one of them
					// lacks is gone (the simulator may report the list
					// as it was when a change was recorded, beside the
					// current one).
					list := map[types.ManagedObjectReference]bool{}
					for _, r := range refList(c.Val) {
						if members == nil || members[r] {
							list[r] = true
						}
					}
					members = list
				}
				continue
			}
			n++
			if ou.Kind == types.ObjectUpdateKindLeave {
				inv.leave(ou.Obj)
				continue
			}
			if ou.Kind == types.ObjectUpdateKindEnter {
				entered[ou.Obj] = true
			}
			o := inv.enter(ou.Obj)
			o.changed = at
			for _, c := range ou.ChangeSet {
				unset := c.Op == types.PropertyChangeOpRemove || c.Op == types.PropertyChangeOpIndirectRemove || c.Val == nil
				inv.set(o, intern(c.Name), c.Val, unset)
			}
			for _, m := range ou.MissingSet {
				if isNotAuthenticated(m.Fault.Fault) {
					return n, errSessionLost
				}
				inv.set(o, intern(m.Path), nil, true)
			}
		}
	}
	if members != nil {
		var gone []types.ManagedObjectReference
		for r := range inv.byRef {
			if !members[r] && !entered[r] {
				gone = append(gone, r)
			}
		}
		for _, r := range gone {
			inv.leave(r)
			n++
		}
	}
	return n, nil
}

// refList reads a list of managed object references from a property value.
func refList(v any) []types.ManagedObjectReference {
	switch t := v.(type) {
	case types.ArrayOfManagedObjectReference:
		return t.ManagedObjectReference
	case []types.ManagedObjectReference:
		return t
	}
	return nil
}
