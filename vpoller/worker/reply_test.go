package worker

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/lld/helpers"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere"
)

// TestDrainTimeout: a request still running after DrainTimeout is
// cancelled and Run returns promptly.
func TestDrainTimeout(t *testing.T) {
	slow := &slowExecutor{next: simService(t), delay: time.Minute}
	b := newBackend(t, "127.0.0.1:0")
	w, err := New(slow, Options{Proxy: b.endpoint(), DrainTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	c := b.next(t, 5*time.Second)
	send(t, c, []byte("id"), nil, request("vm.discover", "nope", nil))
	for w.Stats().InFlight < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the drain timeout")
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Run returned after %s; want just after the 200ms drain timeout", d)
	}
}

// FuzzReply feeds arbitrary frames to the request path (size bound,
// decoding, the service's checks, helpers): it must always produce a
// reply that is either a JSON reply or helper text, never panic.
func FuzzReply(f *testing.F) {
	raw, err := os.ReadFile("testdata/requests.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if line != "" {
			f.Add([]byte(line))
		}
	}
	// No agents: no network, so the fuzzer runs fast.
	svc, err := vsphere.NewService(nil, vsphere.Options{})
	if err != nil {
		f.Fatal(err)
	}
	w, err := New(svc, Options{Proxy: "tcp://127.0.0.1:1", Helpers: helpers.Names(), Formatters: helpers.Formatters(), MaxRequestBytes: 4096})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		out := w.Reply(context.Background(), payload)
		if len(out) == 0 {
			t.Fatal("empty reply")
		}
		req, err := vpoller.DecodeRequest(payload)
		if err != nil || len(payload) > 4096 || w.helpers[req.Helper] == nil {
			r, err := vpoller.DecodeResponse(out)
			if err != nil || r.Success != 1 || r.Msg == "" {
				t.Fatalf("reply %q to %q", out, payload)
			}
		}
	})
}

// TestInjectedFormatters proves the worker applies only the helpers it is
// handed in Options.Formatters and the [worker] helpers setting names:
// one both offered and named formats the reply, one named but not
// offered, or offered but not named, leaves the plain reply.
func TestInjectedFormatters(t *testing.T) {
	svc, err := vsphere.NewService(nil, vsphere.Options{})
	if err != nil {
		t.Fatal(err)
	}
	upper := func(req *vpoller.Request, resp *vpoller.Response) []byte {
		return []byte("HELPER " + req.Method + " " + resp.Msg)
	}
	w, err := New(svc, Options{Proxy: "tcp://127.0.0.1:1", Helpers: []string{"t.offered", "t.missing"},
		Formatters: map[string]Formatter{"t.offered": upper, "t.unnamed": upper}})
	if err != nil {
		t.Fatal(err)
	}
	resp := vpoller.OK("done", nil)
	plain := string(resp.EncodeFor("about", vpoller.Python))
	for _, tc := range []struct{ helper, want string }{
		{"t.offered", "HELPER about done"},
		{"t.missing", plain},
		{"t.unnamed", plain},
		{"", plain},
	} {
		if got := string(w.encode(&vpoller.Request{Method: "about", Helper: tc.helper}, resp)); got != tc.want {
			t.Errorf("helper %q: got %q, want %q", tc.helper, got, tc.want)
		}
	}
}
