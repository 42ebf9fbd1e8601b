package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/internal/config"
	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/lld/helpers"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/client/clienttest"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere"
)

// reloadDaemon starts a worker daemon whose vsphere_hosts_dir is the
// returned directory, holding files (name -> text, mode 0600), behind
// backend; its logs go to logs.
func reloadDaemon(t *testing.T, backend string, files map[string]string, logs *testutil.Buffer) (*Daemon, string) {
	t.Helper()
	dir := t.TempDir()
	hosts := filepath.Join(dir, "vsphere.d")
	if err := os.Mkdir(hosts, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		writeFile(t, hosts, name, text, 0o600)
	}
	cfgPath := writeFile(t, dir, "vpoller.conf", fmt.Sprintf("[worker]\nproxy = %s\nmgmt = ipc://%s\nvsphere_hosts_dir = vsphere.d\nid = reload-worker\n",
		backend, filepath.Join(dir, "worker.sock")), 0o644)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Start(context.Background(), cfg, DaemonOptions{Worker: Options{Formatters: helpers.Formatters()}, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("worker log:\n%s", logs.String())
		}
	})
	return d, hosts
}

// served is the vCenters the proxy has an owner for.
func served(p *proxy.Proxy) []string {
	var out []string
	for vc, s := range p.Stats().VCenters {
		if s.Owner != "" {
			out = append(out, vc)
		}
	}
	slices.Sort(out)
	return out
}

// A reload (what SIGHUP calls) adds one vCenter and removes another while
// clients keep asking a third through our proxy: none of their requests
// fails, the kept vCenter keeps its session (no second login), and the
// proxy learns the new set (the worker reconnects with its new
// announcement).
func TestReloadAddsAndRemovesWhileServing(t *testing.T) {
	p := startOurProxy(t)
	var logs testutil.Buffer
	d, hosts := reloadDaemon(t, p.Addrs().Backend, map[string]string{
		"keep.conf": "hostname = vc-keep\nsimulator = true\n",
		"gone.conf": "hostname = vc-gone\nsimulator = true\n",
	}, &logs)
	waitUntil(t, "the proxy to see both vCenters", func() bool { return slices.Equal(served(p), []string{"vc-gone", "vc-keep"}) })

	cl := clienttest.New(t, p.Addrs().Frontend, client.Options{Timeout: 10 * time.Second, Retries: 1})
	ask := func(vc string) (*vpoller.Response, error) {
		return cl.Call(context.Background(), &vpoller.Request{Method: "vm.get", Hostname: vc, Name: "DC0_H0_VM0",
			Properties: []string{"runtime.powerState"}})
	}
	okReply := func(r *vpoller.Response, err error) bool {
		return err == nil && !r.Failed() && strings.Contains(string(r.Encode(vpoller.Python)), "poweredOn")
	}
	if r, err := ask("vc-keep"); !okReply(r, err) {
		t.Fatalf("before the reload: %v %v", r, err)
	}
	logins := func() uint64 { return d.svc.Stats().Agents["vc-keep"].Session.Logins }
	if n := logins(); n != 1 {
		t.Fatalf("vc-keep logins %d", n)
	}

	// Four clients ask vc-keep without pause until told to stop.
	// phase: 0 before the reload, 1 from its start until the proxy has
	// the worker's new connection, 2 after.
	var (
		stop            atomic.Bool
		phase           atomic.Int32
		total, failed   atomic.Int64
		duringReload    atomic.Int64
		firstFail       atomic.Value
		wg              sync.WaitGroup
		afterReconnect  = make([]atomic.Int64, 4)
		reconnectedOnce atomic.Bool
	)
	for i := range 4 {
		wg.Go(func() {
			c := clienttest.New(t, p.Addrs().Frontend, client.Options{Timeout: 10 * time.Second, Retries: 1})
			for !stop.Load() {
				started, after := phase.Load(), reconnectedOnce.Load()
				r, err := c.Call(context.Background(), &vpoller.Request{Method: "vm.get", Hostname: "vc-keep", Name: "DC0_H0_VM0",
					Properties: []string{"runtime.powerState"}})
				total.Add(1)
				if started <= 1 && phase.Load() >= 1 {
					duringReload.Add(1) // in flight while the reload ran
				}
				if !okReply(r, err) {
					failed.Add(1)
					firstFail.CompareAndSwap(nil, fmt.Sprintf("%v %v", r, err))
				}
				if after {
					afterReconnect[i].Add(1)
				}
			}
		})
	}
	waitUntil(t, "requests before the reload", func() bool { return total.Load() >= 20 })

	phase.Store(1)
	if err := os.Remove(filepath.Join(hosts, "gone.conf")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, hosts, "new.conf", "hostname = vc-new\nsimulator = true\n", 0o600)
	ch, err := d.Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Added, []string{"vc-new"}) || !slices.Equal(ch.Removed, []string{"vc-gone"}) || len(ch.Changed) != 0 {
		t.Fatalf("change %+v", ch)
	}
	waitUntil(t, "the proxy to learn the new set", func() bool { return slices.Equal(served(p), []string{"vc-keep", "vc-new"}) })
	waitUntil(t, "the worker's new connection", func() bool {
		st := d.Worker().Stats()
		return st.Proxies[0].Connects == 2 && st.Connected
	})
	phase.Store(2)
	reconnectedOnce.Store(true)
	// Every client completes requests sent after the reconnection too.
	waitUntil(t, "requests after the reconnection", func() bool {
		for i := range afterReconnect {
			if afterReconnect[i].Load() < 3 {
				return false
			}
		}
		return true
	})
	stop.Store(true)
	wg.Wait()

	if failed.Load() != 0 {
		t.Errorf("%d of %d requests for vc-keep failed around the reload; first: %v", failed.Load(), total.Load(), firstFail.Load())
	}
	if duringReload.Load() == 0 {
		t.Errorf("no request was in flight during the reload (%d in all)", total.Load())
	}
	t.Logf("%d requests for vc-keep, %d of them in flight during the reload (proxy: %d re-dispatched), none failed",
		total.Load(), duringReload.Load(), p.Stats().Redispatched)
	if n := logins(); n != 1 {
		t.Errorf("vc-keep logged in %d times: its session was not kept", n)
	}
	if r, err := ask("vc-new"); !okReply(r, err) {
		t.Errorf("the added vCenter: %v %v", r, err)
	}
	if got := d.svc.Agents(); !slices.Equal(got, []string{"vc-keep", "vc-new"}) {
		t.Errorf("service agents %v", got)
	}
	if got := d.Worker().Agents(); !slices.Equal(got, []string{"vc-keep", "vc-new"}) {
		t.Errorf("announced %v", got)
	}
	if _, ok := d.Worker().Roles()["vc-gone"]; ok {
		t.Errorf("roles still list vc-gone: %v", d.Worker().Roles())
	}
	for _, want := range []string{`msg="vCenters reloaded" added=[vc-new] removed=[vc-gone] changed=[]`, "reconnecting to proxy to announce the new vCenters"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// A changed file replaces its vCenter's session; a file that no longer
// parses keeps its vCenter's previous definition (logged at ERROR with the
// path); a new file that does not parse adds nothing. No password is
// logged. Nothing changing the set keeps the proxy connection.
func TestReloadChangedAndBrokenFiles(t *testing.T) {
	b := newBackend(t, "127.0.0.1:0")
	var logs testutil.Buffer
	d, hosts := reloadDaemon(t, b.endpoint(), map[string]string{
		"a.conf": "hostname = vc-a\nsimulator = true\n",
		"b.conf": "hostname = vc-b\nsimulator = true\nusername = user\npassword = s3cret-b\n",
	}, &logs)
	c := b.next(t, 5*time.Second)
	if rep := ask(t, c, "1", request("vm.get", "vc-a", map[string]any{"name": "DC0_H0_VM0", "properties": []any{"runtime.powerState"},
		"helper": "vpoller.helpers.zabbix"})); string(rep) != `"poweredOn"` {
		t.Fatalf("reply %s", rep)
	}
	oldA, _ := d.svc.Agent("vc-a")

	writeFile(t, hosts, "a.conf", "hostname = vc-a\nsimulator = true\ntimeout = 5 ; changed\n", 0o600)
	bPath := writeFile(t, hosts, "b.conf", "hostname = vc-b\nsimulator = true\npassword = s3cret-b2\nbogus = 1\n", 0o600)
	cPath := writeFile(t, hosts, "c.conf", "hostname = vc-c\nport = https\n", 0o600)
	ch, err := d.Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Added) != 0 || len(ch.Removed) != 0 || !slices.Equal(ch.Changed, []string{"vc-a"}) {
		t.Fatalf("change %+v", ch)
	}
	newA, _ := d.svc.Agent("vc-a")
	if newA == oldA || newA.Config().Timeout != 5*time.Second {
		t.Errorf("vc-a not replaced: timeout %v", newA.Config().Timeout)
	}
	if bb, ok := d.svc.Agent("vc-b"); !ok || bb.Config().Password != "s3cret-b" {
		t.Errorf("vc-b lost its previous definition")
	}
	// The new session of vc-a answers.
	if rep := ask(t, c, "2", request("vm.get", "vc-a", map[string]any{"name": "DC0_H0_VM0", "properties": []any{"runtime.powerState"},
		"helper": "vpoller.helpers.zabbix"})); string(rep) != `"poweredOn"` {
		t.Fatalf("reply after the reload %s", rep)
	}
	out := logs.String()
	for _, want := range []string{
		`level=ERROR msg="vsphere host file not reloaded: its vCenter keeps its previous definition" file=` + bPath + ` vcenter=vc-b`,
		"unknown key bogus",
		`level=ERROR msg="vsphere host file not loaded" file=` + cPath,
		`msg="vCenters reloaded" added=[] removed=[] changed=[vc-a] vcenters=2 reannounced=false`,
		`agent.name=vc-a agent.host=vc-a agent.port=443`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("a password is in the log:\n%s", out)
	}
	if n := d.Worker().Stats().Proxies[0].Connects; n != 1 {
		t.Errorf("%d connections: an unchanged set reconnected", n)
	}
}

// The service's Update on its own: the counters of removed agents stay in
// the totals, and a closed service refuses updates.
func TestServiceUpdateKeepsTotals(t *testing.T) {
	svc, err := vsphere.NewService([]vsphere.AgentConfig{{Name: "vc-x", Simulator: true}}, vsphere.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := svc.Agent("vc-x")
	if _, err := a.Client(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := svc.Stats()
	if before.Logins != 1 {
		t.Fatalf("logins %d", before.Logins)
	}
	ch, err := svc.Update(nil)
	if err != nil || !slices.Equal(ch.Removed, []string{"vc-x"}) {
		t.Fatalf("%+v %v", ch, err)
	}
	if after := svc.Stats(); after.Logins != 1 || after.SOAPCalls < before.SOAPCalls {
		t.Errorf("totals went back: %+v -> %+v", before, after)
	}
	if _, err := svc.Update([]vsphere.AgentConfig{{Name: "bad", Port: -1}}); err == nil {
		t.Error("a bad configuration was taken")
	}
	if err := svc.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Update([]vsphere.AgentConfig{{Name: "vc-y", Simulator: true}}); err == nil {
		t.Error("Update after Close succeeded")
	}
}

// A vCenter whose file cannot be read is answered with the reason (the
// file and the fix), not "Unknown or missing agent name".
func TestUnavailableAnswered(t *testing.T) {
	svc, err := vsphere.NewService(nil, vsphere.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(context.Background())
	set := agentSet{bad: []badFile{{path: "/etc/vpoller/vsphere.d/vc01.conf", unreadable: true,
		err: fmt.Errorf("vsphere host file /etc/vpoller/vsphere.d/vc01.conf cannot be read (permission denied): run chown vpoller: ...")},
		{path: "/etc/vpoller/vsphere.d/broken.conf", err: fmt.Errorf("unknown key")}}}
	svc.SetUnavailable(set.unavailable())
	r := svc.Execute(context.Background(), &vpoller.Request{Method: "about", Hostname: "vc01"})
	want := "vCenter vc01 is not served by this worker: vsphere host file /etc/vpoller/vsphere.d/vc01.conf cannot be read (permission denied): run chown vpoller: ..."
	if !r.Failed() || r.Msg != want {
		t.Errorf("reply %q, want %q", r.Msg, want)
	}
	if r := svc.Execute(context.Background(), &vpoller.Request{Method: "about", Hostname: "broken"}); !strings.HasPrefix(r.Msg, vsphere.MsgUnknownAgent+` "broken": `) {
		t.Errorf("a file that is wrong, not unreadable: %q", r.Msg)
	}
}
