package worker

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
)

func startOurProxy(t *testing.T) *proxy.Proxy {
	t.Helper()
	p, err := proxy.New(proxy.Options{Frontend: "tcp://127.0.0.1:0", Backend: "tcp://127.0.0.1:0",
		Mgmt: "ipc://" + filepath.Join(t.TempDir(), "mgmt.sock"), MaxRequestBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Serve(t, p)
	return p
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A worker connects to every proxy of its list and announces itself to
// each; both proxies make it the owner of its vCenter, which it is told
// (once, not once per proxy); requests through either proxy are answered.
func TestSeveralProxies(t *testing.T) {
	p1, p2 := startOurProxy(t), startOurProxy(t)
	var mu sync.Mutex
	var roles []string
	w := runWorker(t, simService(t), Options{Proxy: p1.Addrs().Backend + ", " + p2.Addrs().Backend, ID: "w1",
		Agents: []string{"vcsim.local"}, SetRole: func(agent string, r Role) error {
			mu.Lock()
			defer mu.Unlock()
			roles = append(roles, agent+"="+string(r))
			return nil
		}})
	for _, p := range []*proxy.Proxy{p1, p2} {
		waitUntil(t, "the worker to join", func() bool {
			s := p.Stats()
			return len(s.WorkerConns) == 1 && s.WorkerConns[0].ID == "w1"
		})
		if o := p.Stats().VCenters["vcsim.local"].Owner; o != "w1" {
			t.Fatalf("owner %q", o)
		}
	}
	waitUntil(t, "the role", func() bool { return w.Roles()["vcsim.local"] == RoleOwner })
	mu.Lock()
	if !slices.Equal(roles, []string{"vcsim.local=owner"}) {
		t.Errorf("roles applied %v", roles)
	}
	mu.Unlock()
	st := w.Stats()
	if len(st.Proxies) != 2 || !st.Proxies[0].Connected || !st.Proxies[1].Connected || !st.Proxies[0].VPollerProxy {
		t.Fatalf("links %+v", st.Proxies)
	}
	for _, p := range []*proxy.Proxy{p1, p2} {
		c := clienttest.New(t, p.Addrs().Frontend, client.Options{Timeout: 10 * time.Second, Retries: 1})
		resp, err := c.Call(context.Background(), &vpoller.Request{Method: "vm.get", Hostname: "vcsim.local",
			Name: "DC0_H0_VM0", Properties: []string{"runtime.powerState"}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Failed() || !strings.Contains(string(resp.Encode(vpoller.Python)), "poweredOn") {
			t.Fatalf("through %s: %s", p.Addrs().Frontend, resp.Encode(vpoller.Python))
		}
	}
}
