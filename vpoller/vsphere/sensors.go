package vsphere

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// Hardware sensors and health of ESXi hosts (ours: the original has none).
// They read two properties of the HostSystem, both through the store
// (a.store.Get), so that after a first read from vCenter they join the
// watched mirror and later polls cost no vCenter call:
//
//   - runtime.healthSystemRuntime.systemHealthInfo.numericSensorInfo: the
//     host's IPMI/CIM numeric sensors (temperatures, fans, voltages, power
//     supplies...), each with a name, a type, a health state and a reading;
//   - runtime.healthSystemRuntime.hardwareStatusInfo: the status of the
//     host's memory, CPU packages, storage and DPU elements
//     (host.health.get only);
//
// and host.health.get also reads overallStatus (ManagedEntity). A host
// whose health system reports nothing (a disconnected host, a host without
// a CIM provider) has no sensors: an empty discovery, and a
// host.health.get of zero sensors and hardwareStatus "unknown". The
// simulator's hosts share a stock health system of 90 green sensors
// reading 0; sensors_test.go sets real-looking ones server-side.

const (
	pathSensors        = "runtime.healthSystemRuntime.systemHealthInfo.numericSensorInfo"
	pathHardwareStatus = "runtime.healthSystemRuntime.hardwareStatusInfo"
	pathOverallStatus  = "overallStatus"

	// maxSensors bounds a host.sensor.discover reply (real hosts have a
	// few hundred sensors at most); further sensors are left out.
	maxSensors = 1000
)

// Health states, worst last; every sensor and hardware element is counted
// under one of them.
const (
	healthUnknown = "unknown"
	healthGreen   = "green"
	healthYellow  = "yellow"
	healthRed     = "red"
)

// healthRank orders the states for the rollup: red is worse than yellow,
// yellow than green, and green than unknown (an unknown element does not
// hide a known green one: hosts often have discrete sensors that report
// no state).
var healthRank = map[string]int{healthUnknown: 0, healthGreen: 1, healthYellow: 2, healthRed: 3}

// healthOf normalises an ElementDescription key: sensors say "green",
// hardware elements "Green"; anything else, or no state, is "unknown".
func healthOf(d types.BaseElementDescription) string {
	if d == nil {
		return healthUnknown
	}
	e := d.GetElementDescription()
	if e == nil {
		return healthUnknown
	}
	k := strings.ToLower(strings.TrimSpace(e.Key))
	if _, ok := healthRank[k]; !ok {
		return healthUnknown
	}
	return k
}

// worse returns the worse of two states.
func worse(a, b string) string {
	if healthRank[b] > healthRank[a] {
		return b
	}
	return a
}

// sensorsOf returns the numeric sensors of a property value, as the
// mirror (ArrayOf wrapper) or a direct read may hold them.
func sensorsOf(v any) []types.HostNumericSensorInfo {
	switch s := v.(type) {
	case types.ArrayOfHostNumericSensorInfo:
		return s.HostNumericSensorInfo
	case *types.ArrayOfHostNumericSensorInfo:
		if s != nil {
			return s.HostNumericSensorInfo
		}
	case []types.HostNumericSensorInfo:
		return s
	}
	return nil
}

// hardwareOf returns the hardware status of a property value, or nil.
func hardwareOf(v any) *types.HostHardwareStatusInfo {
	switch h := v.(type) {
	case types.HostHardwareStatusInfo:
		return &h
	case *types.HostHardwareStatusInfo:
		return h
	}
	return nil
}

// sensorValue is currentReading x 10^unitModifier as a float; nil when
// it does not fit a float (a nonsense modifier), since JSON has no
// infinity. Negative modifiers divide by an exact power of ten, so 4500
// with -2 is exactly 45 and 11875 with -3 exactly 11.875.
func sensorValue(s types.HostNumericSensorInfo) any {
	r, m := float64(s.CurrentReading), int(s.UnitModifier)
	var v float64
	if m < 0 {
		v = r / math.Pow10(-m)
	} else {
		v = r * math.Pow10(m)
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return v
}

// hostHealth reads paths (and name) of the host the request names.
func hostHealth(ctx context.Context, a *Agent, req *vpoller.Request, paths ...string) (objects.Values, error) {
	ref, err := a.store.Lookup(ctx, objects.Host, req.Name)
	if err != nil {
		return nil, err
	}
	return a.store.Get(ctx, ref, req.Name, withName(paths))
}

// hostSensorDiscover (host.sensor.discover): the host's numeric sensors,
// LLD style: [{"name", "sensorType", "healthState"}], healthState one of
// green, yellow, red, unknown; at most maxSensors of them, in the host's
// order. A host without sensors: [].
func hostSensorDiscover(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	pv, err := hostHealth(ctx, a, req, pathSensors)
	if err != nil {
		return fail(req, err)
	}
	sensors := sensorsOf(pv[pathSensors])
	out := make([]any, 0, min(len(sensors), maxSensors))
	for _, s := range sensors {
		if len(out) == maxSensors {
			break
		}
		out = append(out, vpoller.Object{
			{Key: "name", Value: s.Name},
			{Key: "sensorType", Value: s.SensorType},
			{Key: "healthState", Value: healthOf(s.HealthState)},
		})
	}
	return vpoller.OK(msgDiscovered, out)
}

// hostSensorGet (host.sensor.get): the sensor of the host whose name is
// key (the first one if several share it): [{"name", "sensorType",
// "healthState", "currentReading", "unitModifier", "baseUnits", "value"}]
// where value = currentReading x 10^unitModifier (4500, -2 -> 45.0). A
// list of one, so that the zabbix helper and vpoller.poll take
// result[-1][property] (e.g. "value") as for any *.get.
func hostSensorGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	pv, err := hostHealth(ctx, a, req, pathSensors)
	if err != nil {
		return fail(req, err)
	}
	for _, s := range sensorsOf(pv[pathSensors]) {
		if s.Name != req.Key {
			continue
		}
		return vpoller.OK("Successfully retrieved properties", []any{vpoller.Object{
			{Key: "name", Value: s.Name},
			{Key: "sensorType", Value: s.SensorType},
			{Key: "healthState", Value: healthOf(s.HealthState)},
			{Key: "currentReading", Value: s.CurrentReading},
			{Key: "unitModifier", Value: int64(s.UnitModifier)},
			{Key: "baseUnits", Value: s.BaseUnits},
			{Key: "value", Value: sensorValue(s)},
		}})
	}
	return vpoller.Fail(fmt.Sprintf("Cannot find sensor %s on host %s", req.Key, req.Name))
}

// hostHealthGet (host.health.get): the host's hardware health rollup,
// [{"name": host, "overallStatus", "hardwareStatus", "sensors", "green",
// "yellow", "red", "unknown"}]:
//
//   - overallStatus: the host's overallStatus (gray, green, yellow, red),
//     vCenter's own rollup of alarms and configuration issues;
//   - hardwareStatus: the worst state (red > yellow > green > unknown) of
//     every numeric sensor and every memory, CPU, storage and DPU element
//     of hardwareStatusInfo; "unknown" when none reports a known state;
//   - sensors: the number of numeric sensors, and green, yellow, red,
//     unknown the number of them in each health state (they add up to
//     sensors; hardware elements are not counted).
func hostHealthGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	pv, err := hostHealth(ctx, a, req, pathOverallStatus, pathSensors, pathHardwareStatus)
	if err != nil {
		return fail(req, err)
	}
	sensors := sensorsOf(pv[pathSensors])
	count := map[string]int64{}
	status := healthUnknown
	for _, s := range sensors {
		h := healthOf(s.HealthState)
		count[h]++
		status = worse(status, h)
	}
	if hw := hardwareOf(pv[pathHardwareStatus]); hw != nil {
		for _, e := range hw.MemoryStatusInfo {
			status = worse(status, elementHealth(e))
		}
		for _, e := range hw.CpuStatusInfo {
			status = worse(status, elementHealth(e))
		}
		for _, e := range hw.StorageStatusInfo {
			status = worse(status, healthOf(e.Status))
		}
		for _, e := range hw.DpuStatusInfo {
			status = worse(status, healthOf(e.Status))
		}
	}
	overall := any(nil)
	if v, ok := pv[pathOverallStatus]; ok && v != nil {
		overall = toValue(v)
	}
	return vpoller.OK("Successfully retrieved properties", []any{vpoller.Object{
		{Key: pathName, Value: toValue(pv[pathName])},
		{Key: "overallStatus", Value: overall},
		{Key: "hardwareStatus", Value: status},
		{Key: "sensors", Value: int64(len(sensors))},
		{Key: healthGreen, Value: count[healthGreen]},
		{Key: healthYellow, Value: count[healthYellow]},
		{Key: healthRed, Value: count[healthRed]},
		{Key: healthUnknown, Value: count[healthUnknown]},
	}})
}

// elementHealth is healthOf for a memory or CPU element.
func elementHealth(e types.BaseHostHardwareElementInfo) string {
	if e == nil {
		return healthUnknown
	}
	info := e.GetHostHardwareElementInfo()
	if info == nil {
		return healthUnknown
	}
	return healthOf(info.Status)
}
