package testutil

import (
	"context"
	"testing"
	"time"
)

// Service is a component that runs until its context ends and says when
// it listens: the proxy.
type Service interface {
	Run(ctx context.Context) error
	Ready() <-chan struct{}
}

// Serve runs s until the test ends. It returns once s is ready (failing
// the test when Run returns first or 10 s pass); at the end it cancels s
// and fails the test unless Run returns nil within 10 s.
func Serve(tb testing.TB, s Service) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		cancel()
		tb.Fatalf("did not start: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		tb.Fatal("not ready within 10 s")
	}
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Error("did not stop within 10 s")
		}
	})
}
