package client

import (
	"log/slog"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/zmtp"
)

// Defaults of Options. Timeout and Retries are the Python library's
// defaults (the original CLI waits 10 s instead).
const (
	DefaultTimeout  = 3 * time.Second
	DefaultRetries  = 3
	DefaultPoolSize = 32
	DefaultMaxIdle  = 8
	// DefaultMaxReplyBytes bounds a reply message, as the proxy's default
	// max_reply_bytes does.
	DefaultMaxReplyBytes = 64 << 20
)

// Options tune a Client. The zero value gives the original library's
// behaviour (3 s per attempt, 3 attempts) with up to 32 requests in flight.
type Options struct {
	// Timeout is how long one attempt (connect, send and wait for the
	// reply) may take before the socket is thrown away and the request is
	// sent again. Default 3s.
	Timeout time.Duration
	// Retries is the TOTAL number of attempts, as in the original (3 means
	// one try and two retries), raised to the number of endpoints when it
	// is lower. Default 3.
	Retries int
	// PoolSize caps the sockets, which is the number of requests in flight
	// at once; further callers wait for a free socket. Default 32.
	PoolSize int
	// MaxIdle caps the sockets kept open for reuse between requests (each
	// is one TCP connection to the proxy), per endpoint of the list.
	// Default 8, never more than PoolSize.
	MaxIdle int
	// Mechanism secures the connection: zmtp.CurveClient for a proxy
	// frontend with CURVE. Default: NULL, what the original speaks.
	Mechanism zmtp.Mechanism
	// MaxReplyBytes bounds a reply; a larger one fails the attempt.
	// Default DefaultMaxReplyBytes.
	MaxReplyBytes int
	// Logger receives retry warnings and connection details. Default: none.
	Logger *slog.Logger
}

// withDefaults fills in unset or nonsensical values.
func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Retries <= 0 {
		o.Retries = DefaultRetries
	}
	if o.PoolSize <= 0 {
		o.PoolSize = DefaultPoolSize
	}
	if o.MaxIdle <= 0 {
		o.MaxIdle = DefaultMaxIdle
	}
	if o.MaxIdle > o.PoolSize {
		o.MaxIdle = o.PoolSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Mechanism == nil {
		o.Mechanism = zmtp.Null()
	}
	if o.MaxReplyBytes <= 0 {
		o.MaxReplyBytes = DefaultMaxReplyBytes
	}
	return o
}
