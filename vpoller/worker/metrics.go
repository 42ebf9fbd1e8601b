package worker

import (
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpoller/zabbix-vpoller/internal/metrics"
)

// newLatency is the histogram of request executions per vSphere agent
// (fast failures of an open circuit not counted).
func newLatency() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vpoller_worker_request_duration_seconds",
		Help:    "Time to answer a request from a vSphere agent, by agent.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"agent"})
}

// Collectors are the worker's Prometheus collectors: its counters, each
// lane's state and results, and the request duration histogram.
func (w *Worker) Collectors() []prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("vpoller_worker_"+name, help, labels, nil)
	}
	var (
		requests   = d("requests_total", "Requests answered.")
		inFlight   = d("in_flight_requests", "Requests being handled.")
		connected  = d("proxy_connected", "1 while a proxy connection is up.")
		reconnects = d("proxy_reconnects_total", "Proxy connections established after the first.")
		circuit    = d("agent_circuit", "Circuit of a vSphere agent: 0 closed, 1 half-open, 2 open.", "agent")
		running    = d("agent_running_requests", "Requests of an agent running now.", "agent")
		waiting    = d("agent_waiting_requests", "Requests of an agent waiting for a slot.", "agent")
		results    = d("agent_requests_total", "Requests of an agent by result (ok, unreachable, failed_fast, refused_busy, expired).", "agent", "result")
	)
	own := metrics.NewFunc([]*prometheus.Desc{requests, inFlight, connected, reconnects, circuit, running, waiting, results}, func(ch chan<- prometheus.Metric) {
		s := w.Stats()
		g := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
		}
		g(requests, prometheus.CounterValue, float64(s.Requests))
		g(inFlight, prometheus.GaugeValue, float64(s.InFlight))
		g(connected, prometheus.GaugeValue, map[bool]float64{true: 1}[s.Connected])
		g(reconnects, prometheus.CounterValue, float64(s.Reconnects))
		lanes := w.laneSnapshot()
		names := make([]string, 0, len(lanes))
		for n := range lanes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			l := lanes[n]
			l.mu.Lock()
			r, q := l.running, len(l.queue)
			l.mu.Unlock()
			g(circuit, prometheus.GaugeValue, float64(l.cb.State()), n)
			g(running, prometheus.GaugeValue, float64(r), n)
			g(waiting, prometheus.GaugeValue, float64(q), n)
			for res, v := range map[string]uint64{"ok": l.ok.Load(), "unreachable": l.failed.Load(), "failed_fast": l.fastFailed.Load(),
				"refused_busy": l.busy.Load(), "expired": l.expired.Load()} {
				g(results, prometheus.CounterValue, float64(v), n, res)
			}
		}
	})
	return []prometheus.Collector{own, w.latency}
}

// observer returns the histogram's observe function for one agent.
func (w *Worker) observer(agent string) func(time.Duration) {
	h := w.latency.WithLabelValues(agent)
	return func(d time.Duration) { h.Observe(d.Seconds()) }
}
