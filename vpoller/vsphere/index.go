package vsphere

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/vim25/methods"
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

// entry is one indexed managed object.
type entry struct {
	ref   types.ManagedObjectReference
	props map[string]string // followed properties (name, info.url, uuids)
	seq   uint64            // arrival order, for discovery order
}

// inventory is the set of indexed objects of one session's filter.
type inventory struct {
	byRef map[types.ManagedObjectReference]*entry
	seq   uint64
	// Derived lookups, rebuilt after changes.
	dirty  bool
	byName map[string][]*entry
	byID   map[string][]*entry
	byURL  map[string][]*entry
	byUUID map[string][]*entry
	order  []*entry
}

func newInventory() *inventory {
	return &inventory{byRef: map[types.ManagedObjectReference]*entry{}, dirty: true}
}

func (inv *inventory) apply(set *types.UpdateSet) {
	for _, fs := range set.FilterSet {
		for _, ou := range fs.ObjectSet {
			switch ou.Kind {
			case types.ObjectUpdateKindLeave:
				delete(inv.byRef, ou.Obj)
			default:
				e := inv.byRef[ou.Obj]
				if e == nil {
					inv.seq++
					e = &entry{ref: ou.Obj, props: map[string]string{}, seq: inv.seq}
					inv.byRef[ou.Obj] = e
				}
				for _, c := range ou.ChangeSet {
					if c.Op == types.PropertyChangeOpRemove || c.Op == types.PropertyChangeOpIndirectRemove {
						delete(e.props, c.Name)
						continue
					}
					if s, ok := c.Val.(string); ok {
						e.props[c.Name] = s
					} else {
						delete(e.props, c.Name)
					}
				}
			}
		}
	}
	inv.dirty = true
}

func (inv *inventory) rebuild() {
	if !inv.dirty {
		return
	}
	inv.byName, inv.byID = map[string][]*entry{}, map[string][]*entry{}
	inv.byURL, inv.byUUID = map[string][]*entry{}, map[string][]*entry{}
	inv.order = inv.order[:0]
	for _, e := range inv.byRef {
		inv.order = append(inv.order, e)
	}
	sort.Slice(inv.order, func(i, j int) bool { return inv.order[i].seq < inv.order[j].seq })
	for _, e := range inv.order {
		inv.byID[e.ref.Value] = append(inv.byID[e.ref.Value], e)
		if n, ok := e.props[pathName]; ok {
			inv.byName[n] = append(inv.byName[n], e)
		}
		if u, ok := e.props[pathURL]; ok {
			inv.byURL[u] = append(inv.byURL[u], e)
		}
		for _, p := range []string{pathVMInstUUID, pathVMBiosUUID, pathHostUUID} {
			if u, ok := e.props[p]; ok && u != "" {
				inv.byUUID[strings.ToLower(u)] = append(inv.byUUID[strings.ToLower(u)], e)
			}
		}
	}
	inv.dirty = false
}

// find resolves key for kind k: by info.url (datastores), then name, then
// managed object id, then UUID (VMs, hosts).
func (inv *inventory) find(k *kind, key string) (*entry, error) {
	inv.rebuild()
	pick := func(list []*entry) ([]*entry, bool) {
		var out []*entry
		for _, e := range list {
			if k.has(e.ref.Type) {
				out = append(out, e)
			}
		}
		return out, len(out) > 0
	}
	tables := []map[string][]*entry{inv.byName, inv.byID}
	if k.byURL {
		tables = append([]map[string][]*entry{inv.byURL}, tables...)
	}
	for _, t := range tables {
		if list, ok := pick(t[key]); ok {
			return unique(key, list)
		}
	}
	if k.uuid {
		if list, ok := pick(inv.byUUID[strings.ToLower(key)]); ok {
			return unique(key, list)
		}
	}
	return nil, &LookupError{Key: key}
}

func unique(key string, list []*entry) (*entry, error) {
	if len(list) == 1 {
		return list[0], nil
	}
	ids := make([]string, len(list))
	for i, e := range list {
		ids[i] = e.ref.Value
	}
	return nil, &LookupError{Key: key, Candidates: ids}
}

// index keeps an agent's inventory current: one property filter over a
// container view of every indexed type, polled with WaitForUpdatesEx
// (MaxWaitSeconds 0), which returns only what changed since the last poll.
// Lookups never scan vCenter; a miss triggers one extra poll (rate
// limited) so a just-created object is found on its first request.
type index struct {
	a    *Agent
	kick chan struct{}

	mu       sync.Mutex
	live     *inventory
	ready    chan struct{} // closed once the first full sync is installed
	lastErr  error
	polled   chan struct{} // closed and replaced after each poll
	lastPoll time.Time
}

func newIndex(a *Agent) *index {
	return &index{a: a, kick: make(chan struct{}, 1), ready: make(chan struct{}), polled: make(chan struct{})}
}

// minMissPoll rate-limits the polls triggered by lookup misses.
const minMissPoll = time.Second

func (i *index) run() {
	defer i.a.wg.Done()
	backoff := time.Second
	for {
		synced, err := i.session(i.a.bg)
		if i.a.bg.Err() != nil {
			return
		}
		i.mu.Lock()
		i.lastErr = err
		i.mu.Unlock()
		i.a.log.Warn("inventory index: restarting after error", slog.Any("error", err))
		if synced {
			backoff = time.Second
		}
		t := time.NewTimer(backoff)
		select {
		case <-i.a.bg.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// session builds a filter in the current vSphere session and polls it
// until an error (e.g. the session was replaced by a re-login).
func (i *index) session(ctx context.Context) (synced bool, err error) {
	vc, err := i.a.Client(ctx)
	if err != nil {
		return false, err
	}
	pcRes, err := methods.CreatePropertyCollector(ctx, vc, &types.CreatePropertyCollector{This: vc.ServiceContent.PropertyCollector})
	if err != nil {
		return false, fmt.Errorf("create property collector: %w", err)
	}
	pc := pcRes.Returnval
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = methods.DestroyPropertyCollector(cctx, vc, &types.DestroyPropertyCollector{This: pc})
	}()
	typeNames := make([]string, 0, len(indexed))
	for t := range indexed {
		typeNames = append(typeNames, t)
	}
	sort.Strings(typeNames)
	viewRes, err := methods.CreateContainerView(ctx, vc, &types.CreateContainerView{This: *vc.ServiceContent.ViewManager,
		Container: vc.ServiceContent.RootFolder, Type: typeNames, Recursive: true})
	if err != nil {
		return false, fmt.Errorf("create container view: %w", err)
	}
	view := viewRes.Returnval
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = methods.DestroyView(cctx, vc, &types.DestroyView{This: view})
	}()
	spec := types.PropertyFilterSpec{ObjectSet: []types.ObjectSpec{{Obj: view, Skip: types.NewBool(true),
		SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: typeContainerVew, Path: "view"}}}}}
	for _, t := range typeNames {
		spec.PropSet = append(spec.PropSet, types.PropertySpec{Type: t, PathSet: indexed[t]})
	}
	if _, err := methods.CreateFilter(ctx, vc, &types.CreateFilter{This: pc, Spec: spec}); err != nil {
		return false, fmt.Errorf("create property filter: %w", err)
	}

	inv := newInventory()
	version := ""
	ticker := time.NewTicker(i.a.opts.IndexRefresh)
	defer ticker.Stop()
	for {
		res, err := methods.WaitForUpdatesEx(ctx, vc, &types.WaitForUpdatesEx{This: pc, Version: version,
			Options: &types.WaitOptions{MaxWaitSeconds: types.NewInt32(0)}})
		if err != nil {
			return synced, fmt.Errorf("poll inventory changes: %w", err)
		}
		if set := res.Returnval; set != nil {
			version = set.Version
			i.mu.Lock()
			inv.apply(set)
			i.mu.Unlock()
			if set.Truncated != nil && *set.Truncated {
				continue
			}
		}
		i.mu.Lock()
		if !synced {
			i.live, i.lastErr, synced = inv, nil, true
			select {
			case <-i.ready:
			default:
				close(i.ready)
			}
		}
		i.lastPoll = time.Now()
		close(i.polled)
		i.polled = make(chan struct{})
		i.mu.Unlock()
		select {
		case <-ctx.Done():
			return synced, ctx.Err()
		case <-ticker.C:
		case <-i.kick:
		}
	}
}

// waitReady waits for the first full sync (connecting first if needed).
func (i *index) waitReady(ctx context.Context) error {
	if _, err := i.a.Client(ctx); err != nil {
		return err
	}
	select {
	case <-i.ready:
		return nil
	case <-ctx.Done():
		i.mu.Lock()
		err := i.lastErr
		i.mu.Unlock()
		if err != nil {
			return fmt.Errorf("inventory index not ready: %w", err)
		}
		return fmt.Errorf("inventory index not ready: %w", ctx.Err())
	}
}

// repoll asks for an immediate poll and waits for it, unless one finished
// less than minMissPoll ago. It reports whether a poll happened.
func (i *index) repoll(ctx context.Context) bool {
	i.mu.Lock()
	if time.Since(i.lastPoll) < minMissPoll {
		i.mu.Unlock()
		return false
	}
	done := i.polled
	i.mu.Unlock()
	select {
	case i.kick <- struct{}{}:
	default:
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// Lookup resolves a request's object name for kind k to a managed object
// reference, from the index.
func (i *index) lookup(ctx context.Context, k *kind, key string) (types.ManagedObjectReference, error) {
	if err := i.waitReady(ctx); err != nil {
		return types.ManagedObjectReference{}, err
	}
	e, err := i.find(k, key)
	var le *LookupError
	if errors.As(err, &le) && len(le.Candidates) == 0 && i.repoll(ctx) {
		e, err = i.find(k, key)
	}
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	return e.ref, nil
}

func (i *index) find(k *kind, key string) (*entry, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.live.find(k, key)
}

// list returns the objects of kind k in discovery order.
func (i *index) list(ctx context.Context, k *kind) ([]entry, error) {
	if err := i.waitReady(ctx); err != nil {
		return nil, err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.live.rebuild()
	var out []entry
	for _, e := range i.live.order {
		if k.has(e.ref.Type) {
			out = append(out, entry{ref: e.ref, props: maps1(e.props)})
		}
	}
	return out, nil
}

// props returns the followed properties of refs (nil for unknown ones).
func (i *index) props(refs []types.ManagedObjectReference) []map[string]string {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make([]map[string]string, len(refs))
	if i.live == nil {
		return out
	}
	for n, r := range refs {
		if e := i.live.byRef[r]; e != nil {
			out[n] = maps1(e.props)
		}
	}
	return out
}

func maps1(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
