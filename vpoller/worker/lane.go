package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/vpoller/zabbix-vpoller/internal/lograte"
	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// Messages of the bulkhead and the circuit breaker.
const (
	// MsgAgentBusy starts the reply to a request refused because its
	// vCenter already has AgentQueue requests waiting.
	MsgAgentBusy = "vCenter busy"
	// MsgAgentUnreachable starts the reply to a request refused while the
	// vCenter's circuit is open.
	MsgAgentUnreachable = "unreachable since"
)

// errUnreachable marks, for the breaker, an execution that failed because
// the vCenter did not answer.
var errUnreachable = errors.New("vCenter did not answer")

// lane is one vSphere agent's bulkhead: at most slots of its requests run
// at once, up to queueCap more wait (without holding a worker slot), and
// a circuit breaker fails them at once while the vCenter is unreachable.
// A stalled vCenter thus costs the others nothing.
type lane struct {
	name     string
	slots    int
	queueCap int
	cb       *gobreaker.CircuitBreaker[*vpoller.Response]
	log      *slog.Logger
	warn     *lograte.Limiter

	mu       sync.Mutex
	running  int
	queue    []*job
	openedAt time.Time // when the circuit last opened
	cause    error     // the failure that opened it (or the last one)

	ok, failed, fastFailed, busy, expired atomic.Uint64

	// durations of the last executions (fast failures not counted), for
	// the p50/p99 in status; observe feeds the Prometheus histogram.
	latMu   sync.Mutex
	lat     []time.Duration
	latNext int
	observe func(time.Duration)
}

// latencyWindow is how many recent executions the status quantiles cover.
const latencyWindow = 1024

func (l *lane) record(d time.Duration) {
	if l.observe != nil {
		l.observe(d)
	}
	l.latMu.Lock()
	defer l.latMu.Unlock()
	if len(l.lat) < latencyWindow {
		l.lat = append(l.lat, d)
		return
	}
	l.lat[l.latNext] = d
	l.latNext = (l.latNext + 1) % latencyWindow
}

// quantiles returns the p50 and p99 of the recent executions.
func (l *lane) quantiles() (p50, p99 time.Duration, n int) {
	l.latMu.Lock()
	s := slices.Clone(l.lat)
	l.latMu.Unlock()
	if len(s) == 0 {
		return 0, 0, 0
	}
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.5), at(0.99), len(s)
}

// job is one request waiting for, or holding, its lane.
type job struct {
	req     *vpoller.Request
	arrived time.Time
	finish  func(*vpoller.Response) // encodes and sends the reply
}

func newLane(name string, slots, queueCap, failures int, cooldown time.Duration, log *slog.Logger) *lane {
	l := &lane{name: name, slots: slots, queueCap: queueCap, log: log.With("agent", name), warn: lograte.New(30 * time.Second)}
	l.cb = gobreaker.NewCircuitBreaker[*vpoller.Response](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1, // one probe while half-open
		Timeout:     cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(failures) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			l.mu.Lock()
			cause := l.cause
			if to == gobreaker.StateOpen && from == gobreaker.StateClosed {
				l.openedAt = time.Now()
			}
			since := l.openedAt
			l.mu.Unlock()
			switch to {
			case gobreaker.StateOpen:
				l.log.Warn("vCenter unreachable: its requests now fail at once until a probe succeeds",
					"since", since.Format(time.RFC3339), "cause", errText(cause), "probe_in", cooldown)
			case gobreaker.StateClosed:
				l.log.Info("vCenter reachable again", "unreachable_since", since.Format(time.RFC3339))
			}
		},
	})
	return l
}

func errText(err error) string {
	if err == nil {
		return "unknown"
	}
	return err.Error()
}

// submit takes a slot for j and reports true (the caller runs j, then
// the jobs next hands it), or queues j, or refuses it at once when the
// queue is full (j is answered); false in both of these cases.
func (l *lane) submit(j *job) bool {
	l.mu.Lock()
	switch {
	case l.running < l.slots:
		l.running++
		l.mu.Unlock()
		return true
	case len(l.queue) < l.queueCap:
		l.queue = append(l.queue, j)
		l.mu.Unlock()
		return false
	default:
		running, waiting := l.running, len(l.queue)
		l.mu.Unlock()
		l.busy.Add(1)
		if l.warn.Allow() {
			l.log.Warn("requests refused: too many waiting for this vCenter", "running", running, "waiting", waiting,
				"suppressed", l.warn.Suppressed())
		}
		j.finish(vpoller.Failf("%s: %s has %d requests running and %d waiting", MsgAgentBusy, l.name, running, waiting))
		return false
	}
}

// next hands the slot of a finished job to the oldest waiting one, or
// frees it; nil when the slot is freed.
func (l *lane) next() *job {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 {
		l.running--
		return nil
	}
	j := l.queue[0]
	l.queue[0] = nil
	l.queue = l.queue[1:]
	return j
}

// open reports whether the circuit is open (requests fail at once).
func (l *lane) open() bool { return l.cb.State() == gobreaker.StateOpen }

// execute runs one request through the circuit breaker. unreachable
// classifies a failure's cause; such failures count toward opening the
// circuit, and while it is open requests fail at once.
func (l *lane) execute(ctx context.Context, req *vpoller.Request, exec Executor, unreachable func(error) bool) *vpoller.Response {
	resp, err := l.cb.Execute(func() (*vpoller.Response, error) {
		start := time.Now()
		resp := exec.Execute(ctx, req)
		l.record(time.Since(start))
		if resp != nil && resp.Failed() && resp.Cause != nil && unreachable(resp.Cause) {
			l.mu.Lock()
			l.cause = resp.Cause
			l.mu.Unlock()
			return resp, errUnreachable
		}
		return resp, nil
	})
	switch {
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		l.fastFailed.Add(1)
		l.mu.Lock()
		since, cause := l.openedAt, l.cause
		l.mu.Unlock()
		return &vpoller.Response{Success: 1, Msg: fmt.Sprintf("vCenter %s %s %s: %s", l.name, MsgAgentUnreachable,
			since.UTC().Format(time.RFC3339), errText(cause)), Cause: err}
	case err != nil:
		l.failed.Add(1)
		if l.warn.Allow() {
			l.log.Warn("vCenter request failed: no answer", "method", req.Method, "cause", errText(resp.Cause),
				"consecutive", l.cb.Counts().ConsecutiveFailures, "suppressed", l.warn.Suppressed())
		}
		return resp
	}
	l.ok.Add(1)
	return resp
}

// status reports the lane for the worker's management status.
func (l *lane) status() vpoller.Object {
	l.mu.Lock()
	running, waiting, since, cause := l.running, len(l.queue), l.openedAt, l.cause
	l.mu.Unlock()
	obj := vpoller.Object{
		{Key: "circuit", Value: l.cb.State().String()},
		{Key: "running", Value: running},
		{Key: "waiting", Value: waiting},
		{Key: "limit", Value: l.slots},
		{Key: "ok", Value: l.ok.Load()},
		{Key: "failed_unreachable", Value: l.failed.Load()},
		{Key: "failed_fast", Value: l.fastFailed.Load()},
		{Key: "refused_busy", Value: l.busy.Load()},
		{Key: "expired_waiting", Value: l.expired.Load()},
	}
	p50, p99, n := l.quantiles()
	obj = append(obj, vpoller.Field{Key: "latency_ms", Value: vpoller.Object{
		{Key: "p50", Value: float64(p50.Microseconds()) / 1000}, {Key: "p99", Value: float64(p99.Microseconds()) / 1000}, {Key: "of", Value: n}}})
	if !since.IsZero() {
		obj = append(obj, vpoller.Field{Key: "last_opened", Value: since.UTC().Format(time.RFC3339)},
			vpoller.Field{Key: "last_cause", Value: errText(cause)})
	}
	return obj
}
