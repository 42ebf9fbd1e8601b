// Package objects is the objects room of the vSphere agent: what the
// worker knows about a vCenter's inventory and how it reads it while
// costing vCenter as little as the data allows.
//
//   - One watched property mirror per agent: a property collector filter
//     over a container view of every inventory type, kept current by an
//     incremental WaitForUpdatesEx long poll. It is at once the inventory
//     index (lookups by name, managed object id, datastore URL and UUID,
//     with duplicate names refused) and the store of every property the
//     shipped templates read, plus the paths clients ask for. Reads it can
//     serve cost no call; it never serves data it has not confirmed current
//     within a bound.
//   - One performance sweep per agent: every series clients ask for,
//     fetched in rounds packed up to the interval's pack size (1,000
//     realtime metrics per call; historical ones as vCenter's
//     maxQueryMetrics allows), at the pace clients ask.
//   - Batchers for what must go to vCenter: concurrent reads share calls.
//   - The cold index: lookups while the mirror holds no inventory. No read
//     ever waits for the mirror to sync.
//   - Snapshots (Snapshot) of what the mirror cannot or need not watch and
//     many requests read: every object's alarm states (vCenter raises them
//     without a property change a collector reports) and the custom field
//     definitions. Requests share one load per TTL, so their cost is fixed
//     per agent whatever the number of Zabbix items. The sub-packages keep
//     the rest of an agent's state the same way: tagging (vAPI tags) and
//     eventstream (the event collector).
//   - Roles: which of the above a worker keeps for a vCenter it serves with
//     other workers.
//
// A reply never carries a property state older than one already served
// (the mirror's generations and their asOf, the catch-up wait, the
// overlay of direct reads).
//
// It reaches vCenter only through Client, and knows nothing of vPoller
// requests or replies.
package objects

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// Client is what the objects room needs of a vSphere session: a
// logged-in client whose calls survive session expiry (the session room's
// Session).
type Client interface {
	Client(ctx context.Context) (*vim25.Client, error)
}

// ErrClosed is returned for reads after Close.
var ErrClosed = errors.New("vsphere agent is closed")

// Options tune a Store.
type Options struct {
	Logger *slog.Logger
	// Timeout is the agent's per-call time limit (shared reads, such as
	// the alarm snapshot and the cold index, run on it).
	Timeout time.Duration
	Mirror  MirrorOptions
	Sweep   SweepOptions
	// AlarmMaxAge bounds the age of the alarm snapshot alarm requests are
	// answered from (DefaultAlarmMaxAge when zero): the agent reads every
	// object's alarm states at most once per AlarmMaxAge.
	AlarmMaxAge time.Duration
}

// Store is one agent's objects room. Everything on it is safe for
// concurrent use; it starts its background work on first use, or when
// its role says so (SetRole).
type Store struct {
	c       Client
	log     *slog.Logger
	timeout time.Duration
	now     func() time.Time

	bg   *background
	mu   sync.Mutex // orders role changes and starts
	role Role

	watch  *watchSet
	mirror *mirror
	index  *coldIndex
	props  *propBatcher
	perfQ  *perfBatcher
	perf   *Catalog
	sweep  *sweep
	alarms *alarmCache
	fields *Snapshot[*FieldDefs]

	served, direct atomic.Uint64

	// settling, when set (tests), is called when a direct read returned,
	// before it is settled with the mirror.
	settling func(ref types.ManagedObjectReference)
}

// New prepares a store; it does no network work.
func New(c Client, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	mo, err := opts.Mirror.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{c: c, log: opts.Logger, timeout: opts.Timeout, now: time.Now, bg: newBackground()}
	s.watch = newWatchSet(opts.Logger, mo.MaxPaths, mo.PathExpiry, !mo.Off)
	s.mirror = newMirror(c, opts.Logger, s.watch, mo, s.now)
	s.index = newColdIndex(c, opts.Logger, opts.Timeout, s.now)
	s.props = newPropBatcher(c, s.bg)
	s.perf = newCatalog(c)
	s.perfQ = newPerfBatcher(c, opts.Logger, s.perf, s.bg)
	s.sweep = newSweep(c, opts.Logger, s.perf, s.perfQ, s.bg, opts.Sweep)
	s.alarms = s.newAlarmCache(opts.AlarmMaxAge)
	s.fields = s.newFieldDefs()
	return s, nil
}

// start launches the mirror on first use, unless the role is passive.
func (s *Store) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.role != RolePassive {
		s.mirror.start(s.bg.spawn, s.bg.ctx)
	}
}

// Close stops the mirror and the sweep and removes the mirror's collector
// from vCenter; the session must still be open.
func (s *Store) Close() { s.bg.close() }

// Catalog is the agent's performance counter catalogue.
func (s *Store) Catalog() *Catalog { return s.perf }

// ready starts the store (unless passive). It never waits for the mirror:
// until it holds an inventory, reads go to vCenter.
func (s *Store) ready() error {
	if s.bg.isClosed() {
		return ErrClosed
	}
	s.start()
	return nil
}

// Lookup resolves a request's object name for kind k to a managed object
// reference: from the mirror's inventory index (no vCenter call) once it
// holds one, otherwise from the cold index (one shared read per
// indexMaxAge). While the mirror resyncs, a name it does not know is
// looked up in the cold index, so that an object created meanwhile is
// found. It never waits for the mirror to sync.
func (s *Store) Lookup(ctx context.Context, k *Kind, key string) (types.ManagedObjectReference, error) {
	if err := s.ready(); err != nil {
		return types.ManagedObjectReference{}, err
	}
	ref, held, current, err := s.mirror.find(k, key)
	if held {
		var le *LookupError
		if err == nil || current || !errors.As(err, &le) || len(le.Candidates) > 0 {
			return ref, err
		}
	}
	return s.index.find(ctx, k, key)
}

// List returns the objects of kind k in discovery order with the index's
// values (name, and info.url for datastores): from the mirror's newest
// inventory (while it resyncs it may be behind: replies use Discover,
// which then reads from vCenter), or the cold index while it holds none.
func (s *Store) List(ctx context.Context, k *Kind) ([]Item, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	if items, ok := s.mirror.list(k, nil, s.now(), true); ok {
		return items, nil
	}
	snap, err := s.index.get(ctx, time.Time{})
	if err != nil {
		return nil, err
	}
	var items []Item
	for _, o := range snap.inv.list(k) {
		items = append(items, Item{Ref: o.ref, Values: pick(o.vals, indexPaths[o.ref.Type])})
	}
	return items, nil
}

// Discover returns every object of kind k with paths, in discovery order:
// from the mirror when it is current and watches them all, otherwise with
// one RetrievePropertiesEx through a container view (never one object
// spec per object). Paths read from vCenter then join the mirror.
func (s *Store) Discover(ctx context.Context, k *Kind, paths []string) ([]Item, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	now := s.now()
	for _, t := range k.Types {
		s.watch.touch(t, paths, now)
	}
	if items, ok := s.mirror.list(k, paths, now, false); ok {
		s.served.Add(1)
		return items, nil
	}
	s.direct.Add(1)
	began := s.mirror.stamp()
	contents, err := s.retrieveKind(ctx, k, paths)
	if err != nil {
		return nil, err
	}
	got := make(map[types.ManagedObjectReference]Values, len(contents))
	collect(got, contents)
	s.mirror.settle(got, paths, began)
	known, _ := s.mirror.list(k, nil, now, true)
	items := make([]Item, 0, len(got))
	for _, it := range known { // discovery order, as the index has it
		if v, ok := got[it.Ref]; ok {
			items = append(items, Item{Ref: it.Ref, Values: v})
			delete(got, it.Ref)
		}
	}
	for _, c := range contents { // objects newer than the index, in vCenter's order
		if v, ok := got[c.Obj]; ok {
			items = append(items, Item{Ref: c.Obj, Values: v})
			delete(got, c.Obj)
		}
	}
	for _, t := range k.Types {
		s.offer(t, paths)
	}
	return items, nil
}

// retrieveKind reads paths of every object of k through the mirror's
// container view, or a view made for the purpose while the mirror has
// none alive.
func (s *Store) retrieveKind(ctx context.Context, k *Kind, paths []string) ([]types.ObjectContent, error) {
	if v, _ := s.mirror.liveView(); v != nil {
		contents, err := retrieveView(ctx, v, k.Types, paths)
		if err == nil || !IsObjectGone(err) {
			return contents, err
		}
		// The view went with its session: use one of our own.
	}
	vc, err := s.c.Client(ctx)
	if err != nil {
		return nil, err
	}
	v, err := view.NewManager(vc).CreateContainerView(ctx, vc.ServiceContent.RootFolder, k.Types, true)
	if err != nil {
		return nil, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = v.Destroy(dctx)
	}()
	return retrieveView(ctx, v, k.Types, paths)
}

// Get returns paths of ref (found by key): from the mirror when it is
// current and watches every path (no vCenter call), otherwise with one
// RetrievePropertiesEx shared with concurrent reads of the same type;
// paths read from vCenter then join the mirror. An object that no longer
// exists is a LookupError for key.
func (s *Store) Get(ctx context.Context, ref types.ManagedObjectReference, key string, paths []string) (Values, error) {
	if !Mirrored(ref.Type) { // a singleton manager: nothing to mirror or batch with
		vc, err := s.c.Client(ctx)
		if err != nil {
			return nil, err
		}
		vals, err := retrieve(ctx, vc, []types.ManagedObjectReference{ref}, paths)
		if err != nil {
			if IsObjectGone(err) {
				return nil, &LookupError{Key: key}
			}
			return nil, err
		}
		if vals[ref] == nil {
			return Values{}, nil
		}
		return vals[ref], nil
	}
	s.start()
	now := s.now()
	s.watch.touch(ref.Type, paths, now)
	if v, found, served := s.mirror.values(ref, paths, now); served {
		s.served.Add(1)
		if !found {
			return nil, &LookupError{Key: key}
		}
		return v, nil
	}
	s.direct.Add(1)
	v, err := s.readDirect(ctx, ref, paths)
	if err != nil {
		if IsObjectGone(err) {
			return nil, &LookupError{Key: key}
		}
		return nil, err
	}
	s.offer(ref.Type, paths)
	return v, nil
}

// readDirect reads paths of ref through the batcher and settles the
// result with the mirror.
func (s *Store) readDirect(ctx context.Context, ref types.ManagedObjectReference, paths []string) (Values, error) {
	began := s.mirror.stamp()
	v, err := s.props.get(ctx, ref, paths)
	if err != nil {
		return nil, err
	}
	if s.settling != nil {
		s.settling(ref)
	}
	got := map[types.ManagedObjectReference]Values{ref: v}
	s.mirror.settle(got, paths, began)
	return got[ref], nil
}

// Read returns paths of ref from vCenter, never from the mirror, and
// does not make them join it: for values vCenter computes on demand that
// a request needs current (alarm states of many objects go through
// Alarms instead). Concurrent reads of the same type share a call.
func (s *Store) Read(ctx context.Context, ref types.ManagedObjectReference, key string, paths []string) (Values, error) {
	s.direct.Add(1)
	v, err := s.readDirect(ctx, ref, paths)
	if err != nil && IsObjectGone(err) {
		return nil, &LookupError{Key: key}
	}
	return v, err
}

// GetMany returns paths of refs (objects that no longer exist are absent):
// from the mirror when it can serve them all, otherwise with one
// RetrievePropertiesEx.
func (s *Store) GetMany(ctx context.Context, refs []types.ManagedObjectReference, paths []string) (map[types.ManagedObjectReference]Values, error) {
	s.start()
	now := s.now()
	typeSet := map[string]bool{}
	for _, r := range refs {
		if !typeSet[r.Type] {
			typeSet[r.Type] = true
			s.watch.touch(r.Type, paths, now)
		}
	}
	if out, ok := s.mirror.many(refs, paths, now); ok {
		s.served.Add(1)
		return out, nil
	}
	s.direct.Add(1)
	vc, err := s.c.Client(ctx)
	if err != nil {
		return nil, err
	}
	began := s.mirror.stamp()
	out, err := retrieve(ctx, vc, refs, paths)
	if err != nil {
		return nil, err
	}
	s.mirror.settle(out, paths, began)
	for t := range typeSet {
		s.offer(t, paths)
	}
	return out, nil
}

// offer lets paths read from vCenter without fault join the mirror.
func (s *Store) offer(typ string, paths []string) {
	if s.mirror.opts.Off {
		return
	}
	s.watch.offer(typ, paths, s.now())
}

// Perf answers a performance query from the sweep, or fetches it (batched
// with concurrent queries) and lets its series join the sweep.
func (s *Store) Perf(ctx context.Context, q PerfQuery) ([]Sample, error) {
	if s.bg.isClosed() {
		return nil, ErrClosed
	}
	if s.Role() == RoleStandby { // no sweep is kept: answered directly, batched
		return s.perfQ.query(ctx, &perfRead{ref: q.Ref, counter: q.Counter, instance: q.Instance, maxSample: int32(max(q.MaxSample, 1))}, q.Interval)
	}
	return s.sweep.get(ctx, q)
}

// ClientFunc adapts a function to Client (a fixed *vim25.Client in
// examples and tools: func(context.Context) (*vim25.Client, error) {
// return c, nil }).
type ClientFunc func(ctx context.Context) (*vim25.Client, error)

// Client calls f.
func (f ClientFunc) Client(ctx context.Context) (*vim25.Client, error) { return f(ctx) }
