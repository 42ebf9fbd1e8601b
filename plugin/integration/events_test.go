package integration

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

// TestAgentEvents: vpoller.events through the real agents, the real
// proxy and worker processes and a simulated vCenter that this test
// acts on as a vSphere user. The first poll of a key returns nothing
// (it starts at "now"), the next one the power-off just made, the one
// after that nothing again.
func TestAgentEvents(t *testing.T) {
	t.Parallel()
	bins := agentBins(t)
	// The vCenter runs here, so that the test can power VMs off; the
	// worker reaches it as any vCenter, its certificate pinned.
	sim, err := session.StartSimulator("vpx", "user", "pass", slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	host, port, _ := net.SplitHostPort(sim.Host)
	ch := startDaemons(t, map[string]string{host + ".conf": fmt.Sprintf(
		"hostname = %s\nport = %s\nusername = user\npassword = pass\nthumbprint = %s\n", host, port, sim.Thumbprint)})
	ctx := context.Background()
	vc, err := govmomi.NewClient(ctx, sim.URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vc.Logout(ctx); vc.CloseIdleConnections() })

	line := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (info|warning|error|user) \S+ \S+: `)
	for i, bin := range bins {
		t.Run(bin.name, func(t *testing.T) {
			a := startAgent(t, bin, ch.endpoint)
			vm := fmt.Sprintf("DC0_H0_VM%d", i)
			all, own := "vpoller.events["+host+"]", "vpoller.events["+host+","+vm+"]"
			poll := func(key string) []string {
				t.Helper()
				v, err := passive(a.addr, key, 15*time.Second)
				if err != nil {
					t.Fatalf("%s: %v\nagent log:\n%s", key, err, a.logTail())
				}
				if v == "" {
					return nil
				}
				got := strings.Split(v, "\n")
				for _, l := range got {
					if !line.MatchString(l) {
						t.Errorf("%s: line %q", key, l)
					}
				}
				return got
			}
			for _, key := range []string{all, own} {
				if got := poll(key); got != nil {
					t.Fatalf("first poll of %s: %q, want nothing", key, got)
				}
			}
			o, err := find.NewFinder(vc.Client).VirtualMachine(ctx, vm)
			if err != nil {
				t.Fatal(err)
			}
			task, err := o.PowerOff(ctx)
			if err == nil {
				err = task.Wait(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			off := fmt.Sprintf(" info VmPoweredOffEvent %s: %s on DC0_H0 in DC0 is powered off", vm, vm)
			for _, key := range []string{all, own} {
				got := poll(key)
				t.Logf("%s:\n%s", key, strings.Join(got, "\n"))
				if len(got) != 2 || !strings.Contains(got[0], " info VmStoppingEvent "+vm+": ") || !strings.HasSuffix(got[1], off) {
					t.Fatalf("second poll of %s:\n%s\nwant the VmStoppingEvent and VmPoweredOffEvent of %s", key, strings.Join(got, "\n"), vm)
				}
				if got := poll(key); got != nil {
					t.Fatalf("third poll of %s: %q, want nothing", key, got)
				}
			}
		})
	}
}

// TestAgentEventsRestart: the real agent is stopped between two polls of
// vpoller.events and started again over the same state file; the 9 events
// made while it was down all arrive with the first poll after it is back,
// in order, none of those delivered before the restart comes again, and
// the poll after that is empty.
func TestAgentEventsRestart(t *testing.T) {
	t.Parallel()
	bins := agentBins(t)
	sim, err := session.StartSimulator("vpx", "user", "pass", slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	host, port, _ := net.SplitHostPort(sim.Host)
	ch := startDaemons(t, map[string]string{host + ".conf": fmt.Sprintf(
		"hostname = %s\nport = %s\nusername = user\npassword = pass\nthumbprint = %s\n", host, port, sim.Thumbprint)})
	ctx := context.Background()
	vc, err := govmomi.NewClient(ctx, sim.URL(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vc.Logout(ctx); vc.CloseIdleConnections() })
	post := func(t *testing.T, format string, n int) {
		t.Helper()
		for i := range n {
			_, err := methods.PostEvent(ctx, vc.Client, &types.PostEvent{This: *vc.ServiceContent.EventManager,
				EventToPost: &types.GeneralUserEvent{GeneralEvent: types.GeneralEvent{Event: types.Event{FullFormattedMessage: fmt.Sprintf(format, i)}}}})
			if err != nil {
				t.Fatal(err)
			}
		}
	}

	for i, bin := range bins {
		t.Run(bin.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "vpoller-events.json")
			stateOpt := "Plugins.VPoller.EventsStateFile=" + state
			vm := fmt.Sprintf("DC0_H0_VM%d", i)
			all, own := "vpoller.events["+host+"]", "vpoller.events["+host+","+vm+"]"
			poll := func(a *agent, key string) []string {
				t.Helper()
				v, err := passive(a.addr, key, 15*time.Second)
				if err != nil {
					t.Fatalf("%s: %v\nagent log:\n%s", key, err, a.logTail())
				}
				if v == "" {
					return nil
				}
				return strings.Split(v, "\n")
			}

			a := startAgent(t, bin, ch.endpoint, stateOpt)
			for _, key := range []string{all, own} {
				if got := poll(a, key); got != nil {
					t.Fatalf("first poll of %s: %q, want nothing", key, got)
				}
			}
			tag := "agent " + bin.name
			post(t, tag+" before %d", 2)
			if got := poll(a, all); len(got) != 2 || !strings.HasSuffix(got[1], ": "+tag+" before 1") {
				t.Fatalf("before the restart: %q", got)
			}
			a.stop()
			if a.running() {
				t.Fatal("the agent is still running")
			}

			// While the agent is down: 7 user events and a power-off (2 events).
			post(t, tag+" while down %d", 7)
			o, err := find.NewFinder(vc.Client).VirtualMachine(ctx, vm)
			if err != nil {
				t.Fatal(err)
			}
			task, err := o.PowerOff(ctx)
			if err == nil {
				err = task.Wait(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}

			b := startAgent(t, bin, ch.endpoint, stateOpt)
			got := poll(b, all)
			t.Logf("%s after the restart:\n%s", all, strings.Join(got, "\n"))
			if len(got) != 9 {
				t.Fatalf("first poll after the restart: %d lines, want the 9 events made while the agent was down (0 lost, none twice)", len(got))
			}
			for j := range 7 {
				if want := fmt.Sprintf(" info GeneralUserEvent %s: %s while down %d", host, tag, j); !strings.HasSuffix(got[j], want) {
					t.Errorf("line %d %q, want suffix %q", j, got[j], want)
				}
			}
			if !strings.Contains(got[7], " VmStoppingEvent "+vm+": ") || !strings.Contains(got[8], " VmPoweredOffEvent "+vm+": ") {
				t.Errorf("the power-off: %q", got[7:])
			}
			if got := poll(b, own); len(got) != 2 || !strings.Contains(got[0], " VmStoppingEvent "+vm+": ") || !strings.Contains(got[1], " VmPoweredOffEvent "+vm+": ") {
				t.Fatalf("%s after the restart: %q", own, got)
			}
			for _, key := range []string{all, own} {
				if got := poll(b, key); got != nil {
					t.Fatalf("second poll of %s after the restart: %q", key, got)
				}
			}
		})
	}
}
