package vsphere

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The simulator's per-session idle watchers end with the model's
		// context, which the simulator never cancels.
		goleak.IgnoreTopFunction("github.com/vmware/govmomi/simulator.SessionIdleWatch.func1"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	)
}

// newSim returns a Service with one simulator agent "sim" (vpx model).
func newSim(t testing.TB, opts Options, setup ...func(*Service)) *Service {
	t.Helper()
	s, err := NewService([]AgentConfig{{Name: "sim", Simulator: true}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		f(s)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func exec(t testing.TB, s *Service, r vpoller.Request) *vpoller.Response {
	t.Helper()
	if r.Hostname == "" {
		r.Hostname = "sim"
	}
	return s.Execute(context.Background(), &r)
}

func names(t testing.TB, resp *vpoller.Response) []string {
	t.Helper()
	list, ok := resp.Result.([]any)
	if !ok {
		t.Fatalf("result is %T, not a list: %s", resp.Result, resp.Encode(vpoller.Python))
	}
	var out []string
	for _, x := range list {
		n, _ := x.(vpoller.Object).Get("name")
		s, _ := n.(string)
		out = append(out, s)
	}
	return out
}
