package helpers

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// constructedPlain holds, for fixtures captured only with a helper, the
// plain reply the stub task produced, rebuilt from the request and the
// result shapes in the spec (section 4). Fixtures with an "X plain"
// sibling use that capture instead.
var constructedPlain = map[string]string{
	"vm.get datetime zabbix":               `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "vm01", "p": "2015-02-13 09:16:50.916096+00:00"}]}`,
	"vm.get missing prop zabbix":           `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "vm01", "p": "poweredOn"}]}`,
	"vm.disk.discover zabbix":              `{"success": 0, "msg": "Successfully discovered objects", "result": [{"name": "vm01", "disk": [{"diskPath": "/", "capacity": 10737418240, "freeSpace": 5368709120}, {"diskPath": "C:\\", "capacity": 1, "freeSpace": 0}]}]}`,
	"vm.disk.get zabbix":                   `{"success": 0, "msg": "Successfully retrieved properties", "result": [{"name": "vm01", "disk": {"diskPath": "/", "capacity": 10737418240, "freeSpace": 5368709120}}]}`,
	"vm.disk.get win zabbix":               `{"success": 0, "msg": "Successfully retrieved properties", "result": [{"name": "vm01", "disk": {"diskPath": "C:\\", "capacity": 1, "freeSpace": 0}}]}`,
	"vm.disk.get nokey zabbix":             `{"success": 0, "msg": "Successfully retrieved properties", "result": [{"name": "vm01", "disk": [{"diskPath": "/", "capacity": 10737418240, "freeSpace": 5368709120}, {"diskPath": "C:\\", "capacity": 1, "freeSpace": 0}]}]}`,
	"vm.disk.get badkey zabbix":            `{"success": 1, "msg": "Unable to find guest disk /nope"}`,
	"vm.process.get zabbix all":            processes,
	"vm.process.get zabbix apache":         processes,
	"host.perf.metric.get zabbix value":    perfSamples,
	"host.perf.metric.get zabbix no props": perfSamples,
	"host.perf.metric.get zabbix empty":    `{"success": 0, "msg": "Successfully retrieved performance metrics", "result": []}`,
	"vm.perf.metric.info zabbix":           `{"success": 0, "msg": "Successfully retrieved performance metrics info", "result": [{"counterId": "net.usage.kiloBytesPerSecond.average", "instance": "vmnic0"}, {"counterId": "net.usage.kiloBytesPerSecond.average", "instance": ""}]}`,
	"vm.snapshot.get zabbix":               `{"success": 0, "msg": "Successfully retrieved snapshots", "result": [{"createTime": "2016-07-04 15:18:03.067982+00:00", "description": "", "id": 3, "name": "test-snapshot-1", "quiesced": "False", "state": "poweredOff"}]}`,
	"vm.guest.net.get zabbix":              `{"success": 0, "msg": "Successfully retrieved properties", "result": {"name": "vm01", "net": [{"network": "VM Network", "ipAddress": ["10.0.0.5", "fe80::250:56ff:fe01:2"], "macAddress": "00:50:56:01:02:03", "connected": true}]}}`,
	"session.get zabbix":                   `{"success": 0, "msg": "Successfully retrieved sessions", "result": [{"key": "52b5", "userName": "VSPHERE.LOCAL\\vpoller", "fullName": "vpoller ", "loginTime": "2015-02-13 09:16:50.916096+00:00", "lastActiveTime": "2015-02-13 09:17:50.916096+00:00", "ipAddress": "10.0.0.9", "userAgent": "None", "callCount": "42"}]}`,
	"resource.pool.vm.get zabbix":          `{"success": 0, "msg": "Successfully retrieved object properties", "result": [{"name": "vm01", "runtime.powerState": "poweredOn", "resourcePool.name": "rp1"}]}`,
	"host.net.get zabbix (unsupported)":    `{"success": 0, "msg": "Successfully retrieved object properties", "result": {"name": "esx1", "network": [{"name": "VM Network"}]}}`,
	"datastore.discover zabbix":            `{"success": 0, "msg": "Successfully discovered objects", "result": [{"name": "datastore1", "info.url": "ds:///vmfs/volumes/5190e2a7-d2b7c58e-b1e2-90b11c29079d/"}]}`,
	"error via zabbix":                     `{"success": 1, "msg": "Unable to find guest disk /nope"}`,
	"error via czabbix":                    `{"success": 1, "msg": "Unable to find guest disk /nope"}`,
	"C-module style message":               `{"success": 1, "msg": "Task lab.get failed", "traceback": "Traceback (most recent call last):\n"}`,
	"vm.discover czabbix":                  `{"success": 0, "msg": "Successfully discovered objects", "result": [{"name": "vm01"}, {"name": "vm02 \u00fcn\u00efcode"}]}`,
	"vm.discover cclient":                  `{"success": 0, "msg": "Successfully discovered objects", "result": [{"name": "vm01"}, {"name": "vm02 \u00fcn\u00efcode"}]}`,
}

const processes = `{"success": 0, "msg": "Successfully retrieved properties", "result": [{"cmdLine": "/usr/sbin/apache2 -k start"}, {"cmdLine": "/sbin/init"}, {"cmdLine": "/usr/sbin/apache2 -k start -DFOREGROUND"}]}`

const perfSamples = `{"success": 0, "msg": "Successfully retrieved performance metrics", "result": [{"interval": 20, "timestamp": "2015-02-13 09:16:30+00:00", "counterId": "net.usage.kiloBytesPerSecond.average", "instance": "", "value": 84}, {"interval": 20, "timestamp": "2015-02-13 09:16:50+00:00", "counterId": "net.usage.kiloBytesPerSecond.average", "instance": "", "value": 91}]}`

// deviations are the fixtures where we deliberately send something other
// than the original (docs/compatibility-helpers.md): the original's
// "Cannot send result: str objects only" said nothing about the cause.
var deviations = map[string]string{
	"vm.get dataobject zabbix":             `{"dynamicType": null, "dynamicProperty": [], "overallCpuUsage": 100, "overallCpuDemand": null, "guestMemoryUsage": 42, "hostMemoryUsage": null, "guestHeartbeatStatus": null, "distributedCpuEntitlement": null, "distributedMemoryEntitlement": null, "staticCpuEntitlement": null, "staticMemoryEntitlement": null, "privateMemory": null, "sharedMemory": null, "swappedMemory": null, "balloonedMemory": null, "consumedOverheadMemory": null, "ftLogBandwidth": null, "ftSecondaryLatency": null, "ftLatencyStatus": null, "compressedMemory": null, "uptimeSeconds": null, "ssdSwappedMemory": null}`,
	"vm.get mor zabbix":                    `{"_moId": "host-30", "_stub": null, "_serverGuid": null}`,
	"vm.get datetime zabbix":               `"2015-02-13 09:16:50.916096+00:00"`,
	"vm.disk.get nokey zabbix":             `[zbx-helper]: vm.disk.get: result holds a list of disks, not one (give the guest disk path as key)`,
	"host.perf.metric.get zabbix no props": `[zbx-helper]: host.perf.metric.get: the request names no property`,
	"host.perf.metric.get zabbix empty":    "[zbx-helper]: host.perf.metric.get: no performance samples in the result\x00",
}

// notApplicable are fixtures that do not exercise a helper of ours.
var notApplicable = map[string]string{
	"vm.discover csvhelper(not loaded)": "the original worker had not loaded csvhelper; TestCSV covers ours",
	"vm.discover unknown helper":        "covered by TestApplyUnknownHelper",
}

// plainFor returns the plain reply text for a helper fixture.
func plainFor(frames map[string]frame, title string) (string, bool) {
	if s, ok := constructedPlain[title]; ok {
		return s, true
	}
	for _, suffix := range []string{" zabbix", " czabbix"} {
		if base, ok := strings.CutSuffix(title, suffix); ok {
			if p, ok := frames[base+" plain"]; ok {
				return string(p.rep), true
			}
		}
	}
	return "", false
}

// TestFixtureHelpers runs every helper capture of the original worker
// through Apply, with the reply both as decoded from the wire and as the
// worker builds it, and compares bytes.
func TestFixtureHelpers(t *testing.T) {
	frames := readFrames(t)
	ran := 0
	for title, fx := range frames {
		req, err := vpoller.DecodeRequest(fx.req)
		if err != nil || req.Helper == "" {
			continue // management and error-path captures: no helper involved
		}
		if why, ok := notApplicable[title]; ok {
			t.Logf("%s: %s", title, why)
			continue
		}
		plain, ok := plainFor(frames, title)
		if !ok {
			t.Errorf("%s: no plain reply known for this helper capture", title)
			continue
		}
		want := fx.rep
		if d, ok := deviations[title]; ok {
			want = []byte(d)
			if req.Helper == CZabbix && !strings.HasSuffix(d, "\x00") {
				want = append(want, 0)
			}
		}
		wire, err := vpoller.DecodeResponse([]byte(plain))
		if err != nil {
			t.Fatalf("%s: plain reply: %v", title, err)
		}
		for form, resp := range map[string]*vpoller.Response{"wire": wire, "worker": workerForm(wire)} {
			got, ok := Apply(req.Helper, req, resp)
			if !ok {
				t.Errorf("%s (%s): helper %q not applied", title, form, req.Helper)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s (%s):\n got %q\nwant %q", title, form, got, want)
			}
		}
		ran++
	}
	// 36 captures name a helper; 2 are not applicable (above).
	if ran != 34 {
		t.Errorf("%d helper fixtures ran, want 34", ran)
	}
}

// workerForm converts a decoded reply into the shape the worker builds:
// lists of objects as []vpoller.Object, numbers as Go int64/float64.
func workerForm(r *vpoller.Response) *vpoller.Response {
	c := *r
	c.Result = toWorker(r.Result)
	return &c
}

func toWorker(v any) any {
	switch t := v.(type) {
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return n
		}
		f, _ := t.Float64()
		return f
	case vpoller.Object:
		out := make(vpoller.Object, len(t))
		for i, f := range t {
			out[i] = vpoller.Field{Key: f.Key, Value: toWorker(f.Value)}
		}
		return out
	case []any:
		objs := make([]vpoller.Object, 0, len(t))
		for _, x := range t {
			o, ok := x.(vpoller.Object)
			if !ok {
				out := make([]any, len(t))
				for i, y := range t {
					out[i] = toWorker(y)
				}
				return out
			}
			objs = append(objs, toWorker(o).(vpoller.Object))
		}
		if len(objs) == 0 {
			return []vpoller.Object{}
		}
		return objs
	}
	return v
}
