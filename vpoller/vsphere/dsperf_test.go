package vsphere

import (
	"fmt"
	"testing"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

// datastore.perf.hosts.get combines what every host mounting the
// datastore reports for it: latencies averaged, operations summed. Its
// value is checked against each host's own series (host.perf.metric.get,
// instance the datastore's UUID), read before and after; a round where
// the sweep moved in between is read again.
func TestDatastorePerfHosts(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	agent(t, s)
	disc := exec(t, s, vpoller.Request{Method: "host.datastore.discover", Name: "DC0_C0_H0"})
	if disc.Success != 0 || len(disc.Result.([]any)) == 0 {
		t.Fatalf("host.datastore.discover: %s", disc.Encode(vpoller.Python))
	}
	ds := disc.Result.([]any)[0]
	name, url, instance := field(ds, "name").(string), field(ds, "url").(string), field(ds, "instance").(string)
	hosts := names(t, exec(t, s, vpoller.Request{Method: "datastore.host.get", Name: url}))
	if len(hosts) < 2 {
		t.Fatalf("datastore %s mounted by %v: the test needs several hosts", name, hosts)
	}
	perHost := func(counter string) []int64 {
		t.Helper()
		var out []int64
		for _, h := range hosts {
			r := exec(t, s, vpoller.Request{Method: "host.perf.metric.get", Name: h, CounterName: counter, Instance: instance})
			list, _ := r.Result.([]any)
			if r.Success != 0 || len(list) == 0 {
				t.Fatalf("%s of %s: %s", counter, h, r.Encode(vpoller.Python))
			}
			out = append(out, field(list[len(list)-1], "value").(int64))
		}
		return out
	}
	for _, tc := range []struct {
		counter string
		combine func([]int64) any
	}{
		{"datastore.numberReadAveraged.number.average", func(v []int64) any {
			var n int64
			for _, x := range v {
				n += x
			}
			return n
		}},
		{"datastore.totalReadLatency.millisecond.average", func(v []int64) any {
			var n int64
			for _, x := range v {
				n += x
			}
			return float64(n) / float64(len(v))
		}},
	} {
		t.Run(tc.counter, func(t *testing.T) {
			for round := 0; ; round++ {
				before := perHost(tc.counter)
				r := exec(t, s, vpoller.Request{Method: "datastore.perf.hosts.get", Name: name, CounterName: tc.counter})
				after := perHost(tc.counter)
				if fmt.Sprint(before) != fmt.Sprint(after) {
					if round == 10 {
						t.Fatalf("the hosts' samples changed between every read: %v, %v", before, after)
					}
					continue
				}
				want := vpoller.OK("Successfully retrieved performance metrics", []any{vpoller.Object{
					{Key: "counterId", Value: tc.counter}, {Key: "instance", Value: instance},
					{Key: "hosts", Value: int64(len(hosts))}, {Key: "value", Value: tc.combine(before)}}}).Encode(vpoller.Python)
				if got := string(r.Encode(vpoller.Python)); got != string(want) {
					t.Fatalf("hosts' samples %v:\n got %s\nwant %s", before, got, want)
				}
				return
			}
		})
	}
	for _, tc := range []struct {
		req  vpoller.Request
		want string
	}{
		{vpoller.Request{Method: "datastore.perf.hosts.get", Name: name, CounterName: "cpu.usage.percent.average"},
			`{"success": 1, "msg": "Counter cpu.usage.percent.average is not a host counter of the datastore group (datastore.*)"}`},
		{vpoller.Request{Method: "datastore.perf.hosts.get", Name: "nope", CounterName: "datastore.numberReadAveraged.number.average"},
			`{"success": 1, "msg": "Cannot find object: nope"}`},
		{vpoller.Request{Method: "datastore.perf.hosts.get", Name: name, CounterName: "datastore.nosuch.number.average"},
			`{"success": 1, "msg": "Unknown performance counter requested"}`},
	} {
		if got := string(exec(t, s, tc.req).Encode(vpoller.Python)); got != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.req.Name, tc.req.CounterName, got, tc.want)
		}
	}
}
