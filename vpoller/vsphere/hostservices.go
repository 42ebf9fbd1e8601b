package vsphere

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Services and time of ESXi hosts (ours: the original has none). What
// hardening guides check on every host: SSH and the ESXi shell stopped,
// NTP configured and running, the clock right.
//
// host.service.get and host.ntp.get read configuration properties of the
// HostSystem (config.service, config.dateTimeInfo) through the store, so
// that warm reads come from the mirror (no vCenter call). The clock is not
// a property: host.time.get asks the host's HostDateTimeSystem
// (QueryDateTime), one call per request. The simulator has the services
// (all stopped but DCUI) but no dateTimeInfo and no HostDateTimeSystem:
// hostservices_test.go gives a host both, server-side.

const (
	pathServices       = "config.service"
	pathDateTimeInfo   = "config.dateTimeInfo"
	pathDateTimeSystem = "configManager.dateTimeSystem"

	// serviceNTP is the key of the NTP daemon among the host's services.
	serviceNTP = "ntpd"

	msgPropsRetrieved = "Successfully retrieved properties"
)

// hostValues reads paths (and name) of the host the request names.
func hostValues(ctx context.Context, a *Agent, req *vpoller.Request, paths ...string) (objects.Values, error) {
	ref, err := a.store.Lookup(ctx, objects.Host, req.Name)
	if err != nil {
		return nil, err
	}
	return a.store.Get(ctx, ref, req.Name, withName(paths))
}

// servicesOf returns the host services of a config.service value.
func servicesOf(v any) []types.HostService {
	if s := propAs[types.HostServiceInfo](v); s != nil {
		return s.Service
	}
	return nil
}

// hostServiceGet (host.service.get): the host's services in the host's
// order, [{"key" ("TSM-SSH", "TSM", "ntpd", ...), "label" ("SSH", "ESXi
// Shell", ...), "running", "policy" (on, off, automatic), "required"}].
// With a key, only that service, a list of one (so that vpoller.poll's
// property picks a field of it); a key the host does not have is an error
// ("Cannot find service <key> on host <host>").
func hostServiceGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	pv, err := hostValues(ctx, a, req, pathServices)
	if err != nil {
		return fail(req, err)
	}
	out := []any{}
	for _, s := range servicesOf(pv[pathServices]) {
		if req.Key != "" && s.Key != req.Key {
			continue
		}
		out = append(out, vpoller.Object{
			{Key: "key", Value: s.Key},
			{Key: "label", Value: s.Label},
			{Key: "running", Value: s.Running},
			{Key: "policy", Value: s.Policy},
			{Key: "required", Value: s.Required},
		})
	}
	if req.Key != "" && len(out) == 0 {
		return vpoller.Fail(fmt.Sprintf("Cannot find service %s on host %s", req.Key, req.Name))
	}
	return vpoller.OK(msgPropsRetrieved, out)
}

// hostNTPGet (host.ntp.get): the host's time configuration, [{"name",
// "ntpConfigured": at least one NTP server, "ntpServers": the servers
// joined by ", ", "ntpRunning": the ntpd service runs, "ntpPolicy": its
// start policy, "timeZone"}]. A host that reports no dateTimeInfo (the
// simulator's) has no servers; one without an ntpd service (none known)
// is not running NTP, policy "".
func hostNTPGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	pv, err := hostValues(ctx, a, req, pathDateTimeInfo, pathServices)
	if err != nil {
		return fail(req, err)
	}
	var servers []string
	zone := ""
	if dt := propAs[types.HostDateTimeInfo](pv[pathDateTimeInfo]); dt != nil {
		if dt.NtpConfig != nil {
			for _, s := range dt.NtpConfig.Server {
				if s = strings.TrimSpace(s); s != "" {
					servers = append(servers, s)
				}
			}
		}
		zone = dt.TimeZone.Name
	}
	running, policy := false, ""
	for _, s := range servicesOf(pv[pathServices]) {
		if s.Key == serviceNTP {
			running, policy = s.Running, s.Policy
		}
	}
	return vpoller.OK(msgPropsRetrieved, []any{vpoller.Object{
		{Key: pathName, Value: toValue(pv[pathName])},
		{Key: "ntpConfigured", Value: len(servers) > 0},
		{Key: "ntpServers", Value: strings.Join(servers, ", ")},
		{Key: "ntpRunning", Value: running},
		{Key: "ntpPolicy", Value: policy},
		{Key: "timeZone", Value: zone},
	}})
}

// hostTimeGet (host.time.get): the host's clock against the worker's,
// [{"name", "hostTime", "workerTime" (RFC 3339, UTC, milliseconds),
// "offset": host minus worker in seconds (3 decimals; positive: the host
// is ahead), "roundTrip": the call's duration in seconds}]. The worker's
// time is the middle of the QueryDateTime call, so that the network
// delay does not count as offset; the offset is only as good as the
// worker's own clock (keep it on NTP). One vCenter call per request: the
// clock is no property the mirror can keep. A host without a date/time
// system (the simulator's) fails: "Cannot query the time of host <host>:
// <fault>".
func hostTimeGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	pv, err := hostValues(ctx, a, req, pathDateTimeSystem)
	if err != nil {
		return fail(req, err)
	}
	dts := propAs[types.ManagedObjectReference](pv[pathDateTimeSystem])
	if dts == nil {
		return vpoller.Fail(fmt.Sprintf("Host %s has no date/time system", req.Name))
	}
	vc, err := a.Client(ctx)
	if err != nil {
		return fail(req, err)
	}
	t0 := time.Now()
	res, err := methods.QueryDateTime(ctx, vc, &types.QueryDateTime{This: *dts})
	t1 := time.Now()
	if err != nil {
		if ctx.Err() != nil || Unreachable(err) {
			return fail(req, err)
		}
		return vpoller.Fail(fmt.Sprintf("Cannot query the time of host %s: %v", req.Name, err))
	}
	rtt := t1.Sub(t0)
	worker := t0.Add(rtt / 2)
	host := res.Returnval
	const layout = "2006-01-02T15:04:05.000Z07:00"
	return vpoller.OK(msgPropsRetrieved, []any{vpoller.Object{
		{Key: pathName, Value: toValue(pv[pathName])},
		{Key: "hostTime", Value: host.UTC().Format(layout)},
		{Key: "workerTime", Value: worker.UTC().Format(layout)},
		{Key: "offset", Value: roundMilli(host.Sub(worker).Seconds())},
		{Key: "roundTrip", Value: roundMilli(rtt.Seconds())},
	}})
}

// roundMilli rounds seconds to milliseconds.
func roundMilli(s float64) float64 { return math.Round(s*1000) / 1000 }
