package objects

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// MirrorOptions bound the watched property mirror. Zero values select the
// defaults.
type MirrorOptions struct {
	// Off reads every property from vCenter, except the ones lookups
	// need (names, URLs, UUIDs), which the mirror then alone follows.
	Off bool
	// MaxPaths caps the watched paths of one managed object type, the
	// always-watched ones included (default 64). A path asked for beyond
	// the cap is read from vCenter on each request.
	MaxPaths int
	// PathExpiry drops a path clients added when nobody asked for it this
	// long (default 1h). The default paths never expire.
	PathExpiry time.Duration
	// MaxAge is the staleness bound: data the mirror has not confirmed
	// current for longer than this is not served; reads go to vCenter
	// (default 60s). It must exceed Wait.
	MaxAge time.Duration
	// Wait is the long poll's MaxWaitSeconds: how long vCenter may hold a
	// WaitForUpdatesEx that has nothing to report (default 20s, whole
	// seconds). Each poll confirms the mirror current, so an idle vCenter
	// costs 60/Wait calls a minute.
	Wait time.Duration
}

// Defaults of MirrorOptions.
const (
	DefaultMaxPaths   = 64
	DefaultPathExpiry = time.Hour
	DefaultMaxAge     = time.Minute
	DefaultWait       = 20 * time.Second
)

func (o MirrorOptions) withDefaults() (MirrorOptions, error) {
	if o.MaxPaths <= 0 {
		o.MaxPaths = DefaultMaxPaths
	}
	if o.PathExpiry <= 0 {
		o.PathExpiry = DefaultPathExpiry
	}
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	o.Wait = max(o.Wait.Round(time.Second), time.Second)
	if o.MaxAge <= 0 {
		o.MaxAge = max(DefaultMaxAge, 2*o.Wait)
	}
	if o.MaxAge <= o.Wait {
		return o, fmt.Errorf("mirror staleness bound %v must exceed the long poll wait %v", o.MaxAge, o.Wait)
	}
	return o, nil
}

const (
	// minPollGap is the least time between the starts of two polls, so
	// that a vCenter whose properties change all the time costs at most
	// one poll a second (changes meanwhile wait on vCenter's side and come
	// together); after a quiet spell the next poll starts at once.
	minPollGap = time.Second
	// joinDelay lets paths asked for at about the same time join the
	// filter together (one resync for a Zabbix poll wave, not one each).
	joinDelay = time.Second
	// expireEvery is how often expired paths are looked for.
	expireEvery = time.Minute
)

// errSessionLost is a property update saying the session is gone.
var errSessionLost = errors.New("vSphere session lost (NotAuthenticated in a property update)")

// generation is one property collector with one filter over one
// container view of every mirrored type, in one vCenter session, and the
// inventory its updates maintain. A new set of watched paths or a broken
// poll (session lost, WaitForUpdatesEx error) means a new generation: it
// is built and synced while the old one, if still polling, keeps serving.
type generation struct {
	paths     map[string]map[string]bool // type -> watched paths
	count     map[string]int
	watchVer  uint64
	inv       *inventory
	vc        *vim25.Client
	pc        *property.Collector
	view      *view.ContainerView
	version   string
	confirmed time.Time // the mirror was current at this instant (m.mu)
	alive     bool      // its poll runs (m.mu)
	cancel    context.CancelFunc
	done      chan struct{} // closed when its poll ends
	err       error
	pages     int           // WaitForUpdatesEx calls of its initial sync
	synced    time.Duration // how long the initial sync took
}

// mirror keeps, per agent, the watched properties of every object in the
// inventory current with one incremental WaitForUpdatesEx long poll: the
// inventory index and the property mirror are the same filter. Reads are
// served from it only while it is alive and confirmed current within
// MaxAge; otherwise they go to vCenter.
type mirror struct {
	c         Client
	log       *slog.Logger
	watch     *watchSet
	readyWait time.Duration // bound of a wait for the first sync
	opts      MirrorOptions

	mu      sync.RWMutex
	serving *generation   // nil until the first sync; may be dead (resyncing)
	ready   chan struct{} // closed when the first generation is installed
	lastErr error
	syncs   int
	retired int
	first   time.Duration
	firstN  int
	updates rate
}

func newMirror(c Client, log *slog.Logger, watch *watchSet, readyWait time.Duration, opts MirrorOptions) *mirror {
	return &mirror{c: c, log: log, watch: watch, readyWait: readyWait, opts: opts, ready: make(chan struct{})}
}

// run builds generations and keeps the newest one polling until ctx ends.
func (m *mirror) run(ctx context.Context) {
	var cur *generation
	defer func() {
		if cur != nil {
			m.stop(cur)
		}
	}()
	expire := time.NewTicker(expireEvery)
	defer expire.Stop()
	backoff := time.Second
	for ctx.Err() == nil {
		g, err := m.build(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if path, ok := invalidProperty(err); ok && m.watch.reject(path) {
				m.log.Warn("vCenter refused a watched property; it is read directly from now on", slog.String("path", path))
				continue
			}
			m.mu.Lock()
			m.lastErr = err
			m.mu.Unlock()
			m.log.Warn("property mirror: sync failed, retrying", slog.Any("error", err), slog.Duration("in", backoff))
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		old := m.install(g)
		if old != nil {
			m.stop(old)
		}
		cur = g
		gctx, cancel := context.WithCancel(ctx)
		g.cancel = cancel
		go func() {
			defer close(g.done)
			g.err = m.poll(gctx, g)
			m.mu.Lock()
			g.alive = false
			m.mu.Unlock()
		}()
		if !m.waitForReason(ctx, g, expire.C) {
			return
		}
	}
}

// waitForReason returns when g must be replaced: its poll ended, or the
// watched set changed. It reports false when ctx ended.
func (m *mirror) waitForReason(ctx context.Context, g *generation, expire <-chan time.Time) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-g.done:
			if ctx.Err() != nil {
				return false
			}
			m.mu.Lock()
			m.lastErr = g.err
			m.mu.Unlock()
			m.log.Warn("property mirror: update poll failed; reads go to vCenter until it is synced again", slog.Any("error", g.err))
			return sleep(ctx, time.Second)
		case <-m.watch.kick:
			if !sleep(ctx, joinDelay) {
				return false
			}
			if m.watch.currentVersion() != g.watchVer {
				return true
			}
		case now := <-expire:
			m.watch.expire(now)
		}
	}
}

// build creates and syncs a generation for the current watched set.
func (m *mirror) build(ctx context.Context) (g *generation, err error) {
	start := time.Now()
	paths, ver := m.watch.snapshot()
	vc, err := m.c.Client(ctx)
	if err != nil {
		return nil, err
	}
	gen := &generation{paths: map[string]map[string]bool{}, count: map[string]int{}, watchVer: ver, inv: newInventory(),
		vc: vc, done: make(chan struct{})}
	g = gen
	defer func() {
		if err != nil {
			m.destroy(gen) // what was created of it
		}
	}()
	if g.pc, err = property.DefaultCollector(vc).Create(ctx); err != nil {
		return nil, fmt.Errorf("create property collector: %w", err)
	}
	typeNames := make([]string, 0, len(paths))
	for t := range paths {
		typeNames = append(typeNames, t)
	}
	sort.Strings(typeNames)
	if g.view, err = view.NewManager(vc).CreateContainerView(ctx, vc.ServiceContent.RootFolder, typeNames, true); err != nil {
		return nil, fmt.Errorf("create container view: %w", err)
	}
	// The filter also follows the view's own member list: an object that
	// left the view has left the inventory, even when its own leave is not
	// reported (the simulator drops it when the view changes).
	spec := types.PropertyFilterSpec{ObjectSet: []types.ObjectSpec{viewSpec(g.view.Reference(), false)},
		PropSet: []types.PropertySpec{{Type: typeContainerVew, PathSet: []string{pathView}}}}
	g.inv.view = g.view.Reference()
	for _, t := range typeNames {
		spec.PropSet = append(spec.PropSet, types.PropertySpec{Type: t, PathSet: paths[t]})
		g.paths[t] = map[string]bool{}
		for _, p := range paths[t] {
			g.paths[t][p] = true
		}
		g.count[t] = len(paths[t])
	}
	if _, err = g.pc.CreateFilter(ctx, types.CreateFilter{Spec: spec}); err != nil {
		return nil, fmt.Errorf("create property filter: %w", err)
	}
	for {
		g.pages++
		set, err := m.wait(ctx, g)
		if err != nil {
			return nil, fmt.Errorf("initial property sync: %w", err)
		}
		truncated, err := m.apply(g, set, time.Now())
		if err != nil {
			return nil, fmt.Errorf("initial property sync: %w", err)
		}
		if !truncated {
			break
		}
	}
	g.synced = time.Since(start)
	return g, nil
}

// viewSpec selects every object of a container view (and the view itself
// unless skip).
func viewSpec(v types.ManagedObjectReference, skip bool) types.ObjectSpec {
	return types.ObjectSpec{Obj: v, Skip: types.NewBool(skip),
		SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: typeContainerVew, Path: "view"}}}
}

// wait is one WaitForUpdatesEx of g's collector from its version.
// govmomi's property.Collector.WaitForUpdatesEx loops until a callback
// stops it and starts over from version "" (a full resync) each time a
// MaxWaitSeconds ends it; the mirror needs a bounded wait that proves it
// current and resumes from the version it has, so it makes the call
// itself on the collector govmomi created.
func (m *mirror) wait(ctx context.Context, g *generation) (*types.UpdateSet, error) {
	w := int32(m.opts.Wait / time.Second)
	res, err := methods.WaitForUpdatesEx(ctx, g.vc, &types.WaitForUpdatesEx{This: g.pc.Reference(), Version: g.version,
		Options: &types.WaitOptions{MaxWaitSeconds: &w}})
	if err != nil {
		return nil, err
	}
	return res.Returnval, nil
}

// apply folds set into g (nil: nothing changed within the wait) and
// confirms g current at now unless more updates are pending (truncated).
func (m *mirror) apply(g *generation, set *types.UpdateSet, now time.Time) (truncated bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if set != nil {
		n, err := g.inv.apply(set, m.watch.internPath)
		if err != nil {
			return false, err
		}
		g.version = set.Version
		m.updates.add(now, n)
		truncated = set.Truncated != nil && *set.Truncated
	}
	if !truncated {
		g.confirmed = now
	}
	return truncated, nil
}

// poll keeps g current until an error or ctx ends.
func (m *mirror) poll(ctx context.Context, g *generation) error {
	for {
		started := time.Now()
		set, err := m.wait(ctx, g)
		if err != nil {
			return fmt.Errorf("wait for property updates: %w", err)
		}
		truncated, err := m.apply(g, set, time.Now())
		if err != nil {
			return err
		}
		if set != nil && m.log.Enabled(ctx, slog.LevelDebug) {
			m.log.Debug("property mirror: updates", slog.String("summary", summarize(set)))
		}
		if truncated {
			continue
		}
		if set != nil && len(set.FilterSet) > 0 && !sleep(ctx, minPollGap-time.Since(started)) {
			return ctx.Err()
		}
	}
}

// install makes g the serving generation and returns the previous one.
func (m *mirror) install(g *generation) *generation {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.serving
	g.alive = true
	m.serving, m.lastErr = g, nil
	m.syncs++
	if m.syncs == 1 {
		m.first, m.firstN = g.synced, g.pages
		close(m.ready)
	}
	m.log.Debug("property mirror synced", slog.Int("objects", len(g.inv.byRef)), slog.Duration("took", g.synced),
		slog.Int("pages", g.pages))
	return old
}

// stop ends g's poll and destroys its collector and view.
func (m *mirror) stop(g *generation) {
	if g.cancel != nil {
		g.cancel()
		<-g.done
	}
	m.destroy(g)
	m.mu.Lock()
	m.retired++
	m.mu.Unlock()
}

// destroy removes g's collector (and with it its filter and any wait on
// it) and its view from vCenter, detached from the caller's context.
func (m *mirror) destroy(g *generation) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if g.pc != nil {
		if err := g.pc.Destroy(ctx); err != nil {
			m.log.Debug("destroy property collector", slog.Any("error", err))
		}
	}
	if g.view != nil {
		if err := g.view.Destroy(ctx); err != nil {
			m.log.Debug("destroy container view", slog.Any("error", err))
		}
	}
}

// waitReady waits for the first sync, bounded by ctx and readyWait.
func (m *mirror) waitReady(ctx context.Context) error {
	select {
	case <-m.ready:
		return nil
	default:
	}
	if _, err := m.c.Client(ctx); err != nil {
		return err
	}
	t := time.NewTimer(m.readyWait)
	defer t.Stop()
	select {
	case <-m.ready:
		return nil
	case <-ctx.Done():
		return m.notReady(ctx.Err())
	case <-t.C:
		return m.notReady(context.DeadlineExceeded)
	}
}

func (m *mirror) notReady(cause error) error {
	m.mu.RLock()
	err := m.lastErr
	m.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("inventory not synced yet: %w", err)
	}
	return fmt.Errorf("inventory not synced yet: %w", cause)
}

// freshLocked reports whether the serving generation may serve values at
// now; m.mu is held.
func (m *mirror) freshLocked(now time.Time) bool {
	g := m.serving
	return g != nil && g.alive && now.Sub(g.confirmed) <= m.opts.MaxAge
}

// covers reports whether g watches every path of typ.
func (g *generation) covers(typ string, paths []string) bool {
	set := g.paths[typ]
	for _, p := range paths {
		if !set[p] {
			return false
		}
	}
	return true
}

// values serves paths of ref from the mirror. served is false when the
// mirror cannot answer (not current, or a path not watched); then
// found says nothing. A served read of an object the mirror does not
// hold is not found: the object does not exist.
func (m *mirror) values(ref types.ManagedObjectReference, paths []string, now time.Time) (v Values, found, served bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.freshLocked(now) || !m.serving.covers(ref.Type, paths) {
		return nil, false, false
	}
	o := m.serving.inv.byRef[ref]
	if o == nil {
		return nil, false, true
	}
	return pick(o.vals, paths), true, true
}

// many serves paths of every ref (objects the mirror does not hold are
// absent from the result), all or nothing.
func (m *mirror) many(refs []types.ManagedObjectReference, paths []string, now time.Time) (map[types.ManagedObjectReference]Values, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.freshLocked(now) {
		return nil, false
	}
	for _, r := range refs {
		if !m.serving.covers(r.Type, paths) {
			return nil, false
		}
	}
	out := make(map[types.ManagedObjectReference]Values, len(refs))
	for _, r := range refs {
		if o := m.serving.inv.byRef[r]; o != nil {
			out[r] = pick(o.vals, paths)
		}
	}
	return out, true
}

// Item is one object of a discovery with its values.
type Item struct {
	Ref    types.ManagedObjectReference
	Values Values
}

// list serves the objects of kind k in discovery order with paths (nil
// paths: the index's values, which are always there); served is false
// when paths cannot be served from the mirror.
func (m *mirror) list(k *Kind, paths []string, now time.Time, indexOnly bool) (items []Item, served bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.serving == nil {
		return nil, false
	}
	if !indexOnly {
		if !m.freshLocked(now) {
			return nil, false
		}
		for _, t := range k.Types {
			if !m.serving.covers(t, paths) {
				return nil, false
			}
		}
	}
	for _, o := range m.serving.inv.list(k) {
		if indexOnly {
			items = append(items, Item{Ref: o.ref, Values: pick(o.vals, indexPaths[o.ref.Type])})
		} else {
			items = append(items, Item{Ref: o.ref, Values: pick(o.vals, paths)})
		}
	}
	return items, true
}

// find resolves key in the newest inventory (which, while the mirror
// resyncs, is the last one synced: names rarely change, and a value read
// for a name that went stale fails as "not found").
func (m *mirror) find(k *Kind, key string) (types.ManagedObjectReference, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, err := m.serving.inv.find(k, key)
	if err != nil {
		return types.ManagedObjectReference{}, m.freshLocked(time.Now()), err
	}
	return o.ref, true, nil
}

// liveView is the serving generation's container view, when it still
// polls (retrievals through it cost one call and no view of their own).
func (m *mirror) liveView() (*view.ContainerView, *vim25.Client) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if g := m.serving; g != nil && g.alive {
		return g.view, g.vc
	}
	return nil, nil
}

func pick(vals Values, paths []string) Values {
	out := make(Values, len(paths))
	for _, p := range paths {
		if v, ok := vals[p]; ok {
			out[p] = v
		}
	}
	return out
}

// invalidProperty names the property of an InvalidProperty fault.
func invalidProperty(err error) (string, bool) {
	if err == nil || !soap.IsSoapFault(err) {
		return "", false
	}
	switch f := soap.ToSoapFault(err).VimFault().(type) {
	case *types.InvalidProperty:
		return f.Name, true
	case types.InvalidProperty:
		return f.Name, true
	}
	return "", false
}

func isNotAuthenticated(f any) bool {
	switch f.(type) {
	case types.NotAuthenticated, *types.NotAuthenticated:
		return true
	}
	return false
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// summarize counts an update set's object updates by kind (debug logs).
func summarize(set *types.UpdateSet) string {
	kinds := map[types.ObjectUpdateKind]int{}
	var objs []string
	for _, fs := range set.FilterSet {
		for _, ou := range fs.ObjectSet {
			kinds[ou.Kind]++
			if len(objs) < 8 {
				objs = append(objs, string(ou.Kind)+":"+ou.Obj.Value)
			}
		}
	}
	return fmt.Sprintf("version %s, %v, %v", set.Version, kinds, objs)
}
