// Package metrics serves a Prometheus registry on /metrics, for the sites
// that graph vPoller in Grafana. The proxy and the worker each offer one,
// off unless configured (metrics_listen), on loopback in the examples:
// the figures are not secret, but nobody needs them from afar by default.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is one /metrics endpoint.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// NewRegistry returns a registry holding the Go runtime and process
// collectors and the given ones.
func NewRegistry(cs ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	all := append([]prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}, cs...)
	for _, c := range all {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return reg, nil
}

// Listen binds addr (host:port) and serves reg on /metrics until Close.
// An address beyond loopback is allowed and logged.
func Listen(addr string, reg *prometheus.Registry, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint %s: %w", addr, err)
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		log.Warn("metrics endpoint reachable from other hosts", "addr", ln.Addr().String())
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	s := &Server{
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops serving, waiting at most until ctx ends for scrapes in
// progress.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	return err
}

// Func is a collector whose samples a function computes at each scrape,
// from one consistent snapshot of a component's counters.
type Func struct {
	descs   []*prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

// NewFunc returns a collector of the given descriptions; collect sends
// their samples.
func NewFunc(descs []*prometheus.Desc, collect func(ch chan<- prometheus.Metric)) *Func {
	return &Func{descs: descs, collect: collect}
}

// Describe implements prometheus.Collector.
func (f *Func) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range f.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (f *Func) Collect(ch chan<- prometheus.Metric) { f.collect(ch) }
