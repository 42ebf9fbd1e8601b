package vsphere

import (
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// The simulator's hosts share one stock health system (copied from its
// ESXi template): 90 numeric sensors, all green with reading 0 and no
// units ("VMware Rollup Health State", CPU caches, software components),
// and two green CPU packages. No real readings, scales or bad states, so
// simSensors sets them, server-side, through the simulator's object map
// (Model.Map(), the HostSystem's Runtime.HealthSystemRuntime) before the
// simulator serves, so the mirror's first read sees them: sensorHost gets
// five sensors (one per health state plus a second green one, unit
// modifiers -2, 0, 1, -3 and 0) and green memory/CPU elements; greenHost
// two green sensors and a yellow memory module; bareHost no health system
// at all (runtime.healthSystemRuntime unset, as on a host without a CIM
// provider). stockHost keeps the simulator's stock sensors. Each host gets
// a struct of its own: the stock one is shared by every host.
const (
	sensorHost = "DC0_H0"
	greenHost  = "DC0_C0_H0"
	bareHost   = "DC0_C0_H1"
	stockHost  = "DC0_C0_H2"
)

func state(key string) types.BaseElementDescription {
	return &types.ElementDescription{Description: types.Description{Label: key, Summary: key}, Key: key}
}

// hostSensors are the numeric sensors simSensors gives sensorHost.
var hostSensors = []types.HostNumericSensorInfo{
	{Name: "CPU1 Temp --- Normal", SensorType: "temperature", HealthState: state("green"), CurrentReading: 4500, UnitModifier: -2, BaseUnits: "Degrees C", RateUnits: "none"},
	{Name: "Fan1 --- Normal", SensorType: "fan", HealthState: state("green"), CurrentReading: 5400, UnitModifier: 0, BaseUnits: "RPM", RateUnits: "none"},
	{Name: "PSU1 Power", SensorType: "power", HealthState: state("yellow"), CurrentReading: 12, UnitModifier: 1, BaseUnits: "Watts", RateUnits: "none"},
	{Name: "System Board 12V", SensorType: "voltage", HealthState: state("red"), CurrentReading: 11875, UnitModifier: -3, BaseUnits: "Volts", RateUnits: "none"},
	{Name: "Chassis Intrusion", SensorType: "other", CurrentReading: 0, UnitModifier: 0, BaseUnits: "unspecified"}, // no healthState: unknown
}

func element(name, status string) types.BaseHostHardwareElementInfo {
	return &types.HostHardwareElementInfo{Name: name, Status: state(status)}
}

func simSensors(m *simulator.Model) {
	for _, e := range m.Map().All("HostSystem") {
		h := e.(*simulator.HostSystem)
		switch h.Name {
		case sensorHost:
			h.Runtime.HealthSystemRuntime = &types.HealthSystemRuntime{
				SystemHealthInfo: &types.HostSystemHealthInfo{NumericSensorInfo: append([]types.HostNumericSensorInfo(nil), hostSensors...)},
				HardwareStatusInfo: &types.HostHardwareStatusInfo{
					MemoryStatusInfo: []types.BaseHostHardwareElementInfo{element("Memory", "Green")},
					CpuStatusInfo:    []types.BaseHostHardwareElementInfo{element("CPU socket #0", "Green")},
				},
			}
		case greenHost:
			h.Runtime.HealthSystemRuntime = &types.HealthSystemRuntime{
				SystemHealthInfo: &types.HostSystemHealthInfo{NumericSensorInfo: []types.HostNumericSensorInfo{
					{Name: "CPU1 Temp", SensorType: "temperature", HealthState: state("green"), CurrentReading: 38, BaseUnits: "Degrees C"},
					{Name: "Fan1", SensorType: "fan", HealthState: state("green"), CurrentReading: 4200, BaseUnits: "RPM"},
				}},
				HardwareStatusInfo: &types.HostHardwareStatusInfo{
					MemoryStatusInfo: []types.BaseHostHardwareElementInfo{element("DIMM A1", "Yellow")},
					StorageStatusInfo: []types.HostStorageElementInfo{
						{HostHardwareElementInfo: types.HostHardwareElementInfo{Name: "Controller 0", Status: state("Green")}}},
				},
			}
		case bareHost:
			h.Runtime.HealthSystemRuntime = nil
		}
	}
}

func pyJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := vpoller.Marshal(v, vpoller.Python)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHostSensors: the three methods' values, with the mirror (the
// property joins it on first read) and without it (every read a
// RetrievePropertiesEx, values decoded from SOAP).
func TestHostSensors(t *testing.T) {
	t.Parallel()
	t.Run("mirror", func(t *testing.T) { testHostSensors(t, Options{}) })
	t.Run("direct", func(t *testing.T) { testHostSensors(t, direct) })
}

func testHostSensors(t *testing.T, opts Options) {
	s := newSim(t, opts, simSensors)
	ok := func(req vpoller.Request, msg string) *vpoller.Response {
		t.Helper()
		r := exec(t, s, req)
		if r.Success != 0 || r.Msg != msg {
			t.Fatalf("%s %s %s: %s", req.Method, req.Name, req.Key, r.Encode(vpoller.Python))
		}
		return r
	}

	// Discovery: every sensor in the host's order, health normalised.
	r := ok(vpoller.Request{Method: "host.sensor.discover", Name: sensorHost}, "Successfully discovered objects")
	want := `[{"name": "CPU1 Temp --- Normal", "sensorType": "temperature", "healthState": "green"}, ` +
		`{"name": "Fan1 --- Normal", "sensorType": "fan", "healthState": "green"}, ` +
		`{"name": "PSU1 Power", "sensorType": "power", "healthState": "yellow"}, ` +
		`{"name": "System Board 12V", "sensorType": "voltage", "healthState": "red"}, ` +
		`{"name": "Chassis Intrusion", "sensorType": "other", "healthState": "unknown"}]`
	if got := pyJSON(t, r.Result); got != want {
		t.Errorf("host.sensor.discover:\n got %s\nwant %s", got, want)
	}
	// ... and as Zabbix LLD.
	d, err := lld.Discovery(&vpoller.Request{Method: "host.sensor.discover"}, r, vpoller.Compact)
	if err != nil || !strings.Contains(string(d), `{"{#VSPHERE.HOST.SENSOR.NAME}":"PSU1 Power","{#VSPHERE.HOST.SENSOR.SENSORTYPE}":"power","{#VSPHERE.HOST.SENSOR.HEALTHSTATE}":"yellow"}`) {
		t.Errorf("LLD: %s, %v", d, err)
	}

	// One sensor: the reading scaled by 10^unitModifier.
	for _, tc := range []struct {
		sensor, health string
		reading, mod   int64
		value          float64
	}{
		{"CPU1 Temp --- Normal", "green", 4500, -2, 45.0},
		{"Fan1 --- Normal", "green", 5400, 0, 5400.0},
		{"PSU1 Power", "yellow", 12, 1, 120.0},
		{"System Board 12V", "red", 11875, -3, 11.875},
		{"Chassis Intrusion", "unknown", 0, 0, 0.0},
	} {
		req := vpoller.Request{Method: "host.sensor.get", Name: sensorHost, Key: tc.sensor, Properties: []string{"value"}}
		r := ok(req, "Successfully retrieved properties")
		l, _ := r.Result.([]any)
		if len(l) != 1 {
			t.Fatalf("%s: %s", tc.sensor, r.Encode(vpoller.Python))
		}
		if keysOf(l[0]) != "name,sensorType,healthState,currentReading,unitModifier,baseUnits,value" {
			t.Errorf("%s: keys %s", tc.sensor, keysOf(l[0]))
		}
		if field(l[0], "name") != tc.sensor || field(l[0], "healthState") != tc.health || field(l[0], "currentReading") != tc.reading ||
			field(l[0], "unitModifier") != tc.mod || field(l[0], "value") != tc.value {
			t.Errorf("%s: %s", tc.sensor, pyJSON(t, l[0]))
		}
		// The zabbix helper and vpoller.poll take result[-1][properties[0]].
		if v, err := lld.Item(&req, r); err != nil || v != tc.value {
			t.Errorf("%s: item %v, %v; want %v", tc.sensor, v, err, tc.value)
		}
	}
	r = ok(vpoller.Request{Method: "host.sensor.get", Name: sensorHost, Key: "CPU1 Temp --- Normal"}, "Successfully retrieved properties")
	if got, want := pyJSON(t, r.Result), `[{"name": "CPU1 Temp --- Normal", "sensorType": "temperature", "healthState": "green", "currentReading": 4500, "unitModifier": -2, "baseUnits": "Degrees C", "value": 45.0}]`; got != want {
		t.Errorf("host.sensor.get:\n got %s\nwant %s", got, want)
	}

	// Health rollups.
	for _, tc := range []struct{ host, want string }{
		// A red sensor makes the hardware red; vCenter's overallStatus is its own.
		{sensorHost, `[{"name": "DC0_H0", "overallStatus": "green", "hardwareStatus": "red", "sensors": 5, "green": 2, "yellow": 1, "red": 1, "unknown": 1}]`},
		// Green sensors, a yellow memory module: yellow (elements are not counted as sensors).
		{greenHost, `[{"name": "DC0_C0_H0", "overallStatus": "green", "hardwareStatus": "yellow", "sensors": 2, "green": 2, "yellow": 0, "red": 0, "unknown": 0}]`},
		// No health system: nothing known, not an error.
		{bareHost, `[{"name": "DC0_C0_H1", "overallStatus": "green", "hardwareStatus": "unknown", "sensors": 0, "green": 0, "yellow": 0, "red": 0, "unknown": 0}]`},
	} {
		r := ok(vpoller.Request{Method: "host.health.get", Name: tc.host}, "Successfully retrieved properties")
		if got := pyJSON(t, r.Result); got != tc.want {
			t.Errorf("host.health.get %s:\n got %s\nwant %s", tc.host, got, tc.want)
		}
	}
	req := vpoller.Request{Method: "host.health.get", Name: sensorHost, Properties: []string{"red"}}
	if v, err := lld.Item(&req, exec(t, s, req)); err != nil || v != int64(1) {
		t.Errorf("host.health.get item red: %v, %v", v, err)
	}

	// A host without a health system: an empty discovery.
	r = ok(vpoller.Request{Method: "host.sensor.discover", Name: bareHost}, "Successfully discovered objects")
	if got := pyJSON(t, r.Result); got != `[]` {
		t.Errorf("host.sensor.discover %s: %s", bareHost, got)
	}
	// The simulator's stock sensors: 90, all green, reading 0.
	r = ok(vpoller.Request{Method: "host.sensor.discover", Name: stockHost}, "Successfully discovered objects")
	if l := r.Result.([]any); len(l) != 90 || pyJSON(t, l[0]) != `{"name": "VMware Rollup Health State", "sensorType": "system", "healthState": "green"}` {
		t.Errorf("host.sensor.discover %s: %d sensors, first %s", stockHost, len(l), pyJSON(t, l[0]))
	}
	r = ok(vpoller.Request{Method: "host.sensor.get", Name: stockHost, Key: "VMware Rollup Health State"}, "Successfully retrieved properties")
	if got, want := pyJSON(t, r.Result), `[{"name": "VMware Rollup Health State", "sensorType": "system", "healthState": "green", "currentReading": 0, "unitModifier": 0, "baseUnits": "", "value": 0.0}]`; got != want {
		t.Errorf("host.sensor.get %s:\n got %s\nwant %s", stockHost, got, want)
	}
	r = ok(vpoller.Request{Method: "host.health.get", Name: stockHost}, "Successfully retrieved properties")
	if got, want := pyJSON(t, r.Result), `[{"name": "DC0_C0_H2", "overallStatus": "green", "hardwareStatus": "green", "sensors": 90, "green": 90, "yellow": 0, "red": 0, "unknown": 0}]`; got != want {
		t.Errorf("host.health.get %s:\n got %s\nwant %s", stockHost, got, want)
	}

	// Errors.
	for _, tc := range []struct {
		req vpoller.Request
		msg string
	}{
		{vpoller.Request{Method: "host.sensor.get", Name: sensorHost, Key: "nope"}, "Cannot find sensor nope on host DC0_H0"},
		{vpoller.Request{Method: "host.sensor.get", Name: bareHost, Key: "Fan1"}, "Cannot find sensor Fan1 on host DC0_C0_H1"},
		{vpoller.Request{Method: "host.sensor.get", Name: sensorHost}, "Invalid task request"}, // key is required
		{vpoller.Request{Method: "host.sensor.get", Name: "nope", Key: "Fan1"}, "Cannot find object nope"},
		{vpoller.Request{Method: "host.sensor.discover", Name: "nope"}, "Cannot find object nope"},
		{vpoller.Request{Method: "host.health.get", Name: "nope"}, "Cannot find object nope"},
		{vpoller.Request{Method: "host.health.get"}, "Invalid task request"},
		// A VM's name is not a host's.
		{vpoller.Request{Method: "host.health.get", Name: "DC0_H0_VM0"}, "Cannot find object DC0_H0_VM0"},
	} {
		r := exec(t, s, tc.req)
		if r.Success != 1 || r.Msg != tc.msg || r.Result != nil {
			t.Errorf("%s %s %q: got %s, want %q", tc.req.Method, tc.req.Name, tc.req.Key, r.Encode(vpoller.Python), tc.msg)
		}
	}
}

// TestHostSensorsFromTheMirror: the sensor path joins the mirror after its
// first read; a later change of a reading (set server-side through the
// simulator's map and reported to its property collectors, as an ESXi
// host's health system would) reaches host.sensor.get and host.health.get
// with no RetrievePropertiesEx.
func TestHostSensorsFromTheMirror(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{}, simSensors)
	a := agent(t, s)
	get := func(sensor string) any {
		t.Helper()
		r := exec(t, s, vpoller.Request{Method: "host.sensor.get", Name: sensorHost, Key: sensor})
		if r.Success != 0 {
			t.Fatal(string(r.Encode(vpoller.Python)))
		}
		return field(r.Result.([]any)[0], "value")
	}
	watched := func() int { return s.Stats().Agents["sim"].Objects.Mirror.WatchedPaths["HostSystem"] }
	start := watched()
	if got := get("CPU1 Temp --- Normal"); got != 45.0 {
		t.Fatalf("first read: %v", got)
	}
	exec(t, s, vpoller.Request{Method: "host.health.get", Name: sensorHost})
	eventually(t, 5*time.Second, "sensor paths joined", func() bool { return watched() >= start+2 })

	changed := append([]types.HostNumericSensorInfo(nil), hostSensors...)
	changed[0].CurrentReading, changed[0].HealthState = 9150, state("red") // 91.5 degrees
	changed[2].HealthState = state("green")
	before := s.Stats()
	notify(t, a, lookup(t, a, objects.Host, sensorHost), pathSensors, changed)
	eventually(t, 10*time.Second, "new reading", func() bool { return get("CPU1 Temp --- Normal") == 91.5 })
	r := exec(t, s, vpoller.Request{Method: "host.health.get", Name: sensorHost})
	if got, want := pyJSON(t, r.Result), `[{"name": "DC0_H0", "overallStatus": "green", "hardwareStatus": "red", "sensors": 5, "green": 2, "yellow": 0, "red": 2, "unknown": 1}]`; got != want {
		t.Errorf("host.health.get after the change:\n got %s\nwant %s", got, want)
	}
	if _, by := calls(before, s.Stats()); by["RetrievePropertiesEx"] != 0 {
		t.Errorf("reads of the watched sensors went to vCenter: %v", by)
	}
}

// TestSensorValue: the scaling, including modifiers JSON cannot hold.
func TestSensorValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		reading int64
		mod     int32
		want    any
	}{
		{4500, -2, 45.0}, {1234, -2, 12.34}, {11875, -3, 11.875}, {7, 0, 7.0}, {-5, 1, -50.0}, {3, 3, 3000.0},
		{1, 400, nil}, {1, -400, 0.0},
	} {
		if got := sensorValue(types.HostNumericSensorInfo{CurrentReading: tc.reading, UnitModifier: tc.mod}); got != tc.want {
			t.Errorf("%d x 10^%d = %v, want %v", tc.reading, tc.mod, got, tc.want)
		}
	}
}
