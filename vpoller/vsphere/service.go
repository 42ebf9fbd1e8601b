package vsphere

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/flight"
	"github.com/vpoller/zabbix-vpoller/internal/guard"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

// Messages of the original worker that Execute produces itself.
const (
	MsgUnknownMethod = "Unknown or missing task/method name"
	MsgUnknownAgent  = "Unknown or missing agent name"
)

// Service answers vPoller requests for a set of vSphere agents. It is
// what a worker process holds: one session, mirror and sweep per agent,
// shared by all requests, and coalescing of identical requests in flight.
// Update changes the set while requests run (a worker's reload).
type Service struct {
	opts Options
	log  *slog.Logger

	updating sync.Mutex // one Update at a time
	mu       sync.RWMutex
	agents   map[string]*Agent
	names    []string
	// retired holds the counters of agents removed or replaced by
	// Update, so that the totals of Stats never go back.
	retired Stats
	closed  bool
	// unavailable names vCenters configured but not served (a file the
	// worker may not read), with the reason requests for them get.
	unavailable map[string]string
	// closing tracks agents Update took out, logging out in the
	// background; Close waits for them.
	closing sync.WaitGroup

	flight flight.Group[*vpoller.Response]
	// trackers holds, per execution in flight (its flight key), what its
	// reads are waiting on, so that a request giving up on it can say.
	trackers sync.Map

	requests, coalesced atomic.Uint64

	unknown unknownLog // requests for names no agent has

	closeOnce sync.Once
}

// NewService validates the agent configuration and prepares the agents.
// It does no network work: each agent connects (or starts its simulator)
// on its first request.
func NewService(cfgs []AgentConfig, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{agents: map[string]*Agent{}, log: opts.Logger, opts: opts, retired: Stats{Calls: map[string]uint64{}}}
	for _, c := range cfgs {
		c, err := c.WithDefaults()
		if err != nil {
			return nil, fmt.Errorf("vsphere: %w", err)
		}
		if _, dup := s.agents[c.Name]; dup {
			return nil, fmt.Errorf("vsphere: agent %s configured twice", c.Name)
		}
		a, err := newAgent(c, opts)
		if err != nil {
			return nil, fmt.Errorf("vsphere: agent %s: %w", c.Name, err)
		}
		s.agents[c.Name] = a
		s.names = append(s.names, c.Name)
	}
	sort.Strings(s.names)
	return s, nil
}

// Agents returns the configured agent names, sorted.
func (s *Service) Agents() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string(nil), s.names...)
}

// Agent returns a configured agent by name, for tests and tools.
func (s *Service) Agent(name string) (*Agent, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.agents[name]
	return a, ok
}

// Configs returns the agents' configurations as served (defaults
// applied), sorted by name. Their passwords are there: log them only
// through their LogValue.
func (s *Service) Configs() []AgentConfig {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]AgentConfig, 0, len(s.names))
	for _, n := range s.names {
		out = append(out, s.agents[n].cfg)
	}
	return out
}

// SetUnavailable records vCenters the worker is configured for but cannot
// serve (their file cannot be read), each with the reason: a request for
// one is answered with it instead of MsgUnknownAgent, so that the admin
// reads which file and what fix. A name also served is not affected.
func (s *Service) SetUnavailable(reasons map[string]string) {
	m := make(map[string]string, len(reasons))
	for n, why := range reasons {
		m[n] = why
	}
	s.mu.Lock()
	s.unavailable = m
	s.mu.Unlock()
}

// Unavailable returns what SetUnavailable recorded, by name.
func (s *Service) Unavailable() map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := make(map[string]string, len(s.unavailable))
	for n, why := range s.unavailable {
		m[n] = why
	}
	return m
}

// Change is what Update did, by agent name (each list sorted).
type Change struct {
	Added, Removed, Changed []string
}

// Empty reports whether Update changed nothing.
func (c Change) Empty() bool { return len(c.Added)+len(c.Removed)+len(c.Changed) == 0 }

// Update makes the service serve exactly cfgs, while requests run: an
// agent whose configuration is unchanged keeps its session, mirror and
// sweep; a new one is added (it connects on its first request, as in
// NewService); one no longer in cfgs is removed; one whose configuration
// differs is replaced by a new agent (new session; its role carries
// over). Removed and replaced agents log out in the background (Close
// waits for them); requests still running on them end with their
// session. cfgs is checked first as NewService checks it: on an error
// nothing changes.
func (s *Service) Update(cfgs []AgentConfig) (Change, error) {
	s.updating.Lock()
	defer s.updating.Unlock()
	want := make(map[string]AgentConfig, len(cfgs))
	for _, c := range cfgs {
		c, err := c.WithDefaults()
		if err != nil {
			return Change{}, fmt.Errorf("vsphere: %w", err)
		}
		if _, dup := want[c.Name]; dup {
			return Change{}, fmt.Errorf("vsphere: agent %s configured twice", c.Name)
		}
		want[c.Name] = c
	}
	s.mu.RLock()
	fresh := map[string]*Agent{}
	var ch Change
	for name, c := range want {
		old, ok := s.agents[name]
		if ok && old.cfg == c {
			continue
		}
		a, err := newAgent(c, s.opts)
		if err != nil {
			s.mu.RUnlock()
			for _, a := range fresh {
				a.close()
			}
			return Change{}, fmt.Errorf("vsphere: agent %s: %w", name, err)
		}
		fresh[name] = a
	}
	s.mu.RUnlock()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		for _, a := range fresh {
			a.close()
		}
		return Change{}, errors.New("vsphere: service closed")
	}
	var out []*Agent
	for name, a := range fresh {
		if old, ok := s.agents[name]; ok {
			if r := old.store.Role(); r != objects.RoleAuto {
				a.store.SetRole(r)
			}
			out = append(out, old)
			ch.Changed = append(ch.Changed, name)
		} else {
			ch.Added = append(ch.Added, name)
		}
		s.agents[name] = a
	}
	for name, a := range s.agents {
		if _, keep := want[name]; !keep {
			out = append(out, a)
			delete(s.agents, name)
			ch.Removed = append(ch.Removed, name)
		}
	}
	s.names = s.names[:0]
	for name := range s.agents {
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	for _, a := range out {
		s.retire(a)
	}
	s.mu.Unlock()
	sort.Strings(ch.Added)
	sort.Strings(ch.Removed)
	sort.Strings(ch.Changed)
	return ch, nil
}

// retire adds a's counters to the retired totals and closes it in the
// background (locked).
func (s *Service) retire(a *Agent) {
	st := a.sess.Stats()
	s.retired.SOAPCalls += st.SOAPCalls
	s.retired.Logins += st.Logins
	s.retired.RESTCalls += st.RESTCalls
	for m, n := range st.Calls {
		s.retired.Calls[m] += n
	}
	s.closing.Go(a.close)
}

// Stats are the service's counters since NewService. Benchmarks and the
// worker's status report read them to show what vCenter pays.
type Stats struct {
	// Requests is the number of Execute calls.
	Requests uint64
	// Coalesced counts requests that shared an identical request's
	// vCenter work instead of doing their own.
	Coalesced uint64
	// SOAPCalls is every SOAP call made to any agent, including logins
	// and the mirrors' long polls; Calls breaks it down by SOAP method.
	SOAPCalls uint64
	Calls     map[string]uint64
	// Logins counts successful logins (first ones and re-logins).
	Logins uint64
	// RESTCalls is every vAPI (REST) request made to any agent (tags),
	// logins included.
	RESTCalls uint64
	// Agents holds each agent's figures by agent name.
	Agents map[string]AgentStats
}

// AgentStats are one agent's figures.
type AgentStats struct {
	Session session.Stats
	Objects objects.Stats
}

// Stats returns the counters since NewService.
func (s *Service) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := Stats{Requests: s.requests.Load(), Coalesced: s.coalesced.Load(), Calls: map[string]uint64{},
		Agents: map[string]AgentStats{}, SOAPCalls: s.retired.SOAPCalls, Logins: s.retired.Logins, RESTCalls: s.retired.RESTCalls}
	for m, n := range s.retired.Calls {
		st.Calls[m] = n
	}
	for _, name := range s.names {
		a := s.agents[name]
		as := AgentStats{Session: a.sess.Stats(), Objects: a.store.Stats()}
		st.Agents[name] = as
		st.SOAPCalls += as.Session.SOAPCalls
		st.Logins += as.Session.Logins
		st.RESTCalls += as.Session.RESTCalls
		for m, n := range as.Session.Calls {
			st.Calls[m] += n
		}
	}
	return st
}

// Execute answers one request. It never panics and always returns a
// reply: checks happen in the original worker's order (method, agent,
// required keys), then the method runs; a panic in a method becomes that
// request's "Task <method> failed" reply with the stack as traceback.
// Identical requests in flight (same CacheKey) share one execution,
// except for the fresh methods. The returned Response must be treated
// as read-only (its Result may be shared with other callers).
func (s *Service) Execute(ctx context.Context, req *vpoller.Request) *vpoller.Response {
	seq := s.requests.Add(1)
	if req == nil {
		return vpoller.Fail(MsgUnknownMethod)
	}
	h, ok := handlerOf(req.Method)
	mi, known := vpoller.Method(req.Method)
	if !ok || !known {
		return vpoller.Fail(MsgUnknownMethod)
	}
	a, ok := s.Agent(req.Hostname)
	if !ok {
		s.mu.RLock()
		why, known := s.unavailable[req.Hostname]
		s.mu.RUnlock()
		if known {
			return vpoller.Fail(why)
		}
		names := s.Agents() // a copy: a reload (Update) replaces them
		s.unknown.note(s.log, req.Hostname, names, time.Now())
		return unknownAgentReply(req.Hostname, names)
	}
	if mi.Missing(req) != "" {
		return vpoller.Fail(vpoller.MsgInvalidTask)
	}
	key := req.CacheKey()
	if fresh(mi) {
		key += "\x00" + strconv.FormatUint(seq, 10) // an execution of its own
	}
	// A panic outside the method's own guard (s.run) is this execution's
	// error for every caller sharing it (flight recovers and logs it).
	r := s.flight.Do(ctx, key, "executing a vPoller request", s.log, func() (*vpoller.Response, error) {
		// The shared work outlives any one caller giving up; every SOAP
		// call still has the agent's timeout.
		ectx, tr := objects.WithTracker(context.WithoutCancel(ctx))
		s.trackers.Store(key, tr)
		defer s.trackers.Delete(key)
		return s.run(ectx, a, h, req), nil
	})
	if r.GaveUp {
		// Named, with why: "Task <method> failed" would hide both in a
		// traceback Zabbix does not show.
		cause := s.gaveUp(key, r.Err)
		return &vpoller.Response{Success: 1, Msg: fmt.Sprintf("vSphere agent %s did not answer in time: %v", req.Hostname, cause), Cause: cause}
	}
	if !r.Ran {
		s.coalesced.Add(1)
	}
	if r.Err != nil {
		traceback := r.Err.Error()
		if pe := (*guard.PanicError)(nil); errors.As(r.Err, &pe) {
			traceback += "\n\n" + pe.Stack
		}
		return vpoller.TaskFailed(req.Method, traceback, nil)
	}
	resp := *r.Val
	return &resp
}

// gaveUp is the cause of a request that stopped waiting for its
// execution: an *objects.WaitError when the execution was then waiting on
// the agent's own work (a read queued behind another call), which says
// nothing about vCenter (Unreachable is false for it); otherwise cause.
func (s *Service) gaveUp(key string, cause error) error {
	if v, ok := s.trackers.Load(key); ok && v.(*objects.Tracker).Waiting() {
		return &objects.WaitError{On: "the agent's own work", Err: cause}
	}
	return cause
}

// SetRole sets an agent's role (objects.Store.SetRole): the worker's
// lever to keep a vCenter's mirror and sweep in one worker (the owner),
// warm in another (standby), and in no other (passive). It never waits
// for vCenter.
func (s *Service) SetRole(agent string, r objects.Role) error {
	a, ok := s.Agent(agent)
	if !ok {
		return fmt.Errorf("vsphere: set role %s: unknown agent %q", r, agent)
	}
	if !r.Valid() {
		return fmt.Errorf("vsphere: agent %s: invalid role %s", agent, r)
	}
	a.store.SetRole(r)
	return nil
}

func (s *Service) run(ctx context.Context, a *Agent, h Handler, req *vpoller.Request) *vpoller.Response {
	return vpoller.Guard(req.Method, s.log, func() *vpoller.Response { return h(ctx, a, req) })
}

// Close stops every agent's mirror and sweep, logs out of its session and
// stops embedded simulators. Requests after Close fail.
func (s *Service) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		agents := make([]*Agent, 0, len(s.agents))
		for _, a := range s.agents {
			agents = append(agents, a)
		}
		s.mu.Unlock()
		var wg sync.WaitGroup
		for _, a := range agents {
			wg.Go(a.close)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); s.closing.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
		}
	})
	return ctx.Err()
}

// Object renders an agent's figures for the worker's status: what the
// mirror holds and how current it is, what the sweep fetches and what it
// cost, every SOAP call by method since start, and the vAPI (REST)
// session's logins and calls.
func (s AgentStats) Object() vpoller.Object {
	m, sw := s.Objects.Mirror, s.Objects.Sweep
	types := make([]string, 0, len(m.WatchedPaths))
	for t := range m.WatchedPaths {
		types = append(types, t)
	}
	sort.Strings(types)
	watched := vpoller.Object{}
	for _, t := range types {
		watched = append(watched, vpoller.Field{Key: t, Value: int64(m.WatchedPaths[t])})
	}
	methods := make([]string, 0, len(s.Session.Calls))
	for k := range s.Session.Calls {
		methods = append(methods, k)
	}
	sort.Strings(methods)
	calls := vpoller.Object{}
	for _, k := range methods {
		calls = append(calls, vpoller.Field{Key: k, Value: s.Session.Calls[k]})
	}
	restNames := make([]string, 0, len(s.Session.RESTCallsByName))
	for k := range s.Session.RESTCallsByName {
		restNames = append(restNames, k)
	}
	sort.Strings(restNames)
	restCalls := vpoller.Object{}
	for _, k := range restNames {
		restCalls = append(restCalls, vpoller.Field{Key: k, Value: s.Session.RESTCallsByName[k]})
	}
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	return vpoller.Object{
		{Key: "mirror", Value: m.State},
		{Key: "role", Value: s.Objects.Role.String()},
		{Key: "objects", Value: int64(m.Objects)},
		{Key: "watched_paths", Value: watched},
		{Key: "mirror_lag_ms", Value: ms(m.Lag)},
		{Key: "updates_per_s", Value: float64(int64(m.UpdatesPerSecond*100+0.5)) / 100},
		{Key: "updates", Value: m.Updates},
		{Key: "syncs", Value: int64(m.Syncs)},
		{Key: "first_sync_ms", Value: ms(m.FirstSync)},
		{Key: "first_sync_calls", Value: int64(m.FirstSyncCalls)},
		{Key: "index_reads", Value: m.IndexReads},
		{Key: "reads_from_mirror", Value: m.Served},
		{Key: "reads_from_vcenter", Value: m.Direct},
		{Key: "sweep_series", Value: int64(sw.Series)},
		{Key: "sweep_rounds", Value: sw.Rounds},
		{Key: "sweep_calls", Value: sw.Calls},
		{Key: "sweep_last_round_ms", Value: ms(sw.LastRound)},
		{Key: "sweep_last_round_calls", Value: int64(sw.LastRoundCalls)},
		{Key: "sweep_last_round_series", Value: int64(sw.LastRoundSeries)},
		{Key: "sweep_hits", Value: sw.Hits},
		{Key: "sweep_misses", Value: sw.Misses},
		{Key: "logins", Value: s.Session.Logins},
		{Key: "failed_logins", Value: s.Session.FailedLogins},
		{Key: "next_login_at", Value: nextLogin(s.Session.NextLoginAt)},
		{Key: "soap_calls", Value: s.Session.SOAPCalls},
		{Key: "soap_calls_by_method", Value: calls},
		{Key: "rest_logins", Value: s.Session.RESTLogins},
		{Key: "rest_calls", Value: s.Session.RESTCalls},
		{Key: "rest_calls_by_name", Value: restCalls},
	}
}

// AgentsObject renders every agent's figures, by agent name.
func (st Stats) AgentsObject() vpoller.Object {
	names := make([]string, 0, len(st.Agents))
	for n := range st.Agents {
		names = append(names, n)
	}
	sort.Strings(names)
	out := vpoller.Object{}
	for _, n := range names {
		out = append(out, vpoller.Field{Key: n, Value: st.Agents[n].Object()})
	}
	return out
}

// nextLogin renders when logins may go again after refusals ("" when
// they are not paused).
func nextLogin(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}
