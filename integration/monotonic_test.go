package integration

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
	"github.com/vpoller/zabbix-vpoller/vpoller/worker"
)

// chainWorker is one worker of a two-worker chain, stoppable.
type chainWorker struct {
	id     string
	svc    *vsphere.Service
	cancel context.CancelFunc
	done   chan struct{}
}

func startChainWorker(t *testing.T, id string, agent vsphere.AgentConfig, backend string) *chainWorker {
	t.Helper()
	svc, err := vsphere.NewService([]vsphere.AgentConfig{agent}, vsphere.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	roles := map[worker.Role]objects.Role{worker.RoleOwner: objects.RoleOwner, worker.RoleStandby: objects.RoleStandby,
		worker.RolePassive: objects.RolePassive, worker.RoleAuto: objects.RoleAuto}
	w, err := worker.New(svc, worker.Options{Proxy: backend, ID: id, Concurrency: 8, Logger: quiet(),
		SetRole: func(agent string, r worker.Role) error { return svc.SetRole(agent, roles[r]) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cw := &chainWorker{id: id, svc: svc, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(cw.done); _ = w.Run(ctx) }()
	return cw
}

func (w *chainWorker) stop() {
	w.cancel()
	<-w.done
	// Bounded generously: a close cut short would leave the agents'
	// goroutines to goleak at the end of the package.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_ = w.svc.Close(ctx)
}

// A value never goes backwards through the chain: a VM's power state is
// toggled again and again while the workers' vSphere sessions are
// terminated (their update polls fail and their mirrors resync) and the
// owner worker is stopped (the other takes over) and started again (it
// owns the vCenter again, cold); after the chain first answers the new
// state, every later read answers it too.
func TestValueNeverGoesBackAcrossWorkers(t *testing.T) {
	c := startChain(t) // for the simulator and its agent configuration
	p, err := proxy.New(proxy.Options{Frontend: "tcp://127.0.0.1:0", Backend: "tcp://127.0.0.1:0", Mgmt: "tcp://127.0.0.1:0",
		MaxRequestBytes: 1 << 20, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Serve(t, p)
	var mu sync.Mutex
	workers := map[string]*chainWorker{}
	start := func(id string) {
		w := startChainWorker(t, id, c.agentConfig, p.Addrs().Backend)
		mu.Lock()
		workers[id] = w
		mu.Unlock()
	}
	t.Cleanup(func() {
		for _, w := range workers {
			w.stop()
		}
	})
	start("w1")
	start("w2")
	deadline := time.Now().Add(10 * time.Second)
	for len(p.Stats().WorkerConns) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cl := clienttest.New(t, p.Addrs().Frontend, client.Options{Timeout: 10 * time.Second, Retries: 2})
	ctx := context.Background()
	gc, err := govmomi.NewClient(ctx, c.sim.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = gc.Logout(ctx) }()
	const name = "DC0_H0_VM0"
	vm := object.NewVirtualMachine(gc.Client, simVMs(t, gc)[name])
	read := func() string {
		r, err := cl.Call(ctx, &vpoller.Request{Method: "vm.get", Hostname: agentName, Name: name, Properties: []string{"runtime.powerState"}})
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if r.Failed() {
			return "failed: " + r.Msg
		}
		raw, _ := vpoller.Marshal(r.Result, vpoller.Python)
		for _, s := range []string{"poweredOn", "poweredOff"} {
			if strings.Contains(string(raw), s) {
				return s
			}
		}
		return string(raw)
	}
	state := read()
	stopped := ""
	for round := range 12 {
		switch round % 4 {
		case 1: // the update polls of every worker fail: their sessions end
			if n, err := terminateSessions(ctx, gc); err != nil || n == 0 {
				t.Fatalf("round %d: terminate sessions: %d %v", round, n, err)
			}
		case 2: // worker change: the owner goes, the other takes over
			owner := p.Stats().VCenters[agentName].Owner
			mu.Lock()
			w := workers[owner]
			delete(workers, owner)
			mu.Unlock()
			w.stop()
			stopped = owner
			// The proxy learns of the stop from the connection's close,
			// which it reads in its own time: wait for the change.
			deadline := time.Now().Add(10 * time.Second)
			now := p.Stats().VCenters[agentName].Owner
			for (now == owner || now == "") && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
				now = p.Stats().VCenters[agentName].Owner
			}
			if now == owner || now == "" {
				t.Fatalf("round %d: owner %q 10 s after %s stopped", round, now, owner)
			}
		case 3: // and comes back: it owns the vCenter again, cold
			start(stopped)
			deadline := time.Now().Add(10 * time.Second)
			for p.Stats().VCenters[agentName].Owner != stopped && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if now := p.Stats().VCenters[agentName].Owner; now != stopped {
				t.Fatalf("round %d: owner %q after %s came back", round, now, stopped)
			}
		}
		want := "poweredOff"
		var task *object.Task
		if state == "poweredOff" {
			want = "poweredOn"
			task, err = vm.PowerOn(ctx)
		} else {
			task, err = vm.PowerOff(ctx)
		}
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			t.Fatalf("round %d: power: %v", round, err)
		}
		// Until the chain answers the new state it may answer the old
		// one; from then on only the new one.
		seen := false
		for i := 0; i < 4000 && !seen; i++ {
			got := read()
			switch got {
			case want:
				seen = true
			case state:
				time.Sleep(5 * time.Millisecond)
			default:
				t.Fatalf("round %d: read %q while the state went %s -> %s", round, got, state, want)
			}
		}
		if !seen {
			t.Fatalf("round %d: the chain never answered %s", round, want)
		}
		for i := range 30 {
			if got := read(); got != want {
				t.Fatalf("round %d: read %d after the chain answered %s: %s (went backwards)", round, i, want, got)
			}
		}
		state = want
	}
}

// terminateSessions ends every session of the simulator but gc's, as an
// administrator would (SessionManager.TerminateSession).
func terminateSessions(ctx context.Context, gc *govmomi.Client) (int, error) {
	sm := session.NewManager(gc.Client)
	own, err := sm.UserSession(ctx)
	if err != nil {
		return 0, err
	}
	var m mo.SessionManager
	if err := property.DefaultCollector(gc.Client).RetrieveOne(ctx, sm.Reference(), []string{"sessionList"}, &m); err != nil {
		return 0, err
	}
	var ids []string
	for _, s := range m.SessionList {
		if s.Key != own.Key {
			ids = append(ids, s.Key)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return len(ids), sm.TerminateSession(ctx, ids)
}
