package objects

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
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
	// minPollGap is the sustained least time between the starts of two
	// polls, so that a vCenter whose properties change all the time costs
	// at most one poll a second (changes meanwhile wait on vCenter's side
	// and come together). Up to pollBurst polls may start back to back
	// (after a quiet spell, the poll after a change starts at once): a
	// change often comes in several updates (a power task changes the VM,
	// then its summary), and a poll outstanding when they come brings
	// each as soon as vCenter has it, whereas one started a second later
	// makes vCenter work through all of them before it answers (the
	// simulator re-collects the whole filter for each update: at 200 VMs
	// and a change a second, the delay behind a plain collector went from
	// 0.69 to 0.46 s).
	minPollGap = time.Second
	pollBurst  = 3
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
	// asOf is the stamp taken when its last completed, non-truncated
	// WaitForUpdatesEx began (of the first of a truncated chain): every
	// change vCenter made before it has been applied (m.mu).
	asOf  uint64
	chain uint64 // stamp of the first wait of the chain under way (0: none)
	// confirm asks the poll for a wait that returns at once: an update
	// changed an object whose overlay entries are newer than asOf, and
	// those hide the change until asOf passes them (m.mu).
	confirm bool

	cancel context.CancelFunc
	done   chan struct{} // closed when its poll ends
	err    error
	pages  int           // WaitForUpdatesEx calls of its initial sync
	synced time.Duration // how long the initial sync took
}

// mirror keeps, per agent, the watched properties of every object in the
// inventory current with one incremental WaitForUpdatesEx long poll: the
// inventory index and the property mirror are the same filter. Reads are
// served from it only while it is alive and confirmed current within
// MaxAge; otherwise they go to vCenter.
//
// It runs while its store's role wants it (start, halt): each run builds
// its own generations, and a halted run removes them from vCenter.
//
// Values never go backwards: a reply never carries a property state
// older than one served before it (to a read that ended before it
// began), across generations, failed polls, direct reads and halts. Two
// stamps of a logical clock order what vCenter may have done: a
// generation's asOf, and when a direct read began and returned. A
// generation replacing a live one is installed only after the old one's
// poll stopped and one more WaitForUpdatesEx (MaxWaitSeconds 0) brought
// in every change made meanwhile; direct reads are filed in an overlay,
// which a mirror read prefers to a generation whose asOf is older; and a
// direct read that overlapped a change the mirror took in answers with
// the mirror's value (settle).
type mirror struct {
	c     Client
	log   *slog.Logger
	watch *watchSet
	opts  MirrorOptions
	now   func() time.Time
	clock atomic.Uint64 // the logical clock of stamps
	// joinDelay is the const joinDelay and retryDelay how long a
	// generation whose poll failed waits before the next is built (tests
	// shorten both).
	joinDelay, retryDelay time.Duration
	burst                 int // pollBurst (a test compares 1)
	// Test hooks, nil in production: built is called when a generation
	// has read its initial pages (before the catch-up wait), installed
	// when it serves, received when a WaitForUpdatesEx answered (before
	// the answer is applied) and applied after it was applied.
	built, installed, applied func(g *generation)
	received                  func(g *generation, set *types.UpdateSet)

	runs sync.WaitGroup // the runs under way, halted ones included

	mu      sync.RWMutex
	running bool
	epoch   uint64             // bumped by start and halt: a run installs only in its own epoch
	cancel  context.CancelFunc // ends the run
	serving *generation        // nil until the run's first sync; may be dead (resyncing)
	overlay map[types.ManagedObjectReference]*overlaid
	lastErr error
	syncs   int
	retired int
	first   time.Duration
	firstN  int
	updates rate
	synced  chan struct{} // closed when the run's first generation is installed
	changed uint64        // stamp of the latest install or halt: every object's view changed then
}

// overlaid is what direct reads returned of one object after the serving
// generation's asOf.
type overlaid struct {
	at    uint64 // the newest entry's stamp
	paths map[string]overlayEntry
}

// overlayEntry is one property as a direct read that returned at stamp
// at found it (set false: unset).
type overlayEntry struct {
	val any
	set bool
	at  uint64
}

func newMirror(c Client, log *slog.Logger, watch *watchSet, opts MirrorOptions, now func() time.Time) *mirror {
	return &mirror{c: c, log: log, watch: watch, opts: opts, now: now, joinDelay: joinDelay, retryDelay: time.Second,
		burst: pollBurst}
}

// stamp reads the logical clock: a stamp taken after another event
// ended is greater than one taken before that event began.
func (m *mirror) stamp() uint64 { return m.clock.Add(1) }

// start begins a run unless one runs; spawn runs it in the store's
// background. It never waits for vCenter.
func (m *mirror) start(spawn func(func(context.Context)) bool, parent context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running {
		return
	}
	ctx, cancel := context.WithCancel(parent)
	m.epoch++
	epoch := m.epoch
	m.runs.Add(1)
	if !spawn(func(context.Context) { defer m.runs.Done(); m.run(ctx, epoch) }) {
		m.runs.Done()
		cancel()
		return
	}
	m.running, m.cancel, m.synced = true, cancel, make(chan struct{})
}

// halt ends the run: reads stop being served from the mirror at once,
// and the run removes its collector and view from vCenter in the
// background. It never waits for vCenter.
func (m *mirror) halt() {
	m.mu.Lock()
	if !m.running {
		m.mu.Unlock()
		return
	}
	cancel := m.cancel
	m.running, m.cancel = false, nil
	m.epoch++
	m.serving, m.overlay, m.lastErr = nil, nil, nil
	m.changed = m.stamp()
	m.mu.Unlock()
	cancel()
}

// syncedChan is closed when the current run holds an inventory; nil
// without a run.
func (m *mirror) syncedChan() chan struct{} {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.running {
		return nil
	}
	return m.synced
}

// run builds generations and keeps the newest one polling until ctx ends.
func (m *mirror) run(ctx context.Context, epoch uint64) {
	var cur *generation
	defer func() {
		if cur != nil {
			m.stop(cur)
		}
	}()
	expire := time.NewTicker(expireEvery)
	defer expire.Stop()
	backoff := time.Second
	fail := func(err error) bool {
		if ctx.Err() != nil {
			return false
		}
		if path, ok := invalidProperty(err); ok && m.watch.reject(path) {
			m.log.Warn("vCenter refused a watched property; it is read directly from now on", slog.String("path", path))
			return true
		}
		m.setErr(epoch, err)
		m.log.Warn("property mirror: sync failed, retrying", slog.Any("error", err), slog.Duration("in", backoff))
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, 30*time.Second)
		return true
	}
	for ctx.Err() == nil {
		m.forgetIdle()
		g, err := m.build(ctx)
		if err != nil {
			if !fail(err) {
				return
			}
			continue
		}
		if m.built != nil {
			m.built(g)
		}
		// Whatever the old generation served happened before the
		// catch-up wait below begins: it then holds all of it.
		if cur != nil {
			m.pause(cur)
		}
		if err := m.catchUp(ctx, g); err != nil {
			m.destroy(g)
			if !fail(fmt.Errorf("initial property sync: %w", err)) {
				return
			}
			continue
		}
		backoff = time.Second
		if !m.install(g, epoch) {
			m.destroy(g)
			return
		}
		if m.installed != nil {
			m.installed(g)
		}
		if cur != nil {
			m.stop(cur)
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

// setErr records the run's latest failure unless the run was halted.
func (m *mirror) setErr(epoch uint64, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.epoch == epoch {
		m.lastErr = err
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
			if m.serving == g {
				m.lastErr = g.err
			}
			m.mu.Unlock()
			m.log.Warn("property mirror: update poll failed; reads go to vCenter until it is synced again", slog.Any("error", g.err))
			return sleep(ctx, m.retryDelay)
		case <-m.watch.kick:
			if !sleep(ctx, m.joinDelay) {
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

// build creates and syncs a generation for the current watched set (its
// initial pages; catchUp completes it).
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
	spec := filterSpec(g.view.Reference(), paths)
	g.inv.view = g.view.Reference()
	for _, t := range typeNames {
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
		_, truncated, err := m.next(ctx, g, m.opts.Wait)
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

// catchUp brings g up to date before it serves: one WaitForUpdatesEx
// that does not wait (and its pages), so that g holds every change made
// while its initial pages were read.
func (m *mirror) catchUp(ctx context.Context, g *generation) error {
	for {
		g.pages++
		_, truncated, err := m.next(ctx, g, 0)
		if err != nil {
			return err
		}
		if !truncated {
			return nil
		}
	}
}

// filterSpec is the mirror's filter: paths of every object of view, by
// type. It also follows the view's own member list: an object that left
// the view has left the inventory, even when its own leave is not
// reported (the simulator drops it when the view changes).
func filterSpec(view types.ManagedObjectReference, paths map[string][]string) types.PropertyFilterSpec {
	typeNames := make([]string, 0, len(paths))
	for t := range paths {
		typeNames = append(typeNames, t)
	}
	sort.Strings(typeNames)
	spec := types.PropertyFilterSpec{ObjectSet: []types.ObjectSpec{viewSpec(view, false)},
		PropSet: []types.PropertySpec{{Type: typeContainerVew, PathSet: []string{pathView}}}}
	for _, t := range typeNames {
		spec.PropSet = append(spec.PropSet, types.PropertySpec{Type: t, PathSet: paths[t]})
	}
	return spec
}

// viewSpec selects every object of a container view (and the view itself
// unless skip).
func viewSpec(v types.ManagedObjectReference, skip bool) types.ObjectSpec {
	return types.ObjectSpec{Obj: v, Skip: types.NewBool(skip),
		SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: typeContainerVew, Path: "view"}}}
}

// next is one WaitForUpdatesEx of g's collector from its version, for
// at most maxWait (0: report what is pending and return), applied to g.
// govmomi's property.Collector.WaitForUpdatesEx loops until a callback
// stops it and starts over from version "" (a full resync) each time a
// MaxWaitSeconds ends it; the mirror needs a bounded wait that proves it
// current and resumes from the version it has, so it makes the call
// itself on the collector govmomi created.
func (m *mirror) next(ctx context.Context, g *generation, maxWait time.Duration) (changed, truncated bool, err error) {
	if g.chain == 0 {
		g.chain = m.stamp()
	}
	w := int32(maxWait / time.Second)
	res, err := methods.WaitForUpdatesEx(ctx, g.vc, &types.WaitForUpdatesEx{This: g.pc.Reference(), Version: g.version,
		Options: &types.WaitOptions{MaxWaitSeconds: &w}})
	if err != nil {
		return false, false, err
	}
	set := res.Returnval
	if m.received != nil {
		m.received(g, set)
	}
	truncated, err = m.apply(g, set, m.now())
	if err == nil && set != nil && m.log.Enabled(ctx, slog.LevelDebug) {
		m.log.Debug("property mirror: updates", slog.String("summary", summarize(set)))
	}
	if m.applied != nil {
		m.applied(g)
	}
	return set != nil && len(set.FilterSet) > 0, truncated, err
}

// apply folds set into g (nil: nothing changed within the wait) and,
// unless more updates are pending (truncated), confirms g current at now
// and moves its asOf to the start of the chain of waits that just ended.
func (m *mirror) apply(g *generation, set *types.UpdateSet, now time.Time) (truncated bool, err error) {
	at := m.stamp()
	m.mu.Lock()
	defer m.mu.Unlock()
	if set != nil {
		n, err := g.inv.apply(set, m.watch.internPath, at)
		if err != nil {
			return false, err
		}
		g.version = set.Version
		m.updates.add(now, n)
		truncated = set.Truncated != nil && *set.Truncated
		if g == m.serving && len(m.overlay) > 0 && !g.confirm {
			g.confirm = m.hiddenLocked(g, set)
		}
	}
	if !truncated {
		g.confirmed = now
		g.asOf, g.chain = g.chain, 0
		if g == m.serving {
			m.pruneLocked(g.asOf)
		}
	}
	return truncated, nil
}

// poll keeps g current until an error or ctx ends. Its polls start at
// most pollBurst back to back and at most one per minPollGap sustained
// (the generic cell rate algorithm: tat is the theoretical start of the
// next poll at the sustained rate); the pages of a truncated answer are
// fetched at once.
func (m *mirror) poll(ctx context.Context, g *generation) error {
	var tat time.Time
	for {
		now := time.Now()
		tat = later(tat, now)
		if wait := tat.Sub(now) - time.Duration(m.burst-1)*minPollGap; wait > 0 {
			if !sleep(ctx, wait) {
				return ctx.Err()
			}
		}
		tat = tat.Add(minPollGap)
		m.mu.Lock()
		wait := m.opts.Wait
		if g.confirm { // a change is hidden behind newer direct reads: move asOf past them now
			wait, g.confirm = 0, false
		}
		m.mu.Unlock()
		for {
			_, truncated, err := m.next(ctx, g, wait)
			if err != nil {
				return fmt.Errorf("wait for property updates: %w", err)
			}
			if !truncated {
				break
			}
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// install makes g the serving generation unless the run that built it
// was halted (epoch): it then reports false.
func (m *mirror) install(g *generation, epoch uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.epoch != epoch {
		return false
	}
	if m.serving == nil {
		close(m.synced)
	}
	g.alive = true
	m.serving, m.lastErr = g, nil
	m.changed = m.stamp()
	m.pruneLocked(g.asOf)
	m.syncs++
	if m.syncs == 1 {
		m.first, m.firstN = g.synced, g.pages
	}
	m.log.Debug("property mirror synced", slog.Int("objects", len(g.inv.byRef)), slog.Duration("took", g.synced),
		slog.Int("pages", g.pages))
	return true
}

// pause ends g's poll (it then serves no more) and waits for it.
func (m *mirror) pause(g *generation) {
	if g.cancel != nil {
		g.cancel()
		<-g.done
	}
}

// stop ends g's poll and destroys its collector and view.
func (m *mirror) stop(g *generation) {
	m.pause(g)
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

// pickLocked is paths of o as a read of the mirror serves them: from the
// overlay where a direct read returned after g's asOf, else from g.
func (m *mirror) pickLocked(g *generation, o *object, paths []string) Values {
	ov := m.overlay[o.ref]
	if ov == nil || ov.at <= g.asOf {
		return pick(o.vals, paths)
	}
	out := make(Values, len(paths))
	for _, p := range paths {
		if e, ok := ov.paths[p]; ok && e.at > g.asOf {
			if e.set {
				out[p] = e.val
			}
		} else if v, ok := o.vals[p]; ok {
			out[p] = v
		}
	}
	return out
}

// newerLocked reports whether a direct read found ref after g's asOf,
// when g does not hold it: g may not serve its absence.
func (m *mirror) newerLocked(g *generation, ref types.ManagedObjectReference) bool {
	ov := m.overlay[ref]
	return ov != nil && ov.at > g.asOf
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
	g := m.serving
	o := g.inv.byRef[ref]
	if o == nil {
		if m.newerLocked(g, ref) {
			return nil, false, false
		}
		return nil, false, true
	}
	return m.pickLocked(g, o, paths), true, true
}

// many serves paths of every ref (objects the mirror does not hold are
// absent from the result), all or nothing.
func (m *mirror) many(refs []types.ManagedObjectReference, paths []string, now time.Time) (map[types.ManagedObjectReference]Values, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.freshLocked(now) {
		return nil, false
	}
	g := m.serving
	for _, r := range refs {
		if !g.covers(r.Type, paths) || g.inv.byRef[r] == nil && m.newerLocked(g, r) {
			return nil, false
		}
	}
	out := make(map[types.ManagedObjectReference]Values, len(refs))
	for _, r := range refs {
		if o := g.inv.byRef[r]; o != nil {
			out[r] = m.pickLocked(g, o, paths)
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
// paths: the index's values); served is false when paths cannot be
// served from the mirror, or (index only) it holds no inventory.
func (m *mirror) list(k *Kind, paths []string, now time.Time, indexOnly bool) (items []Item, served bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.serving
	if g == nil {
		return nil, false
	}
	if !indexOnly {
		if !m.freshLocked(now) {
			return nil, false
		}
		for _, t := range k.Types {
			if !g.covers(t, paths) {
				return nil, false
			}
		}
		for ref, ov := range m.overlay { // an object only a direct read knows yet
			if ov.at > g.asOf && k.Has(ref.Type) && g.inv.byRef[ref] == nil {
				return nil, false
			}
		}
	}
	for _, o := range g.inv.list(k) {
		if indexOnly {
			items = append(items, Item{Ref: o.ref, Values: pick(o.vals, indexPaths[o.ref.Type])})
		} else {
			items = append(items, Item{Ref: o.ref, Values: m.pickLocked(g, o, paths)})
		}
	}
	return items, true
}

// find resolves key in the newest inventory (which, while the mirror
// resyncs, is the last one synced: names rarely change, and a value read
// for a name that went stale fails as "not found"). held is false when
// the mirror holds no inventory (first sync, halted); current says
// whether it is current.
func (m *mirror) find(k *Kind, key string) (ref types.ManagedObjectReference, held, current bool, err error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.serving == nil {
		return types.ManagedObjectReference{}, false, false, nil
	}
	o, err := m.serving.inv.find(k, key)
	if err != nil {
		return types.ManagedObjectReference{}, true, m.freshLocked(m.now()), err
	}
	return o.ref, true, true, nil
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

// hiddenLocked reports whether set changed an object that has overlay
// entries newer than g's asOf: reads of g serve those entries rather than
// the change (a direct read cannot be placed before or after it) until a
// wait that begins now completes.
func (m *mirror) hiddenLocked(g *generation, set *types.UpdateSet) bool {
	for _, fs := range set.FilterSet {
		for _, ou := range fs.ObjectSet {
			if ov := m.overlay[ou.Obj]; ov != nil && ov.at > g.asOf {
				return true
			}
		}
	}
	return false
}

// forgetIdle bounds the overlay while no generation serves (a first sync,
// or syncs failing): a generation built from now on has an asOf past
// every entry filed before, so they are dropped; reads in flight then
// treat every object as changed (settle), so that an older one files
// nothing in their place.
func (m *mirror) forgetIdle() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.serving == nil && len(m.overlay) > 0 {
		m.changed = m.stamp()
		m.pruneLocked(m.changed)
	}
}

// pruneLocked drops overlay entries that a generation with asOf holds
// (their reads returned before it began); m.mu is held for writing.
func (m *mirror) pruneLocked(asOf uint64) {
	for ref, ov := range m.overlay {
		if ov.at <= asOf {
			delete(m.overlay, ref)
			continue
		}
		for p, e := range ov.paths {
			if e.at <= asOf {
				delete(ov.paths, p)
			}
		}
	}
}

// settle is the last step of a direct read of paths of the objects in
// got, begun at stamp began: it files what the read returned in the
// overlay, and replaces in got what must not be answered. Where the
// mirror's view of an object changed while the read was in flight (a
// generation applied a change to it or was installed, the mirror was
// halted, another direct read filed it), the read cannot tell whether it
// saw the state before or after that change: for such an object it
// answers, path by path, what a read of the mirror would serve now (at
// least as new as anything served; what it read where the mirror has no
// view), and files nothing, so that no later read of the mirror can be
// served an older state than one served meanwhile. Without a run there is
// nothing to keep in step with.
func (m *mirror) settle(got map[types.ManagedObjectReference]Values, paths []string, began uint64) {
	at := m.stamp()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.running {
		return
	}
	g := m.serving
	for ref, vals := range got {
		if !Mirrored(ref.Type) {
			continue
		}
		paths := paths
		if m.opts.Off {
			// Only the lookup paths are ever watched: no mirror read
			// serves the others, so the read's own value is the newest
			// there is (an earlier read's overlay entry would be older).
			paths = m.servablePaths(ref.Type, paths)
		}
		var o *object
		if g != nil {
			o = g.inv.byRef[ref]
		}
		ov := m.overlay[ref]
		if m.changed > began || o != nil && o.changed > began || ov != nil && ov.at > began {
			got[ref] = m.viewLocked(g, o, ov, ref, vals, paths)
			continue
		}
		if ov == nil {
			if m.overlay == nil {
				m.overlay = map[types.ManagedObjectReference]*overlaid{}
			}
			ov = &overlaid{paths: make(map[string]overlayEntry, len(paths))}
			m.overlay[ref] = ov
		}
		for _, p := range paths {
			if !WatchablePath(p) { // never in a filter: no mirror read serves it
				continue
			}
			v, set := vals[p]
			ov.paths[m.watch.internPath(p)] = overlayEntry{val: v, set: set, at: at}
		}
		ov.at = at
	}
}

// servablePaths is the part of paths a mirror that is Off serves for
// typ (its fixed paths).
func (m *mirror) servablePaths(typ string, paths []string) []string {
	var out []string
	for _, p := range paths {
		if m.watch.isFixed(typ, p) {
			out = append(out, p)
		}
	}
	return out
}

// viewLocked is vals with each path the mirror has a view of (an
// overlay entry it serves, or a value g watches) replaced by that view.
func (m *mirror) viewLocked(g *generation, o *object, ov *overlaid, ref types.ManagedObjectReference, vals Values, paths []string) Values {
	out := make(Values, len(vals))
	for p, v := range vals {
		out[p] = v
	}
	for _, p := range paths {
		var v any
		var set bool
		if e, ok := ov.lookup(p); ok && (g == nil || e.at > g.asOf) {
			v, set = e.val, e.set
		} else if o != nil && g.paths[ref.Type][p] {
			v, set = o.vals[p]
		} else {
			continue
		}
		if set {
			out[p] = v
		} else {
			delete(out, p)
		}
	}
	return out
}

// lookup is the entry for path p, if any.
func (ov *overlaid) lookup(p string) (overlayEntry, bool) {
	if ov == nil {
		return overlayEntry{}, false
	}
	e, ok := ov.paths[p]
	return e, ok
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
