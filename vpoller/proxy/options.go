package proxy

import "time"

// Defaults of the tunables; Option functions override them.
const (
	DefaultHoldTimeout     = 60 * time.Second
	DefaultInflightTimeout = 10 * time.Minute
	DefaultWriteTimeout    = 30 * time.Second
	DefaultHandshake       = 10 * time.Second
	DefaultQueue           = 1024
	// DefaultWorkerFrameLimit bounds a worker's reply frame: discoveries of
	// large estates are big, but not unbounded.
	DefaultWorkerFrameLimit = 512 << 20
	// minClientFrameLimit is the least hard cap on a client frame; frames
	// between MaxRequestBytes and the cap get an error reply, larger ones
	// close the connection before they are read.
	minClientFrameLimit = 64 << 20
)

type options struct {
	hold, inflight, write, handshake time.Duration
	queue                            int
	workerFrameLimit                 uint64
}

// Option changes a tunable of the proxy.
type Option func(*options)

// WithHoldTimeout bounds how long a request waits for a worker when none is
// connected (or all are saturated); after that it is dropped and logged
// (a lazy-pirate client has retried long before).
func WithHoldTimeout(d time.Duration) Option { return func(o *options) { o.hold = d } }

// WithInflightTimeout bounds how long the proxy remembers a request a
// worker has not answered, so a stuck worker cannot grow memory forever.
func WithInflightTimeout(d time.Duration) Option { return func(o *options) { o.inflight = d } }

// WithWriteTimeout bounds one send to a peer; a peer that does not read for
// that long is disconnected (a worker's requests are then re-dispatched).
func WithWriteTimeout(d time.Duration) Option { return func(o *options) { o.write = d } }

// WithQueue sets the per-peer send queue length.
func WithQueue(n int) Option { return func(o *options) { o.queue = n } }

func defaultOptions() options {
	return options{
		hold:             DefaultHoldTimeout,
		inflight:         DefaultInflightTimeout,
		write:            DefaultWriteTimeout,
		handshake:        DefaultHandshake,
		queue:            DefaultQueue,
		workerFrameLimit: DefaultWorkerFrameLimit,
	}
}
