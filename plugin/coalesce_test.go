package plugin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// The caller that started a shared call ends with it (the call has its
// deadline): it reports what the call met, not a bare deadline.
func TestCoalesceLeadTakesTheCallsError(t *testing.T) {
	var c coalescer
	req := &vpoller.Request{Method: "about", Hostname: "vc"}
	callErr := errors.New("vPoller at tcp://127.0.0.1:1: no reply (3 attempts)")
	call := func(ctx context.Context, _ *vpoller.Request) (*vpoller.Response, error) {
		<-ctx.Done() // the lead's deadline: the call ends with it
		return nil, callErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.do(ctx, nil, "tcp://127.0.0.1:1", req, call); err != callErr {
		t.Fatalf("lead: %v, want the call's own error", err)
	}
}
