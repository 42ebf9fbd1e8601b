package vsphere

import (
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

func TestPyTime(t *testing.T) {
	t.Parallel()
	utc := time.Date(2015, 2, 13, 9, 16, 50, 916096000, time.UTC)
	tests := []struct {
		in   time.Time
		want string
	}{
		{utc, "2015-02-13 09:16:50.916096+00:00"},
		{utc.Add(789 * time.Nanosecond), "2015-02-13 09:16:50.916096+00:00"}, // below microseconds dropped
		{time.Date(2015, 2, 13, 9, 16, 50, 0, time.UTC), "2015-02-13 09:16:50+00:00"},
		{time.Date(2015, 2, 13, 9, 16, 50, 500, time.UTC), "2015-02-13 09:16:50+00:00"},
		{time.Date(2015, 2, 13, 9, 16, 50, 1000, time.FixedZone("", 5*3600+1800)), "2015-02-13 09:16:50.000001+05:30"},
		{time.Date(2015, 2, 13, 9, 16, 50, 0, time.FixedZone("", -3600)), "2015-02-13 09:16:50-01:00"},
	}
	for _, tc := range tests {
		if got := pyTime(tc.in); got != tc.want {
			t.Errorf("pyTime(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestToValue(t *testing.T) {
	t.Parallel()
	boot := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	ref := types.ManagedObjectReference{Type: "HostSystem", Value: "host-30"}
	tests := []struct {
		name string
		in   any
		want string // Python-encoded
	}{
		{"nil", nil, `null`},
		{"enum", types.VirtualMachinePowerStatePoweredOn, `"poweredOn"`},
		{"int32", int32(67), `67`},
		{"int64", int64(1) << 40, `1099511627776`},
		{"float32", float32(0.1), `0.1`},
		{"float64", 12.5, `12.5`},
		{"bool", true, `true`},
		{"time", boot, `"2020-01-02 03:04:05+00:00"`},
		{"time pointer", &boot, `"2020-01-02 03:04:05+00:00"`},
		{"nil time pointer", (*time.Time)(nil), `null`},
		{"moref", ref, `"host-30"`},
		{"moref array", types.ArrayOfManagedObjectReference{ManagedObjectReference: []types.ManagedObjectReference{ref, {Type: "HostSystem", Value: "host-31"}}}, `["host-30", "host-31"]`},
		{"string array", types.ArrayOfString{String: []string{"a", "b"}}, `["a", "b"]`},
		{"empty slice", []string{}, `[]`},
		{"data object", types.HostListSummaryQuickStats{OverallCpuUsage: 67, OverallMemoryUsage: 1024, Uptime: 5},
			`{"overallCpuUsage": 67, "overallMemoryUsage": 1024, "distributedCpuFairness": 0, "distributedMemoryFairness": 0, "availablePMemCapacity": 0, "uptime": 5}`},
		{"nested with pointer", types.VirtualMachineRuntimeInfo{Host: &ref, PowerState: "poweredOff", BootTime: &boot},
			``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := vpoller.Marshal(toValue(tc.in), vpoller.Python)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" && string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	ri := toValue(types.VirtualMachineRuntimeInfo{Host: &ref, PowerState: "poweredOff", BootTime: &boot}).(vpoller.Object)
	for k, want := range map[string]any{"host": "host-30", "powerState": "poweredOff", "bootTime": "2020-01-02 03:04:05+00:00", "maxCpuUsage": int64(0)} {
		if got, _ := ri.Get(k); got != want {
			t.Errorf("runtime.%s = %#v, want %#v", k, got, want)
		}
	}
	if v, _ := ri.Get("device"); v == nil {
		t.Errorf("runtime.device missing: %v", ri.Keys())
	}
	if v, _ := ri.Get("question"); v != nil {
		t.Errorf("unset runtime.question = %#v, want nil", v)
	}
}

func TestPyStr(t *testing.T) {
	t.Parallel()
	boot := time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC)
	for in, want := range map[any]string{nil: "None", true: "True", false: "False", int32(7): "7", "x": "x",
		types.VirtualMachinePowerStatePoweredOn: "poweredOn", boot: "2020-01-02 03:04:05.000006+00:00"} {
		if got := pyStr(in); got != want {
			t.Errorf("pyStr(%#v) = %q, want %q", in, got, want)
		}
	}
}

// FuzzToValue feeds arbitrary text, numbers and times through the
// converter: it must never panic and always produce encodable values.
func FuzzToValue(f *testing.F) {
	f.Add("poweredOn", int64(67), 12.5, int64(1423819010), int32(916096000), 0)
	f.Add("", int64(-1), -1.5, int64(0), int32(0), -3600)
	f.Fuzz(func(t *testing.T, s string, n int64, x float64, sec int64, nsec int32, off int) {
		tm := time.Unix(sec%(1<<40), int64(nsec)).In(time.FixedZone("", off%86400))
		in := []any{s, n, x, tm, types.ManagedObjectReference{Type: s, Value: s},
			types.ArrayOfString{String: []string{s}}, types.VirtualMachineRuntimeInfo{BootTime: &tm, PowerState: types.VirtualMachinePowerState(s)}}
		for _, v := range in {
			out := toValue(v)
			if _, err := vpoller.Marshal(out, vpoller.Python); err != nil && !strings.Contains(err.Error(), "NaN") && !strings.Contains(err.Error(), "Inf") {
				t.Fatalf("%#v -> %#v: %v", v, out, err)
			}
		}
		if got := pyTime(tm); len(got) < len("2006-01-02 15:04:05+00:00") {
			t.Fatalf("pyTime %q", got)
		}
	})
}
