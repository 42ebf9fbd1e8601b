package vsphere

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Messages of the original worker that Execute produces itself.
const (
	MsgUnknownMethod = "Unknown or missing task/method name"
	MsgUnknownAgent  = "Unknown or missing agent name"
)

// Service answers vPoller requests for a fixed set of vSphere agents. It
// is what a worker process holds: one session per agent, shared by all
// requests, and coalescing of identical requests in flight.
type Service struct {
	agents map[string]*Agent
	names  []string
	stats  *counters
	log    *slog.Logger
	flight singleflight.Group

	closeOnce sync.Once
}

// NewService validates the agent configuration and prepares the agents.
// It does no network work: each agent connects (or starts its simulator)
// on its first request.
func NewService(cfgs []AgentConfig, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.IndexRefresh <= 0 {
		opts.IndexRefresh = DefaultIndexRefresh
	}
	s := &Service{agents: map[string]*Agent{}, stats: newCounters(), log: opts.Logger}
	for _, c := range cfgs {
		c, err := c.withDefaults()
		if err != nil {
			return nil, fmt.Errorf("vsphere: %w", err)
		}
		if _, dup := s.agents[c.Name]; dup {
			return nil, fmt.Errorf("vsphere: agent %s configured twice", c.Name)
		}
		s.agents[c.Name] = newAgent(c, opts, s.stats)
		s.names = append(s.names, c.Name)
	}
	sort.Strings(s.names)
	return s, nil
}

// Agents returns the configured agent names, sorted.
func (s *Service) Agents() []string { return append([]string(nil), s.names...) }

// Agent returns a configured agent by name, for tests and tools.
func (s *Service) Agent(name string) (*Agent, bool) {
	a, ok := s.agents[name]
	return a, ok
}

// Stats returns the counters since NewService.
func (s *Service) Stats() Stats { return s.stats.snapshot() }

// Execute answers one request. It never panics and always returns a
// reply: checks happen in the original worker's order (method, agent,
// required keys), then the method runs; a panic in a method becomes that
// request's "Task <method> failed" reply with the stack as traceback.
// Identical requests in flight (same CacheKey) share one execution. The
// returned Response must be treated as read-only (its Result may be
// shared with other callers).
func (s *Service) Execute(ctx context.Context, req *vpoller.Request) *vpoller.Response {
	s.stats.requests.Add(1)
	if req == nil {
		return vpoller.Fail(MsgUnknownMethod)
	}
	h, ok := handlers[req.Method]
	mi, known := vpoller.Method(req.Method)
	if !ok || !known {
		return vpoller.Fail(MsgUnknownMethod)
	}
	a, ok := s.agents[req.Hostname]
	if !ok {
		return vpoller.Fail(MsgUnknownAgent)
	}
	if mi.Missing(req) != "" {
		return vpoller.Fail(vpoller.MsgInvalidTask)
	}
	ran := false
	ch := s.flight.DoChan(req.CacheKey(), func() (any, error) {
		ran = true
		// The shared work outlives any one caller giving up; every SOAP
		// call still has the agent's timeout.
		return s.run(context.WithoutCancel(ctx), a, h, req), nil
	})
	select {
	case r := <-ch:
		if !ran {
			s.stats.coalesced.Add(1)
		}
		resp := *r.Val.(*vpoller.Response)
		return &resp
	case <-ctx.Done():
		return &vpoller.Response{Success: 1, Msg: fmt.Sprintf("Task %s failed", req.Method), Traceback: ctx.Err().Error(), Cause: ctx.Err()}
	}
}

func (s *Service) run(ctx context.Context, a *Agent, h Handler, req *vpoller.Request) (resp *vpoller.Response) {
	defer func() {
		if r := recover(); r != nil {
			tb := fmt.Sprintf("panic: %v\n\n%s", r, debug.Stack())
			s.log.Error("vPoller task panicked", slog.Any("request", req), slog.Any("panic", r))
			resp = &vpoller.Response{Success: 1, Msg: fmt.Sprintf("Task %s failed", req.Method), Traceback: tb}
		}
	}()
	resp = h(ctx, a, req)
	if resp == nil {
		resp = &vpoller.Response{Success: 1, Msg: fmt.Sprintf("Task %s failed", req.Method), Traceback: "handler returned no reply"}
	}
	return resp
}

// Close logs out of every agent's session and stops embedded simulators.
// Requests after Close fail with a connection error.
func (s *Service) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		var wg sync.WaitGroup
		for _, a := range s.agents {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.close()
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
		}
	})
	return ctx.Err()
}
