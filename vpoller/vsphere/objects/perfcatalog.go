package objects

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// perfRollups are the PerfSummaryType values vSphere uses as the last part
// of a counter name.
var perfRollups = map[string]bool{"average": true, "maximum": true, "minimum": true,
	"latest": true, "summation": true, "none": true}

// counterName is a performance counter named as vPoller names it:
// "<group>.<name>.<unit>.<rollup>", e.g. "cpu.usage.percent.average".
type counterName struct {
	Group, Name, Unit, Rollup string
}

func (c counterName) String() string {
	return c.Group + "." + c.Name + "." + c.Unit + "." + c.Rollup
}

// parseCounterName splits a vPoller counter name. The counter's own name
// may contain dots (group and unit keys and rollups never do), so the
// group is the first part and unit and rollup the last two. It rejects
// text that cannot name a counter, so that a malformed name never costs a
// catalogue refresh.
func parseCounterName(s string) (counterName, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 4 {
		return counterName{}, fmt.Errorf("counter name %q: want <group>.<name>.<unit>.<rollup>", s)
	}
	c := counterName{Group: parts[0], Name: strings.Join(parts[1:len(parts)-2], "."),
		Unit: parts[len(parts)-2], Rollup: parts[len(parts)-1]}
	for _, p := range parts {
		if p == "" || strings.TrimSpace(p) != p {
			return counterName{}, fmt.Errorf("counter name %q: empty or padded part", s)
		}
	}
	if !perfRollups[c.Rollup] {
		return counterName{}, fmt.Errorf("counter name %q: unknown rollup %q", s, c.Rollup)
	}
	return c, nil
}

// nameOfCounter builds the vPoller name of a catalogue entry.
func nameOfCounter(pc *types.PerfCounterInfo) string {
	key := func(d types.BaseElementDescription) string {
		if d == nil {
			return ""
		}
		return d.GetElementDescription().Key
	}
	return counterName{Group: key(pc.GroupInfo), Name: key(pc.NameInfo), Unit: key(pc.UnitInfo),
		Rollup: string(pc.RollupType)}.String()
}

// perfRefreshEvery limits catalogue reloads caused by unknown counter or
// interval names: vCenter's catalogue changes only with upgrades and
// plug-ins, and a client polling a misspelt counter must not reload it on
// every request.
const perfRefreshEvery = time.Minute

// Catalog caches an agent's performance counter catalogue and
// historical intervals (perfManager.perfCounter and .historicalInterval):
// loaded with one RetrievePropertiesEx on first use, reloaded on a name
// miss at most once per perfRefreshEvery. It also caches the perf
// provider summary (real-time support and refresh rate) per entity TYPE:
// vCenter gives every host and every VM the same one (real-time, 20 s),
// and every cluster, datastore and datacenter the same historical-only
// one, so asking per entity would cost one call per object for nothing.
type Catalog struct {
	c Client

	mu        sync.Mutex // held while loading: concurrent first users share one load
	loaded    time.Time
	counters  []types.PerfCounterInfo
	byName    map[string]int32
	byID      map[int32]string
	intervals []types.PerfInterval
	summaries map[string]types.PerfProviderSummary // by entity type
}

func newCatalog(c Client) *Catalog {
	return &Catalog{c: c, summaries: map[string]types.PerfProviderSummary{}}
}

// PerfManager is the agent's performance manager.
func (c *Catalog) PerfManager(ctx context.Context) (types.ManagedObjectReference, error) {
	vc, err := c.c.Client(ctx)
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	if vc.ServiceContent.PerfManager == nil {
		return types.ManagedObjectReference{}, errors.New("this vSphere agent has no performance manager")
	}
	return *vc.ServiceContent.PerfManager, nil
}

// loadLocked (re)reads the catalogue; c.mu is held.
func (c *Catalog) loadLocked(ctx context.Context) error {
	pm, err := c.PerfManager(ctx)
	if err != nil {
		return err
	}
	vc, err := c.c.Client(ctx)
	if err != nil {
		return err
	}
	vals, err := retrieve(ctx, vc, []types.ManagedObjectReference{pm}, []string{"perfCounter", "historicalInterval"})
	if err != nil {
		return fmt.Errorf("load performance counter catalogue: %w", err)
	}
	pv := vals[pm]
	var counters []types.PerfCounterInfo
	switch v := pv["perfCounter"].(type) {
	case types.ArrayOfPerfCounterInfo:
		counters = v.PerfCounterInfo
	case []types.PerfCounterInfo:
		counters = v
	}
	var intervals []types.PerfInterval
	switch v := pv["historicalInterval"].(type) {
	case types.ArrayOfPerfInterval:
		intervals = v.PerfInterval
	case []types.PerfInterval:
		intervals = v
	}
	c.counters, c.intervals = counters, intervals
	c.byName = make(map[string]int32, len(counters))
	c.byID = make(map[int32]string, len(counters))
	for i := range counters {
		n := nameOfCounter(&counters[i])
		c.byName[n] = counters[i].Key
		c.byID[counters[i].Key] = n
	}
	c.loaded = time.Now()
	return nil
}

// ensure loads the catalogue if it never was, or reloads it when stale
// is true and the last load is older than perfRefreshEvery. It reports
// whether it loaded.
func (c *Catalog) ensure(ctx context.Context, stale bool) (bool, error) {
	if c.loaded.IsZero() || (stale && time.Since(c.loaded) >= perfRefreshEvery) {
		return true, c.loadLocked(ctx)
	}
	return false, nil
}

// CounterID resolves a vPoller counter name; ok is false for an unknown
// (or malformed) name.
func (c *Catalog) CounterID(ctx context.Context, name string) (id int32, ok bool, err error) {
	_, perr := parseCounterName(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.ensure(ctx, false); err != nil {
		return 0, false, err
	}
	if id, ok := c.byName[name]; ok || perr != nil {
		return id, ok, nil
	}
	if loaded, err := c.ensure(ctx, true); err != nil || !loaded {
		return 0, false, err
	}
	id, ok = c.byName[name]
	return id, ok, nil
}

// CounterNames maps counter ids to vPoller names.
func (c *Catalog) CounterNames(ctx context.Context) (map[int32]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.ensure(ctx, false); err != nil {
		return nil, err
	}
	return c.byID, nil // replaced, never mutated, by loads
}

// Interval finds a historical interval by its (case-sensitive) name.
func (c *Catalog) Interval(ctx context.Context, name string) (types.PerfInterval, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Names match without regard to case: vCenter says "Past day", the
	// simulator "Past Day", and users write either.
	find := func() (types.PerfInterval, bool) {
		for _, iv := range c.intervals {
			if strings.EqualFold(strings.TrimSpace(iv.Name), strings.TrimSpace(name)) {
				return iv, true
			}
		}
		return types.PerfInterval{}, false
	}
	if _, err := c.ensure(ctx, false); err != nil {
		return types.PerfInterval{}, false, err
	}
	if iv, ok := find(); ok {
		return iv, true, nil
	}
	if loaded, err := c.ensure(ctx, true); err != nil || !loaded {
		return types.PerfInterval{}, false, err
	}
	iv, ok := find()
	return iv, ok, nil
}

// Historical tells whether samplingPeriod is one of the agent's
// historical intervals (300 s and longer on vCenter: statistics its
// database keeps) rather than a provider's realtime refresh rate (20 s:
// statistics the hosts keep in memory). vCenter limits the size of the
// first kind of query only (see packLimits).
func (c *Catalog) Historical(ctx context.Context, samplingPeriod int32) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.ensure(ctx, false); err != nil {
		return false, err
	}
	for _, iv := range c.intervals {
		if iv.SamplingPeriod == samplingPeriod {
			return true, nil
		}
	}
	return false, nil
}

// Reload forces a fresh load (perf.metric.info and perf.interval.info
// answer from vCenter, not from the cache) and returns the catalogue.
func (c *Catalog) Reload(ctx context.Context) ([]types.PerfCounterInfo, []types.PerfInterval, map[int32]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.loadLocked(ctx); err != nil {
		return nil, nil, nil, err
	}
	return c.counters, c.intervals, c.byID, nil
}

// Summary returns the perf provider summary of ref's type, asking vCenter
// for the first entity of a type only.
func (c *Catalog) Summary(ctx context.Context, ref types.ManagedObjectReference) (types.PerfProviderSummary, error) {
	c.mu.Lock()
	s, ok := c.summaries[ref.Type]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	pm, err := c.PerfManager(ctx)
	if err != nil {
		return s, err
	}
	vc, err := c.c.Client(ctx)
	if err != nil {
		return s, err
	}
	res, err := methods.QueryPerfProviderSummary(ctx, vc, &types.QueryPerfProviderSummary{This: pm, Entity: ref})
	if err != nil {
		return s, fmt.Errorf("query perf provider summary of %s: %w", ref.Value, err)
	}
	s = res.Returnval
	s.Entity = types.ManagedObjectReference{} // the type's, not this entity's
	c.mu.Lock()
	c.summaries[ref.Type] = s
	c.mu.Unlock()
	return s, nil
}
