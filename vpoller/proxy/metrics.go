package proxy

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpoller/zabbix-vpoller/internal/metrics"
)

// collector exposes the proxy's counters to Prometheus, read from one
// snapshot per scrape.
func (p *Proxy) collector() prometheus.Collector {
	gauge := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("vpoller_proxy_"+name, help, labels, nil)
	}
	var (
		workers      = gauge("workers", "Worker connections.")
		outstanding  = gauge("outstanding_requests", "Requests in flight or held.")
		held         = gauge("held_requests", "Requests waiting for a worker.")
		heldBytes    = gauge("held_bytes", "Payload bytes of the held requests.")
		served       = gauge("served_total", "Replies delivered to clients.")
		redispatched = gauge("redispatched_total", "Requests sent again after their worker connection died.")
		refused      = gauge("refused_held_full_total", "Requests refused because the held requests were at their cap.")
		lostTwice    = gauge("lost_twice_total", "Requests refused after their second worker died with them.")
		tooLarge     = gauge("too_large_total", "Requests refused for their size.")
		expired      = gauge("expired_total", "Requests dropped after their deadline.")
		conns        = gauge("connections", "Open connections by socket.", "socket")
		connEvents   = gauge("connection_events_total", "Connections by socket and outcome (accepted, refused, evicted, handshake_failed, auth_failed, accept_error).", "socket", "event")
	)
	descs := []*prometheus.Desc{workers, outstanding, held, heldBytes, served, redispatched, refused, lostTwice, tooLarge, expired, conns, connEvents}
	return metrics.NewFunc(descs, func(ch chan<- prometheus.Metric) {
		s := p.Stats()
		g := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
		}
		c := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
		}
		g(workers, float64(s.Workers))
		g(outstanding, float64(s.Outstanding))
		g(held, float64(s.Held))
		g(heldBytes, float64(s.HeldBytes))
		c(served, float64(s.Served))
		c(redispatched, float64(s.Redispatched))
		c(refused, float64(s.Refused))
		c(lostTwice, float64(s.Poisoned))
		c(tooLarge, float64(s.TooLarge))
		c(expired, float64(s.Expired))
		for i, name := range []string{"frontend", "backend"} {
			l := p.listeners[i]
			if l == nil {
				continue
			}
			ls := l.Stats()
			g(conns, float64(ls.Active), name)
			for ev, v := range map[string]int64{"accepted": ls.Accepted, "refused": ls.Refused, "evicted": ls.Evicted,
				"handshake_failed": ls.Failed, "auth_failed": ls.AuthFailed, "accept_error": ls.AcceptErrors} {
				c(connEvents, float64(v), name, ev)
			}
		}
	})
}
