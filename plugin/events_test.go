package plugin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/internal/testutil"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/client"
	"github.com/vpoller/zabbix-vpoller/vpoller/proxy"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere"
	"github.com/vpoller/zabbix-vpoller/vpoller/worker"
)

const simVC = "vcsim.local"

// eventChain is a real vPoller in process: the proxy, one worker and its
// vSphere service with an embedded simulated vCenter (simVC), plus a
// govmomi client of that vCenter acting as another vSphere user.
type eventChain struct {
	endpoint string
	vc       *govmomi.Client
}

func startEventChain(t *testing.T) *eventChain {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := vsphere.NewService([]vsphere.AgentConfig{{Name: simVC, Simulator: true}}, vsphere.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(proxy.Options{Frontend: "tcp://127.0.0.1:0", Backend: "tcp://127.0.0.1:0", Mgmt: "tcp://127.0.0.1:0",
		MaxRequestBytes: 1 << 20, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Serve(t, p)
	w, err := worker.New(svc, worker.Options{Proxy: p.Addrs().Backend, Concurrency: 8, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		_ = svc.Close(cctx)
	})
	// The simulator starts with the agent's first request.
	if r := svc.Execute(context.Background(), &vpoller.Request{Method: "about", Hostname: simVC}); r.Failed() {
		t.Fatalf("simulator: %s", r.Msg)
	}
	a, _ := svc.Agent(simVC)
	vc, err := govmomi.NewClient(context.Background(), a.Simulator().URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vc.Logout(context.Background()) })
	return &eventChain{endpoint: p.Addrs().Frontend, vc: vc}
}

func (c *eventChain) powerOff(t *testing.T, vm string) {
	t.Helper()
	o, err := find.NewFinder(c.vc.Client).VirtualMachine(t.Context(), vm)
	if err != nil {
		t.Fatal(err)
	}
	task, err := o.PowerOff(t.Context())
	if err == nil {
		err = task.Wait(t.Context())
	}
	if err != nil {
		t.Fatal(err)
	}
}

// post posts n user events.
func (c *eventChain) post(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		_, err := methods.PostEvent(t.Context(), c.vc.Client, &types.PostEvent{This: *c.vc.ServiceContent.EventManager,
			EventToPost: &types.GeneralUserEvent{GeneralEvent: types.GeneralEvent{Event: types.Event{FullFormattedMessage: fmt.Sprintf("filler %d", i)}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

var eventLineRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (info|warning|error|user) \S+ \S.*: .*$`)

// TestEventsKey: a vpoller.events key starts at "now", then returns each
// new event once, one line each, through a real proxy and worker.
func TestEventsKey(t *testing.T) {
	c := startEventChain(t)
	p := newPlugin(t, c.endpoint)
	poll := func(params ...string) []string {
		t.Helper()
		v, err := export(p, "vpoller.events", 10*time.Second, params...)
		if err != nil {
			t.Fatalf("vpoller.events%q: %v", params, err)
		}
		for _, l := range lines(v) {
			if !eventLineRE.MatchString(l) {
				t.Errorf("line %q", l)
			}
		}
		return lines(v)
	}
	if got := poll(simVC); got != nil {
		t.Fatalf("first poll: %q, want nothing (it starts at now)", got)
	}
	if got := poll(simVC, "DC0_H0_VM1"); got != nil {
		t.Fatalf("first poll of the VM's key: %q", got)
	}
	c.powerOff(t, "DC0_H0_VM0")
	c.powerOff(t, "DC0_H0_VM1")
	got := poll(simVC)
	if len(got) != 4 || !strings.Contains(got[0], " info VmStoppingEvent DC0_H0_VM0: ") ||
		!strings.HasSuffix(got[1], " info VmPoweredOffEvent DC0_H0_VM0: DC0_H0_VM0 on DC0_H0 in DC0 is powered off") ||
		!strings.Contains(got[3], " info VmPoweredOffEvent DC0_H0_VM1: ") {
		t.Fatalf("second poll:\n%s", strings.Join(got, "\n"))
	}
	if now := time.Now().Format(EventTimeLayout); got[1][:13] != now[:13] { // local time, to the hour
		t.Errorf("time %q, now %q", got[1][:19], now)
	}
	if got := poll(simVC); got != nil {
		t.Fatalf("third poll: %q", got)
	}
	// The VM's key: its own events only, once.
	got = poll(simVC, "DC0_H0_VM1")
	if len(got) != 2 || !strings.Contains(got[0], " VmStoppingEvent DC0_H0_VM1: ") || !strings.Contains(got[1], " VmPoweredOffEvent DC0_H0_VM1: ") {
		t.Fatalf("the VM's key:\n%s", strings.Join(got, "\n"))
	}
	if got := poll(simVC, "DC0_H0_VM1"); got != nil {
		t.Fatalf("the VM's key again: %q", got)
	}
	// Events without an entity name the vCenter.
	c.post(t, 1)
	if got := poll(simVC); len(got) != 1 || !strings.HasSuffix(got[0], " info GeneralUserEvent "+simVC+": filler 0") {
		t.Fatalf("user event: %q", got)
	}
	if _, err := export(p, "vpoller.events", 5*time.Second, simVC, "no-such-vm"); err == nil || err.Error() != "Cannot find object no-such-vm" {
		t.Fatalf("unknown object: %v", err)
	}
	if _, err := export(p, "vpoller.events", 5*time.Second); err == nil || !strings.Contains(err.Error(), "the hostname parameter (1st) is required") {
		t.Fatalf("no hostname: %v", err)
	}
}

// TestEventsOverflow: more than 1,000 events since the last poll give
// the newest 1,000 after one line counting those skipped.
func TestEventsOverflow(t *testing.T) {
	c := startEventChain(t)
	p := newPlugin(t, c.endpoint)
	if v, err := export(p, "vpoller.events", 10*time.Second, simVC); v != "" || err != nil {
		t.Fatalf("first poll: %q %v", v, err)
	}
	c.post(t, 600)
	// Another key's first poll lets the worker read on (the simulator's
	// collector loses its place when over 1,000 events arrive unread).
	if _, err := export(p, "vpoller.events", 10*time.Second, simVC, "DC0"); err != nil {
		t.Fatal(err)
	}
	c.post(t, 600)
	v, err := export(p, "vpoller.events", 10*time.Second, simVC)
	if err != nil {
		t.Fatal(err)
	}
	got := lines(v)
	if len(got) != EventCap+1 || !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d warning vPollerEventsSkipped vcsim\.local: 200 events skipped \(more than 1000 since the last poll\)$`).MatchString(got[0]) ||
		!strings.HasSuffix(got[1], "filler 200") || !strings.HasSuffix(got[EventCap], "filler 599") {
		t.Fatalf("%d lines: %q ... %q", len(got), got[:2], got[len(got)-1])
	}
	if v, err := export(p, "vpoller.events", 10*time.Second, simVC); v != "" || err != nil {
		t.Fatalf("after the overflow: %q %v", v, err)
	}
}

// TestEventsBadReplies: a failed or malformed reply is an item error,
// never a panic, and the position stays where it was.
func TestEventsBadReplies(t *testing.T) {
	p := New()
	row := func(key any) vpoller.Object {
		return vpoller.Object{{Key: "key", Value: key}, {Key: "createdTime", Value: "2026-11-30 17:04:22.123456+00:00"},
			{Key: "eventType", Value: "VmPoweredOffEvent"}, {Key: "severity", Value: "info"}, {Key: "message", Value: "off\nand out"},
			{Key: "entity", Value: "vm1"}, {Key: "entityMoRef", Value: "vm-1"}, {Key: "userName", Value: nil}}
	}
	var reply *vpoller.Response
	var asked []string
	p.send = func(ctx context.Context, s Session, _ client.Policy, req *vpoller.Request) (*vpoller.Response, error) {
		asked = append(asked, req.Key)
		if req.Key == "" { // the first poll's newest key
			return vpoller.OK("Successfully retrieved events", []any{row(int64(41))}), nil
		}
		return reply, nil
	}
	if v, err := export(p, "vpoller.events", time.Second, "vc"); v != "" || err != nil {
		t.Fatalf("first poll: %q %v", v, err)
	}
	for _, bad := range []*vpoller.Response{
		vpoller.Fail("Unknown or missing task/method name"),
		vpoller.OK("ok", vpoller.Object{{Key: "key", Value: 1}}),
		vpoller.OK("ok", []any{"x"}),
		vpoller.OK("ok", []any{vpoller.Object{{Key: "key", Value: "forty-two"}}}),
		vpoller.OK("ok", []any{vpoller.Object{}}),
		vpoller.OK("ok", []any{row(1.5)}),
	} {
		reply = bad
		if v, err := export(p, "vpoller.events", time.Second, "vc"); err == nil {
			t.Errorf("%+v: %q, want an error", bad, v)
		}
	}
	// Rows the position has passed are left out; odd fields still make a line.
	odd := row(int64(43))
	odd.Set("createdTime", "yesterday")
	odd.Set("severity", nil)
	odd.Set("entity", nil)
	reply = vpoller.OK("Successfully retrieved events", []any{row(int64(40)), row(int64(42)), odd})
	v, err := export(p, "vpoller.events", time.Second, "vc")
	want := time.Date(2026, 11, 30, 17, 4, 22, 0, time.UTC).In(time.Local).Format(EventTimeLayout) + " info VmPoweredOffEvent vm1: off and out\n" +
		"yesterday info VmPoweredOffEvent vm-1: off and out"
	if err != nil || v != want {
		t.Fatalf("got %q %v\nwant %q", v, err, want)
	}
	for _, k := range asked[1:7] {
		if k != "41" {
			t.Errorf("the failed polls asked after %q, want 41 each time", k)
		}
	}
	reply = vpoller.OK("Successfully retrieved events", []any{})
	if v, err := export(p, "vpoller.events", time.Second, "vc"); v != "" || err != nil || asked[len(asked)-1] != "43" {
		t.Fatalf("next poll: %q %v after %s", v, err, asked[len(asked)-1])
	}
}

// TestEventPositionsBounded: positions of keys not polled for a day are
// forgotten, and at most maxEventKeys are kept.
func TestEventPositionsBounded(t *testing.T) {
	var ps eventPositions
	start := time.Now()
	ps.get("a", "", "", start).started = true
	ps.get("b", "", "", start.Add(time.Hour))
	if ps.get("a", "", "", start.Add(2*time.Hour)); ps.size() != 2 {
		t.Fatalf("%d positions", ps.size())
	}
	if ps.get("c", "", "", start.Add(25*time.Hour+time.Minute)); ps.size() != 2 || !ps.get("a", "", "", start.Add(25*time.Hour+2*time.Minute)).started {
		t.Fatalf("after a day: %d positions, want a and c (b unused for 24 h)", ps.size())
	}
	for i := range maxEventKeys + 10 {
		ps.get(fmt.Sprint("k", i), "", "", start.Add(26*time.Hour+time.Duration(i)*time.Millisecond))
	}
	if ps.size() != maxEventKeys {
		t.Fatalf("%d positions, want at most %d", ps.size(), maxEventKeys)
	}
}
