package plugin

import (
	"strings"
	"testing"
)

func TestParseCall(t *testing.T) {
	tests := []struct {
		key      string
		params   []string
		wantReq  string // vpoller.Request.Encode() of the built request
		endpoint string
	}{
		{"vpoller.discover", []string{"vm.discover", "vcsim.local"},
			`{"method": "vm.discover", "hostname": "vcsim.local", "name": null, "username": null, "password": null, "key": null, "properties": null, "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`, ""},
		{"vpoller.discover", []string{"vm.discover", "vcsim.local", "", "name,runtime.powerState", "", "prod"},
			`{"method": "vm.discover", "hostname": "vcsim.local", "name": null, "username": null, "password": null, "key": null, "properties": ["name", "runtime.powerState"], "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`, "prod"},
		// The C module's order: method,hostname,name,properties,key,username,password,counter-name,instance,perf-interval
		{"vpoller.poll", []string{"vm.get", "vc", "vm1", "runtime.powerState", "(null)", "", "", "", "", ""},
			`{"method": "vm.get", "hostname": "vc", "name": "vm1", "username": null, "password": null, "key": null, "properties": ["runtime.powerState"], "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`, ""},
		{"vpoller.poll", []string{"vm.process.get", "vc", "vm1", "", "nginx", "root", "s3cret"},
			`{"method": "vm.process.get", "hostname": "vc", "name": "vm1", "username": "root", "password": "s3cret", "key": "nginx", "properties": null, "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`, ""},
		{"vpoller.poll", []string{"vm.perf.metric.get", "vc", "vm1", "", "", "", "", "cpu.usage.average.percent", "*", "past day", "tcp://10.0.0.1:10123"},
			`{"method": "vm.perf.metric.get", "hostname": "vc", "name": "vm1", "username": null, "password": null, "key": null, "properties": ["value"], "counter-name": "cpu.usage.average.percent", "instance": "*", "max-sample": 1, "perf-interval": "past day", "helper": null}`, "tcp://10.0.0.1:10123"},
		{"vpoller.get", []string{"vm.get", "vc", "vm1", "name, runtime.powerState,summary.config.numCpu"},
			`{"method": "vm.get", "hostname": "vc", "name": "vm1", "username": null, "password": null, "key": null, "properties": ["name", "runtime.powerState", "summary.config.numCpu"], "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`, ""},
		{"vpoller.get", []string{"vm.future.method", "vc"},
			`{"method": "vm.future.method", "hostname": "vc", "name": null, "username": null, "password": null, "key": null, "properties": null, "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`, ""},
		{"vpoller.get", []string{"about", "vc"},
			`{"method": "about", "hostname": "vc", "name": null, "username": null, "password": null, "key": null, "properties": null, "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`, ""},
	}
	for _, tt := range tests {
		m, _ := metricByKey(tt.key)
		c, err := parseCall(m, tt.params)
		if err != nil {
			t.Errorf("%s%q: %v", tt.key, tt.params, err)
			continue
		}
		if got := string(c.req.Encode()); got != tt.wantReq {
			t.Errorf("%s%q:\n got %s\nwant %s", tt.key, tt.params, got, tt.wantReq)
		}
		if c.endpoint != tt.endpoint {
			t.Errorf("%s%q: endpoint %q, want %q", tt.key, tt.params, c.endpoint, tt.endpoint)
		}
	}
}

func TestParseCallErrors(t *testing.T) {
	tests := []struct {
		key    string
		params []string
		want   string
	}{
		{"vpoller.poll", nil, "the method parameter (1st) is required: vpoller.poll[method,hostname,<name>,<property>,<key>,<username>,<password>,<counter-name>,<instance>,<perf-interval>,<endpoint>]"},
		{"vpoller.discover", []string{"vm.discover"}, "the hostname parameter (2nd) is required"},
		{"vpoller.discover", []string{"vm.get", "vc", "vm1"}, "vm.get is not a discovery method: use vpoller.poll[...] for one value or vpoller.get[...] for the whole result"},
		{"vpoller.poll", []string{"vm.discover", "vc"}, "vm.discover is a discovery method: use vpoller.discover[vm.discover,...]"},
		{"vpoller.poll", []string{"net.host.get", "vc", "net1"}, "net.host.get returns no single value: use vpoller.get[net.host.get,...]"},
		{"vpoller.poll", []string{"vm.get", "vc", "vm1"}, "the property parameter (4th) is required for vm.get"},
		{"vpoller.poll", []string{"vm.get", "vc", "", "name"}, "vm.get needs the name parameter (3rd)"},
		{"vpoller.poll", []string{"vm.perf.metric.get", "vc", "vm1"}, "vm.perf.metric.get needs the counter-name parameter (8th)"},
		{"vpoller.poll", []string{"no.such.method", "vc"}, `unknown vPoller method "no.such.method"`},
		{"vpoller.discover", []string{"vm.disk.discover", "vc"}, "vm.disk.discover needs the name parameter (3rd)"},
		{"vpoller.discover", []string{"vm.discover", "vc", "", "", "", "", "extra"}, "too many parameters (7): vpoller.discover takes at most 6"},
		{"vpoller.get", []string{"vm.process.get", "vc", "vm1"}, "vm.process.get needs the username parameter (6th)"},
	}
	for _, tt := range tests {
		m, _ := metricByKey(tt.key)
		_, err := parseCall(m, tt.params)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s%q: error %v\nwant %q", tt.key, tt.params, err, tt.want)
		}
	}
}

func TestMetricTable(t *testing.T) {
	got := Metrics()
	if len(got) != 5 || got[0].Key != "vpoller.discover" || got[1].Key != "vpoller.poll" || got[2].Key != "vpoller.get" || got[3].Key != "vpoller.status" || got[4].Key != "vpoller.events" {
		t.Fatalf("%+v", got)
	}
	want := map[string]string{
		"vpoller.discover": "vpoller.discover[method,hostname,<name>,<properties>,<counter-name>,<endpoint>]",
		"vpoller.poll":     "vpoller.poll[method,hostname,<name>,<property>,<key>,<username>,<password>,<counter-name>,<instance>,<perf-interval>,<endpoint>]",
		"vpoller.get":      "vpoller.get[method,hostname,<name>,<properties>,<key>,<username>,<password>,<counter-name>,<instance>,<perf-interval>,<endpoint>]",
		"vpoller.status":   "vpoller.status[daemon,mgmt]",
		"vpoller.events":   "vpoller.events[hostname,<name>,<endpoint>]",
	}
	for _, m := range metrics {
		if m.signature() != want[m.key] {
			t.Errorf("%s: %s", m.key, m.signature())
		}
	}
}

// FuzzParseCall: any parameters give a request or an error, never a panic,
// and an accepted request always has a method and a hostname.
func FuzzParseCall(f *testing.F) {
	f.Add("vpoller.poll", "vm.get", "vc", "vm1", "runtime.powerState", "")
	f.Add("vpoller.discover", "vm.discover", "vc", "", "", "prod")
	f.Add("vpoller.get", "vm.get", "vc", "vm1", "a,b,,c", "tcp://x:1")
	f.Add("vpoller.poll", "vm.perf.metric.get", "vc", "vm1", "", "")
	f.Fuzz(func(t *testing.T, key, a, b, c, d, e string) {
		m, ok := metricByKey(key)
		if !ok {
			m = metrics[len(key)%len(metrics)]
		}
		call, err := parseCall(m, []string{a, b, c, d, e, a, b, c, d, e, a})
		if err != nil {
			return
		}
		if call.req.Method == "" || call.req.Hostname == "" {
			t.Fatalf("accepted without method/hostname: %+v", call.req)
		}
		_ = call.req.Encode()
	})
}
