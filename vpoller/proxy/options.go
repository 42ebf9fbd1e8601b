package proxy

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config"
)

// Defaults of the tunables vpoller.conf does not set; a zero Options
// field selects them.
const (
	DefaultHoldTimeout     = 60 * time.Second
	DefaultInflightTimeout = time.Minute
	DefaultWriteTimeout    = 30 * time.Second
	DefaultHandshake       = 10 * time.Second
	DefaultQueue           = 1024
	// DefaultMaxInflightPerWorker caps what one worker connection owes
	// when the configuration does not.
	DefaultMaxInflightPerWorker = 1000
)

// Options configure a Proxy, as worker.Options configure a worker: the
// proxy reads no file itself; cmd/vpoller-proxy fills the fields named as
// vpoller.conf's [proxy] settings from that section. A zero limit or
// duration selects its default: the [proxy] default of config.Default
// for the settings of the file, the Default constants above for the rest.
type Options struct {
	// Frontend, Backend and Mgmt are where clients (REQ/DEALER), workers
	// (DEALER) and the management commands connect, tcp://host:port or
	// ipc://path. Required.
	Frontend, Backend, Mgmt string
	// MaxRequestBytes bounds a client message; larger ones (up to 64 MiB,
	// or four times the limit) get an error reply without reaching a
	// worker, still larger ones close the connection. Required.
	MaxRequestBytes int
	// MaxReplyBytes bounds a worker's reply message; a larger one is
	// thrown away and its client told so.
	MaxReplyBytes int
	// MaxClients and MaxWorkers cap the connections of the frontend and
	// the backend.
	MaxClients, MaxWorkers int
	// MaxHeldRequests and MaxHeldBytes cap the requests kept while no
	// worker can take them; beyond, requests are refused at once.
	MaxHeldRequests, MaxHeldBytes int
	// ClientIdleTimeout closes a client connection with nothing in flight
	// that sent nothing for that long; zero keeps idle clients.
	ClientIdleTimeout time.Duration
	// MaxInflightPerWorker caps the requests one worker connection owes
	// (our workers announce a smaller queue of their own).
	MaxInflightPerWorker int
	// SpillWait is how long a request waits for its vCenter's owner to
	// have room before the next worker in the vCenter's ranking takes it.
	SpillWait time.Duration
	// Standby makes the second-ranked worker of each vCenter keep its
	// mirror current, so that a takeover is warm.
	Standby bool
	// MaxMemory is the memory budget for message data: frames being read,
	// requests held or in flight, replies queued.
	MaxMemory int
	// MaxHandshakes and MaxHandshakesPerSource cap the handshakes in
	// progress on each listener, apart from established connections.
	MaxHandshakes, MaxHandshakesPerSource int
	// WorkerHeartbeat is how often the proxy PINGs each worker;
	// WorkerTimeout drops a worker silent that long (its requests go to
	// another), when it has answered PINGs before.
	WorkerHeartbeat, WorkerTimeout time.Duration
	// FrontendSecurity, BackendSecurity and MgmtSecurity say where each
	// socket's CURVE keys, allow-list or shared secret are; zero is NULL
	// (and file-mode protection for an ipc:// management socket).
	FrontendSecurity, BackendSecurity, MgmtSecurity config.Security
	// MetricsListen (host:port) serves Prometheus metrics on /metrics;
	// empty serves none.
	MetricsListen string

	// HoldTimeout bounds how long a request waits for a worker when none
	// is connected (or all are saturated); after that it is dropped and
	// logged (a lazy-pirate client has retried long before).
	HoldTimeout time.Duration
	// InflightTimeout bounds how long the proxy remembers a request a
	// worker has not answered, so a stuck worker cannot hold memory for
	// long (its client gave up after its own timeout, seconds).
	InflightTimeout time.Duration
	// WriteTimeout bounds one send to a peer; a peer that does not read
	// for that long is disconnected (a worker's requests are then
	// re-dispatched).
	WriteTimeout time.Duration
	// HandshakeTimeout bounds a connection's ZMTP handshake.
	HandshakeTimeout time.Duration
	// Queue is the per-peer send queue length.
	Queue int
	// Now is the clock the broker reads (default time.Now; tests).
	Now func() time.Time
	// Logger receives the proxy's logs (default slog.Default()).
	Logger *slog.Logger
}

// withDefaults checks the required fields and fills the zero ones.
func (o Options) withDefaults() (Options, error) {
	for _, f := range []struct{ name, ep string }{{"frontend", o.Frontend}, {"backend", o.Backend}, {"mgmt", o.Mgmt}} {
		if f.ep == "" {
			return o, fmt.Errorf("proxy %s endpoint is empty", f.name)
		}
	}
	if o.MaxRequestBytes <= 0 {
		return o, fmt.Errorf("proxy max request bytes must be positive, got %d", o.MaxRequestBytes)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	def := config.Default().Proxy
	for _, f := range []struct {
		v *int
		d int
	}{
		{&o.MaxReplyBytes, def.MaxReplyBytes}, {&o.MaxClients, def.MaxClients}, {&o.MaxWorkers, def.MaxWorkers},
		{&o.MaxHeldRequests, def.MaxHeldRequests}, {&o.MaxHeldBytes, def.MaxHeldBytes},
		{&o.MaxInflightPerWorker, def.MaxInflightPerWorker}, {&o.MaxMemory, def.MaxMemory},
		{&o.Queue, DefaultQueue},
	} {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
	for _, f := range []struct {
		v *time.Duration
		d time.Duration
	}{
		{&o.SpillWait, def.SpillWait}, {&o.WorkerHeartbeat, def.WorkerHeartbeat}, {&o.WorkerTimeout, def.WorkerTimeout},
		{&o.HoldTimeout, DefaultHoldTimeout}, {&o.InflightTimeout, DefaultInflightTimeout},
		{&o.WriteTimeout, DefaultWriteTimeout}, {&o.HandshakeTimeout, DefaultHandshake},
	} {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
	return o, nil
}
