package objects

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/internal/flight"
)

// The cold index answers lookups while the mirror holds no inventory:
// before its first sync completes (a first sync of 10,000 VMs takes
// seconds, a takeover under load must not wait for it) and in the passive
// role (no mirror at all). It is a snapshot of the index paths of every
// mirrored object, read with one RetrievePropertiesEx through a container
// view made for it (3 calls: create, retrieve, destroy), shared by
// concurrent lookups and reused while it is younger than indexMaxAge.
const (
	// indexMaxAge bounds the age of the snapshot a lookup is answered
	// from: a passive worker serving a spill costs one read per 30 s.
	indexMaxAge = 30 * time.Second
	// indexMissGap: a name the snapshot does not have is looked up in a
	// new one, unless the snapshot is younger than this (a burst of asks
	// for a deleted VM costs one read per gap, not one each).
	indexMissGap = 2 * time.Second
)

// indexSnapshot is the index paths of every mirrored object at one time.
type indexSnapshot struct {
	inv   *inventory
	taken time.Time // when its read began
}

// coldIndex holds the latest snapshot and shares its reads.
type coldIndex struct {
	c       Client
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
	flight  flight.Group[*indexSnapshot]

	mu    sync.Mutex
	snap  *indexSnapshot
	reads uint64
}

func newColdIndex(c Client, log *slog.Logger, timeout time.Duration, now func() time.Time) *coldIndex {
	return &coldIndex{c: c, log: log, timeout: timeout, now: now}
}

// get returns a snapshot taken at or after notBefore and younger than
// indexMaxAge, reading a new one when the latest is not: concurrent
// callers share that read. The read runs on its own time limit (the
// agent's call timeout), so that a caller giving up does not fail the
// others sharing it.
func (ci *coldIndex) get(ctx context.Context, notBefore time.Time) (*indexSnapshot, error) {
	for range 2 { // a shared read that began too early for us: once more
		ci.mu.Lock()
		cur := ci.snap
		ci.mu.Unlock()
		if cur != nil && !cur.taken.Before(notBefore) && ci.now().Sub(cur.taken) < indexMaxAge {
			return cur, nil
		}
		// A panicking read is the read's error (flight recovers it).
		r := ci.flight.Do(ctx, "index", "reading the inventory index", ci.log, flight.Detached(ctx, ci.timeout, ci.read))
		if r.Err != nil {
			return nil, r.Err
		}
		if !r.Val.taken.Before(notBefore) {
			return r.Val, nil
		}
	}
	return nil, fmt.Errorf("inventory index: no read began after %s", notBefore.Format(time.RFC3339Nano))
}

// read takes a snapshot and publishes it.
func (ci *coldIndex) read(ctx context.Context) (*indexSnapshot, error) {
	taken := ci.now()
	vc, err := ci.c.Client(ctx)
	if err != nil {
		return nil, err
	}
	typeNames := make([]string, 0, len(indexPaths))
	for t := range indexPaths {
		typeNames = append(typeNames, t)
	}
	sort.Strings(typeNames)
	v, err := view.NewManager(vc).CreateContainerView(ctx, vc.ServiceContent.RootFolder, typeNames, true)
	if err != nil {
		return nil, fmt.Errorf("read inventory index: create container view: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = v.Destroy(dctx)
	}()
	spec := types.PropertyFilterSpec{ObjectSet: []types.ObjectSpec{viewSpec(v.Reference(), true)}}
	for _, t := range typeNames {
		spec.PropSet = append(spec.PropSet, types.PropertySpec{Type: t, PathSet: indexPaths[t]})
	}
	res, err := property.DefaultCollector(vc).RetrieveProperties(ctx, types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{spec}})
	if err != nil {
		return nil, fmt.Errorf("read inventory index: %w", err)
	}
	snap := &indexSnapshot{inv: snapshotInventory(res.Returnval), taken: taken}
	ci.mu.Lock()
	ci.reads++
	if ci.snap == nil || ci.snap.taken.Before(taken) {
		ci.snap = snap
	}
	ci.mu.Unlock()
	return snap, nil
}

// snapshotInventory files retrieved objects in an inventory, in the order
// vCenter returned them (the discovery order of a snapshot).
func snapshotInventory(contents []types.ObjectContent) *inventory {
	inv := newInventory()
	for _, oc := range contents {
		o := inv.enter(oc.Obj)
		for _, p := range oc.PropSet {
			inv.set(o, p.Name, p.Val, p.Val == nil)
		}
	}
	return inv
}

// find resolves key from a snapshot, taking a new one when the name is
// unknown and the snapshot is older than indexMissGap.
func (ci *coldIndex) find(ctx context.Context, k *Kind, key string) (types.ManagedObjectReference, error) {
	began := ci.now()
	snap, err := ci.get(ctx, time.Time{})
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	o, err := snap.inv.find(k, key)
	if le, ok := err.(*LookupError); ok && len(le.Candidates) == 0 && began.Sub(snap.taken) > indexMissGap {
		if snap, err = ci.get(ctx, began.Add(-indexMissGap)); err != nil {
			return types.ManagedObjectReference{}, err
		}
		o, err = snap.inv.find(k, key)
	}
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	return o.ref, nil
}
