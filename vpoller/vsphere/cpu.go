package vsphere

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// vmCPUInputs are the figures both CPU usage methods need.
type vmCPUInputs struct {
	name                 any
	usageMHz             int64 // summary.quickStats.overallCpuUsage
	numCPU, coresPerSock int64
	hostHz               int64 // host hardware.cpuInfo.hz
}

// vmCPU reads a VM's CPU usage and configuration (one call) and its host's
// core clock (one more).
func vmCPU(ctx context.Context, a *Agent, req *vpoller.Request) (*vmCPUInputs, *vpoller.Response) {
	ref, err := a.store.Lookup(ctx, objects.VM, req.Name)
	if err != nil {
		return nil, fail(req, err)
	}
	paths := []string{pathName, "runtime.host", "summary.quickStats.overallCpuUsage", "config.hardware.numCoresPerSocket", "config.hardware.numCPU"}
	pv, err := a.store.Get(ctx, ref, req.Name, paths)
	if err != nil {
		return nil, fail(req, err)
	}
	in := &vmCPUInputs{name: toValue(pv[pathName])}
	num := func(p string) (int64, bool) {
		n, ok := toValue(pv[p]).(int64)
		return n, ok
	}
	var ok bool
	if in.usageMHz, ok = num("summary.quickStats.overallCpuUsage"); !ok {
		return nil, vpoller.Fail(fmt.Sprintf("No CPU usage statistics for %s (summary.quickStats.overallCpuUsage is unset)", req.Name))
	}
	in.numCPU, _ = num("config.hardware.numCPU")
	in.coresPerSock, _ = num("config.hardware.numCoresPerSocket")
	if in.coresPerSock == 0 {
		in.coresPerSock = 1 // unset before vSphere 5: one core per socket
	}
	host, ok := pv["runtime.host"].(types.ManagedObjectReference)
	if !ok {
		return nil, vpoller.Fail(fmt.Sprintf("%s is not on a host", req.Name))
	}
	hv, err := a.store.Get(ctx, host, host.Value, []string{"hardware.cpuInfo.hz"})
	if err != nil {
		return nil, fail(req, err)
	}
	in.hostHz, _ = toValue(hv["hardware.cpuInfo.hz"]).(int64)
	if in.numCPU <= 0 || in.hostHz <= 0 {
		return nil, vpoller.Fail(fmt.Sprintf("No CPU configuration for %s (numCPU %d, host cpu hz %d)", req.Name, in.numCPU, in.hostHz))
	}
	return in, nil
}

// vmCPUUsagePercent (vm.cpu.usage.percent) keeps the ORIGINAL formula so
// that Zabbix history stays comparable:
//
//	overallCpuUsage * 1048576 / (hz * numCoresPerSocket * numCPU) * 100
//
// It mixes units (MHz scaled by 2^20, not 10^6) and divides by cores per
// socket a second time, so it is not a percentage of the VM's capacity;
// use vm.cpu.usage.pct for that. Result [{"name", "vm.cpu.usage.percent"}].
func vmCPUUsagePercent(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	in, bad := vmCPU(ctx, a, req)
	if bad != nil {
		return bad
	}
	v := float64(in.usageMHz) * 1048576 / float64(in.hostHz*in.coresPerSock*in.numCPU) * 100
	return vpoller.OK("Successfully retrieved properties", []any{vpoller.Object{{Key: pathName, Value: in.name}, {Key: "vm.cpu.usage.percent", Value: v}}})
}

// vmCPUUsagePct (vm.cpu.usage.pct, ours) is the VM's CPU usage as a
// percentage of its vCPU capacity:
//
//	overallCpuUsage MHz / (numCPU * host core MHz) * 100
//
// with host core MHz = hardware.cpuInfo.hz / 10^6. 100 means every vCPU
// busy for the whole sample. Result [{"name", "vm.cpu.usage.pct"}],
// rounded to two decimals.
func vmCPUUsagePct(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	in, bad := vmCPU(ctx, a, req)
	if bad != nil {
		return bad
	}
	v := float64(in.usageMHz) / (float64(in.numCPU) * float64(in.hostHz) / 1e6) * 100
	v = float64(int64(v*100+0.5)) / 100
	return vpoller.OK("Successfully retrieved properties", []any{vpoller.Object{{Key: pathName, Value: in.name}, {Key: "vm.cpu.usage.pct", Value: v}}})
}
