package objects

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// SweepOptions tune the performance sweep. Zero values select the
// defaults.
type SweepOptions struct {
	// Off sends every performance query to vCenter when it is asked
	// (concurrent ones still share calls).
	Off bool
	// Expiry is how many of its own periods a series may go unasked
	// before it leaves the sweep (default 3).
	Expiry int
}

// DefaultSweepExpiry is SweepOptions.Expiry's default.
const DefaultSweepExpiry = 3

// Sample is one performance sample as vCenter timestamps it.
type Sample struct {
	Interval int32
	At       time.Time
	Value    int64
}

// PerfQuery asks for the newest MaxSample samples of one counter instance
// of one entity at one interval. vCenter's interval id is the interval's
// sampling period in seconds (20 for real time).
type PerfQuery struct {
	Ref       types.ManagedObjectReference
	Counter   int32
	Instance  string
	Interval  int32
	MaxSample int
}

type seriesKey struct {
	ref      types.ManagedObjectReference
	counter  int32
	instance string
}

// series is one (entity, counter, instance) of a lane: what clients ask,
// how often, and the samples of its latest fetch.
type series struct {
	maxSample int32
	askedAt   time.Time
	gap       time.Duration // between asks, smoothed; 0 = not known yet
	jitter    time.Duration // how far asks stray from the smoothed gap, smoothed
	fetchedAt time.Time
	fetched   int32 // MaxSample of the latest fetch
	samples   []Sample
	inflight  chan struct{} // closed when the call fetching it now is done (nil: none)
	fetching  int32         // MaxSample of that call
}

// lane is the sweep of one interval: its series, fetched in rounds one
// sample period apart.
type lane struct {
	interval int32
	period   time.Duration
	series   map[seriesKey]*series
	running  bool

	rounds, calls uint64
	lastRound     time.Duration
	lastCalls     int
	lastFetched   int
}

// sweep fetches every performance series clients ask for in rounds, one
// per sample period of the series' interval, each round packing its
// series into as few QueryPerf calls as the interval's pack size allows
// (perfBatcher.packSize).
// A series is fetched at the pace it is asked: in the round just before
// its client is expected back (a series asked every 60 s is fetched once
// per 60 s), and never more than once per sample period. Requests are
// answered from the latest round; a new series, or one whose latest fetch
// is too old, is fetched directly once (batched with concurrent ones).
type sweep struct {
	c     Client
	log   *slog.Logger
	perf  *Catalog
	perfQ *perfBatcher
	bg    *background
	opts  SweepOptions
	// now is the clock asks, fetches and rounds are timed on (time.Now;
	// a test's steps through the periods of a pace without waiting them).
	now func() time.Time

	mu           sync.Mutex
	lanes        map[int32]*lane
	left         map[seriesKey]time.Time // last ask of series that left, for a while
	hits, misses uint64
}

const (
	// unknownPace is the pace assumed, for expiry only, of a series asked
	// once so far: long enough for the next ask of a Zabbix item polled
	// every minute or two to find it still in the sweep.
	unknownPace = 2 * time.Minute
	// leftMemory is how long the last ask of a series that left is kept:
	// when it is asked again within it, it rejoins with its pace known.
	leftMemory = time.Hour
)

func newSweep(c Client, log *slog.Logger, perf *Catalog, perfQ *perfBatcher, bg *background, opts SweepOptions) *sweep {
	if opts.Expiry <= 0 {
		opts.Expiry = DefaultSweepExpiry
	}
	return &sweep{c: c, log: log, perf: perf, perfQ: perfQ, bg: bg, opts: opts, now: time.Now,
		lanes: map[int32]*lane{}, left: map[seriesKey]time.Time{}}
}

// slack is how early or late s's asks may come and still be answered
// from the fetch made for them: a quarter of the sample period for a
// client that keeps its pace, up to half a period for one whose asks
// stray (twice their smoothed deviation).
func (s *series) slack(period time.Duration) time.Duration {
	return min(max(2*s.jitter, period/4), period/2)
}

// fresh is how old a fetch may be and still answer: one sample period
// plus twice the slack (1.5 to 2 periods). vCenter adds one sample per
// period, so an answer is one, at most two, samples behind a direct
// query.
func (s *series) fresh(period time.Duration) time.Duration { return period + 2*s.slack(period) }

// get answers q from the sweep or fetches it. An ask finding its series'
// latest fetch too old (or a new series, or more samples than it holds)
// fetches it directly, batched with concurrent asks, and the series joins
// or stays; an ask for a series a round is fetching right now waits for
// that round's call instead.
func (sw *sweep) get(ctx context.Context, q PerfQuery) ([]Sample, error) {
	if q.MaxSample <= 0 {
		q.MaxSample = 1
	}
	direct := func() ([]Sample, error) {
		return sw.perfQ.query(ctx, &perfRead{ref: q.Ref, counter: q.Counter, instance: q.Instance, maxSample: int32(q.MaxSample)}, q.Interval)
	}
	if sw.opts.Off {
		return direct()
	}
	now := sw.now()
	k := seriesKey{q.Ref, q.Counter, q.Instance}
	want := int32(q.MaxSample)
	for try := 0; try < 2; try++ {
		sw.mu.Lock()
		l := sw.lanes[q.Interval]
		var s *series
		if l != nil {
			s = l.series[k]
		}
		if s == nil {
			sw.mu.Unlock()
			break
		}
		if try == 0 {
			s.ask(now, want)
		}
		if sw.now().Sub(s.fetchedAt) <= s.fresh(l.period) && s.fetched >= want {
			if try == 0 {
				sw.hits++
			} else {
				sw.misses++
			}
			out := newest(s.samples, q.MaxSample)
			sw.mu.Unlock()
			return out, nil
		}
		if s.inflight == nil || s.fetching < want {
			sw.mu.Unlock()
			break
		}
		ch := s.inflight
		sw.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	sw.mu.Lock()
	sw.misses++
	sw.mu.Unlock()
	samples, err := direct()
	if err != nil {
		return nil, err
	}
	sw.store(q, samples, now)
	return samples, nil
}

// ask records a client's ask: its time, the gap since the previous one
// (asks less than a second apart are the same poll) and the samples it
// wants. The gap is smoothed: a client polls at a fixed pace, but where
// its ask falls within a burst of asks varies from poll to poll; a gap
// far from the smoothed one is a new pace and replaces it.
func (s *series) ask(now time.Time, maxSample int32) {
	if d := now.Sub(s.askedAt); d >= time.Second {
		switch {
		case s.askedAt.IsZero():
		case s.gap == 0 || d > 2*s.gap || 2*d < s.gap:
			s.gap, s.jitter = d, 0
		default:
			off := d - s.gap
			if off < 0 {
				off = -off
			}
			s.gap = (3*s.gap + d) / 4
			s.jitter = (3*s.jitter + off) / 4
		}
		s.askedAt = now
	}
	s.maxSample = max(s.maxSample, maxSample)
}

// newest returns the n newest samples, oldest first.
func newest(samples []Sample, n int) []Sample {
	if len(samples) > n {
		samples = samples[len(samples)-n:]
	}
	return append([]Sample(nil), samples...)
}

// store files the samples of a direct fetch made at when and makes sure
// the series' lane runs.
func (sw *sweep) store(q PerfQuery, samples []Sample, when time.Time) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	l := sw.lanes[q.Interval]
	if l == nil {
		l = &lane{interval: q.Interval, period: time.Duration(q.Interval) * time.Second, series: map[seriesKey]*series{}}
		sw.lanes[q.Interval] = l
	}
	k := seriesKey{q.Ref, q.Counter, q.Instance}
	s := l.series[k]
	if s == nil {
		s = &series{}
		if at, ok := sw.left[k]; ok && when.Sub(at) <= leftMemory {
			s.askedAt = at // the ask below learns the pace
		}
		delete(sw.left, k)
		l.series[k] = s
		s.ask(when, int32(q.MaxSample))
	}
	if when.After(s.fetchedAt) {
		s.fetchedAt, s.fetched, s.samples = when, int32(q.MaxSample), samples
	}
	if !l.running && l.period > 0 && sw.bg.spawn(func(ctx context.Context) { sw.run(ctx, l) }) {
		l.running = true
	}
}

// run is a lane's round loop; it ends when the lane has no series left.
func (sw *sweep) run(ctx context.Context, l *lane) {
	t := time.NewTicker(l.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !sw.round(ctx, l) {
			return
		}
	}
}

// round fetches the lane's due series, packed up to the interval's pack
// size; it returns false when the lane is empty (its loop then ends).
func (sw *sweep) round(ctx context.Context, l *lane) bool {
	limit := sw.perfQ.packSize(ctx, l.interval)
	sw.mu.Lock()
	due, ok := sw.dueLocked(l, sw.now())
	var calls []perfCall
	if ok && len(due) > 0 {
		calls = sw.claimLocked(l, due, limit)
	}
	sw.mu.Unlock()
	if !ok {
		return false
	}
	if len(calls) > 0 {
		start := time.Now()
		n := sw.fetch(ctx, l, calls)
		sw.mu.Lock()
		l.rounds++
		l.lastRound, l.lastCalls, l.lastFetched = time.Since(start), n, len(due)
		sw.mu.Unlock()
	}
	return true
}

// dueSeries is one series a round fetches.
type dueSeries struct {
	key       seriesKey
	maxSample int32
}

// dueLocked drops the series nobody asks for any more and returns those
// this round fetches; ok is false when the lane is empty (it then stops).
func (sw *sweep) dueLocked(l *lane, now time.Time) (out []dueSeries, ok bool) {
	for k, at := range sw.left {
		if now.Sub(at) > leftMemory {
			delete(sw.left, k)
		}
	}
	for k, s := range l.series {
		pace := max(s.gap, l.period)
		if s.gap == 0 {
			pace = max(pace, unknownPace)
		}
		if now.Sub(s.askedAt) > time.Duration(sw.opts.Expiry)*pace {
			delete(l.series, k)
			sw.left[k] = s.askedAt
			continue
		}
		if s.inflight == nil && s.isDue(now, l.period) {
			out = append(out, dueSeries{key: k, maxSample: max(s.maxSample, 1)})
		}
	}
	if len(l.series) == 0 {
		l.running = false
		return nil, false
	}
	return out, true
}

// isDue tells whether a round at now should fetch s. Its pace unknown
// yet, or faster than about a period, every round. Otherwise in the one
// round ahead of its client's expected ask that leaves the fetch fresh
// then: the expected ask within lead (a period plus the slack, for asks
// that come a little early or late: the fetch is then between slack and
// lead before the expected ask, fresh until slack after it) and the
// latest fetch not already that close before it. A client that is late
// is served at its own pace until the series expires. Never twice within
// half a period (after a direct fetch, say).
func (s *series) isDue(now time.Time, period time.Duration) bool {
	if now.Sub(s.fetchedAt) < period/2 {
		return false
	}
	lead := period + s.slack(period)
	if s.gap < lead {
		return true
	}
	next := s.askedAt.Add(s.gap)
	if now.Sub(next) > period { // overdue
		return now.Sub(s.fetchedAt) >= s.gap
	}
	return next.Sub(now) <= lead && next.Sub(s.fetchedAt) > lead
}

// perfCall is one QueryPerf of the sweep.
type perfCall struct {
	specs []types.PerfQuerySpec
	keys  [][]seriesKey // per spec, the series of its metric ids
	done  chan struct{} // closed when it is answered or failed
}

// pack groups due series by entity and packs them into calls of at most
// limit metrics each (an entity's metrics may span two calls).
func pack(due []dueSeries, interval int32, limit int) []perfCall {
	sort.Slice(due, func(i, j int) bool {
		a, b := due[i].key, due[j].key
		if a.ref.Value != b.ref.Value {
			return a.ref.Value < b.ref.Value
		}
		if a.counter != b.counter {
			return a.counter < b.counter
		}
		return a.instance < b.instance
	})
	var calls []perfCall
	var cur perfCall
	used := 0
	flush := func() {
		if used > 0 {
			calls = append(calls, cur)
		}
		cur, used = perfCall{}, 0
	}
	for i := 0; i < len(due); {
		j := i
		maxSample := int32(1)
		for j < len(due) && due[j].key.ref == due[i].key.ref {
			maxSample = max(maxSample, due[j].maxSample)
			j++
		}
		for i < j {
			if used == limit {
				flush()
			}
			n := min(j-i, limit-used)
			spec := types.PerfQuerySpec{Entity: due[i].key.ref, IntervalId: interval, MaxSample: maxSample}
			var keys []seriesKey
			for _, d := range due[i : i+n] {
				spec.MetricId = append(spec.MetricId, types.PerfMetricId{CounterId: d.key.counter, Instance: d.key.instance})
				keys = append(keys, d.key)
			}
			cur.specs = append(cur.specs, spec)
			cur.keys = append(cur.keys, keys)
			used += n
			i += n
		}
	}
	flush()
	return calls
}

// claimLocked packs due series into calls and marks them in flight.
func (sw *sweep) claimLocked(l *lane, due []dueSeries, limit int) []perfCall {
	calls := pack(due, l.interval, limit)
	for i := range calls {
		calls[i].done = make(chan struct{})
		for j, keys := range calls[i].keys {
			for _, k := range keys {
				if s := l.series[k]; s != nil {
					s.inflight, s.fetching = calls[i].done, calls[i].specs[j].MaxSample
				}
			}
		}
	}
	return calls
}

// fetch makes the calls one after another and files their samples; it
// returns the number of QueryPerf calls made. A call whose entity no
// longer exists is made again without it.
func (sw *sweep) fetch(ctx context.Context, l *lane, calls []perfCall) (n int) {
	defer func() {
		sw.mu.Lock()
		l.calls += uint64(n)
		for _, c := range calls { // whatever was not answered
			sw.releaseLocked(l, c)
		}
		sw.mu.Unlock()
	}()
	pm, err := sw.perf.PerfManager(ctx)
	if err != nil {
		return 0
	}
	vc, err := sw.c.Client(ctx)
	if err != nil {
		return 0
	}
	for _, c := range calls {
		n += sw.call(ctx, vc, pm, l, c)
		sw.mu.Lock()
		sw.releaseLocked(l, c)
		sw.mu.Unlock()
	}
	return n
}

// call makes one call of a round (the call count it took): a call whose
// entity no longer exists is made again without it; one vCenter refuses
// for its size goes again in smaller calls (perfBatcher.shrink), as do
// the lane's next rounds.
func (sw *sweep) call(ctx context.Context, vc *vim25.Client, pm types.ManagedObjectReference, l *lane, c perfCall) (n int) {
	for len(c.specs) > 0 {
		when := sw.now()
		n++
		res, err := methods.QueryPerf(ctx, vc, &types.QueryPerf{This: pm, QuerySpec: c.specs})
		if err == nil {
			sw.deliver(l, c, res.Returnval, when)
			return n
		}
		if limitFault(err) {
			if size, ok := sw.perfQ.shrink(l.interval, c.metrics()); ok {
				for _, part := range c.split(size) {
					n += sw.call(ctx, vc, pm, l, part)
				}
				return n
			}
		}
		gone, ok := goneEntity(err)
		if !ok || !c.drop(gone) {
			if ctx.Err() == nil {
				sw.log.Warn("performance sweep: QueryPerf failed; its series are fetched on demand",
					slog.Int("interval", int(l.interval)), slog.Any("error", err))
			}
			return n
		}
		sw.forget(l, gone)
	}
	return n
}

// metrics is the number of metric ids c carries.
func (c perfCall) metrics() int {
	n := 0
	for _, s := range c.specs {
		n += len(s.MetricId)
	}
	return n
}

// split repacks c into calls of at most size metric ids (an entity's
// spec may span two); they share c's done, which the round closes once
// all are made.
func (c perfCall) split(size int) []perfCall {
	var out []perfCall
	cur, used := perfCall{done: c.done}, 0
	for i, spec := range c.specs {
		ids, keys := spec.MetricId, c.keys[i]
		for len(ids) > 0 {
			if used == size {
				out = append(out, cur)
				cur, used = perfCall{done: c.done}, 0
			}
			k := min(len(ids), size-used)
			part := spec
			part.MetricId = ids[:k:k]
			cur.specs = append(cur.specs, part)
			cur.keys = append(cur.keys, keys[:k:k])
			ids, keys, used = ids[k:], keys[k:], used+k
		}
	}
	if used > 0 {
		out = append(out, cur)
	}
	return out
}

// releaseLocked ends c: its series are no longer in flight, and whoever
// waits for them looks again.
func (sw *sweep) releaseLocked(l *lane, c perfCall) {
	select {
	case <-c.done:
		return
	default:
	}
	for _, keys := range c.keys {
		for _, k := range keys {
			if s := l.series[k]; s != nil && s.inflight == c.done {
				s.inflight = nil
			}
		}
	}
	close(c.done)
}

// goneEntity is the object of a ManagedObjectNotFound fault.
func goneEntity(err error) (types.ManagedObjectReference, bool) {
	if !soap.IsSoapFault(err) {
		return types.ManagedObjectReference{}, false
	}
	switch f := soap.ToSoapFault(err).VimFault().(type) {
	case *types.ManagedObjectNotFound:
		return f.Obj, true
	case types.ManagedObjectNotFound:
		return f.Obj, true
	}
	return types.ManagedObjectReference{}, false
}

// drop removes the specs of an entity from the call; it reports whether
// there was one.
func (c *perfCall) drop(ref types.ManagedObjectReference) bool {
	found := false
	for i := 0; i < len(c.specs); {
		if c.specs[i].Entity == ref {
			c.specs = append(c.specs[:i], c.specs[i+1:]...)
			c.keys = append(c.keys[:i], c.keys[i+1:]...)
			found = true
			continue
		}
		i++
	}
	return found
}

// forget removes an entity's series (it no longer exists).
func (sw *sweep) forget(l *lane, ref types.ManagedObjectReference) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	for k := range l.series {
		if k.ref == ref {
			delete(l.series, k)
		}
	}
}

// deliver files a call's results in its series.
func (sw *sweep) deliver(l *lane, c perfCall, res []types.BasePerfEntityMetricBase, when time.Time) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	for i, spec := range c.specs {
		for _, k := range c.keys[i] {
			s := l.series[k]
			if s == nil || !when.After(s.fetchedAt) {
				continue
			}
			s.fetchedAt, s.fetched, s.samples = when, spec.MaxSample, samplesOf(res, k.ref, k.counter, k.instance)
		}
	}
}
