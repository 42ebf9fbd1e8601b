package proxy

import "time"

// Defaults of the tunables; Option functions override them.
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

type options struct {
	hold, inflight, write, handshake time.Duration
	queue                            int
	now                              func() time.Time
}

// Option changes a tunable of the proxy.
type Option func(*options)

// WithHoldTimeout bounds how long a request waits for a worker when none is
// connected (or all are saturated); after that it is dropped and logged
// (a lazy-pirate client has retried long before).
func WithHoldTimeout(d time.Duration) Option { return func(o *options) { o.hold = d } }

// WithInflightTimeout bounds how long the proxy remembers a request a
// worker has not answered, so a stuck worker cannot hold memory for long
// (its client gave up after its own timeout, seconds).
func WithInflightTimeout(d time.Duration) Option { return func(o *options) { o.inflight = d } }

// WithWriteTimeout bounds one send to a peer; a peer that does not read for
// that long is disconnected (a worker's requests are then re-dispatched).
func WithWriteTimeout(d time.Duration) Option { return func(o *options) { o.write = d } }

// WithClock sets the clock the broker reads (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithQueue sets the per-peer send queue length.
func WithQueue(n int) Option { return func(o *options) { o.queue = n } }

func defaultOptions() options {
	return options{
		hold:      DefaultHoldTimeout,
		inflight:  DefaultInflightTimeout,
		write:     DefaultWriteTimeout,
		handshake: DefaultHandshake,
		queue:     DefaultQueue,
	}
}
