package integration

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/session"
)

// TestAgentEvents: vpoller.events through the real agents, the real
// proxy and worker processes and a simulated vCenter that this test
// acts on as a vSphere user. The first poll of a key returns nothing
// (it starts at "now"), the next one the power-off just made, the one
// after that nothing again.
func TestAgentEvents(t *testing.T) {
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
