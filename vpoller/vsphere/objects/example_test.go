package objects_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// counter counts the SOAP calls a client makes, by method.
type counter struct {
	next soap.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func count(vc *vim25.Client) *counter {
	c := &counter{next: vc.RoundTripper, n: map[string]int{}}
	vc.RoundTripper = c
	return c
}

func (c *counter) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	c.mu.Lock()
	c.n[strings.TrimSuffix(reflect.TypeOf(req).Elem().Name(), "Body")]++
	c.mu.Unlock()
	return c.next.RoundTrip(ctx, req, res)
}

func (c *counter) calls(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[method]
}

// The mirror answers reads of watched properties without calling vCenter,
// and follows changes made by anyone through its WaitForUpdatesEx long
// poll.
func ExampleStore_Get() {
	simulator.Run(func(ctx context.Context, vc *vim25.Client) error {
		calls := count(vc)
		store, err := objects.New(objects.ClientFunc(func(context.Context) (*vim25.Client, error) { return vc, nil }), objects.Options{})
		if err != nil {
			return err
		}
		defer store.Close()

		// The owner of a vCenter syncs its mirror before the first request
		// (reads never wait for it: until then they go to vCenter).
		store.SetRole(objects.RoleOwner)
		if err := store.WaitSynced(ctx); err != nil {
			return err
		}
		const name = "DC0_H0_VM0"
		vm, err := store.Lookup(ctx, objects.VM, name)
		if err != nil {
			return err
		}
		paths := []string{"name", "runtime.powerState"}
		before := calls.calls("RetrievePropertiesEx")
		v, err := store.Get(ctx, vm, name, paths)
		if err != nil {
			return err
		}
		fmt.Println(v["name"], v["runtime.powerState"])

		task, err := object.NewVirtualMachine(vc, vm).PowerOff(ctx)
		if err != nil {
			return err
		}
		if err := task.Wait(ctx); err != nil {
			return err
		}
		for deadline := time.Now().Add(10 * time.Second); v["runtime.powerState"] != types.VirtualMachinePowerStatePoweredOff && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
			if v, err = store.Get(ctx, vm, name, paths); err != nil {
				return err
			}
		}
		fmt.Println(v["name"], v["runtime.powerState"])
		fmt.Println("RetrievePropertiesEx calls:", calls.calls("RetrievePropertiesEx")-before)
		return nil
	})
	// Output:
	// DC0_H0_VM0 poweredOn
	// DC0_H0_VM0 poweredOff
	// RetrievePropertiesEx calls: 0
}

// The sweep fetches a series once and answers the asks that follow from
// its latest fetch while that is fresh; rounds then refetch it at the pace
// it is asked.
func ExampleStore_Perf() {
	simulator.Run(func(ctx context.Context, vc *vim25.Client) error {
		calls := count(vc)
		store, err := objects.New(objects.ClientFunc(func(context.Context) (*vim25.Client, error) { return vc, nil }), objects.Options{})
		if err != nil {
			return err
		}
		defer store.Close()

		host, err := store.Lookup(ctx, objects.Host, "DC0_H0")
		if err != nil {
			return err
		}
		counter, _, err := store.Catalog().CounterID(ctx, "cpu.usage.percent.average")
		if err != nil {
			return err
		}
		q := objects.PerfQuery{Ref: host, Counter: counter, Interval: 20, MaxSample: 3}
		for range 5 {
			samples, err := store.Perf(ctx, q)
			if err != nil {
				return err
			}
			if len(samples) != 3 || !samples[0].At.Before(samples[2].At) {
				return fmt.Errorf("samples %v", samples)
			}
		}
		st := store.Stats().Sweep
		fmt.Println("QueryPerf calls for 5 asks:", calls.calls("QueryPerf"))
		fmt.Println("series in the sweep:", st.Series)
		fmt.Println("asks answered from the sweep:", st.Hits)
		return nil
	})
	// Output:
	// QueryPerf calls for 5 asks: 1
	// series in the sweep: 1
	// asks answered from the sweep: 4
}
