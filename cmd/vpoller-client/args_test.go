package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vpoller/zabbix-vpoller/vpoller"
)

func TestParseArgsFields(t *testing.T) {
	cfg, err := parseArgs(strings.Fields(
		"-m vm.process.get -V vc01 -n vm1 -p a,b -k /var -U root -P s3cret -c cpu.usage.percent.average " +
			"-i vmnic0 -s 5 -T Past -H vpoller.helpers.zabbix -e tcp://10.0.0.1:10123 -r 7 -t 2500 -D"))
	if err != nil {
		t.Fatal(err)
	}
	want := &config{
		Request: vpoller.Request{
			Method: "vm.process.get", Hostname: "vc01", Name: "vm1", Properties: []string{"a", "b"},
			Key: "/var", Username: "root", Password: "s3cret", CounterName: "cpu.usage.percent.average",
			Instance: "vmnic0", MaxSample: 5, PerfInterval: "Past", Helper: "vpoller.helpers.zabbix",
		},
		Endpoint: "tcp://10.0.0.1:10123", Retries: 7, Timeout: 2500 * time.Millisecond, Debug: true,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("parseArgs:\n got %+v\nwant %+v", cfg, want)
	}

	// The long names of the original land in the same fields.
	long, err := parseArgs([]string{"--method", "vm.process.get", "--vsphere-host", "vc01", "--name", "vm1",
		"--properties", "a,b", "--key", "/var", "--username", "root", "--password", "s3cret",
		"--counter-name", "cpu.usage.percent.average", "--instance", "vmnic0", "--max-sample", "5",
		"--perf-interval", "Past", "--helper", "vpoller.helpers.zabbix", "--endpoint", "tcp://10.0.0.1:10123",
		"--retries", "7", "--timeout", "2500", "--debug"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(long, want) {
		t.Errorf("long flags:\n got %+v\nwant %+v", long, want)
	}
}

func TestParseArgsDefaults(t *testing.T) {
	cfg, err := parseArgs([]string{"-m", "about", "-V", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint != "tcp://localhost:10123" || cfg.Retries != 3 || cfg.Timeout != 10*time.Second || cfg.Debug {
		t.Errorf("defaults = %+v", cfg)
	}
	if cfg.Request.Properties != nil || cfg.Request.MaxSample != 0 {
		t.Errorf("unset -p/-s must stay unset: %+v", cfg.Request)
	}
}

func TestParseArgsHelpVersionAndErrors(t *testing.T) {
	for _, tc := range []struct {
		args    string
		help    bool
		version bool
		err     string
	}{
		{args: "-h", help: true},
		{args: "--help", help: true},
		{args: "--version", version: true},
		{args: "-V x", err: "-m <method> is required"},
		{args: "-m about", err: "-V <host> is required"},
		{args: "-m about -V x -t 0", err: "-t <timeout> must be"},
		{args: "-m about -V x -t ten", err: "-t <timeout> must be"},
		{args: "-m about -V x -r -1", err: "-r <retries> must be"},
		{args: "-m about -V x -s 0", err: "-s <max-sample> must be"},
		{args: "-m about -V x -Z", err: "flag provided but not defined: -Z"},
		{args: "-m about -V x extra", err: `unexpected argument "extra"`},
		{args: "-m", err: "flag needs an argument"},
	} {
		cfg, err := parseArgs(strings.Fields(tc.args))
		if tc.err != "" {
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want a usage error with %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || cfg.Help != tc.help || cfg.Version != tc.version {
			t.Errorf("%q: cfg = %+v, err = %v", tc.args, cfg, err)
		}
	}
}

// The request bytes equal what the Python CLI sent for the same command
// lines (REQUEST lines of the py-vpoller fixtures, copied verbatim).
func TestRequestBytesLikePythonCLI(t *testing.T) {
	for _, tc := range []struct{ args, request string }{
		{"-m about -V 127.0.0.1",
			`{"method": "about", "hostname": "127.0.0.1", "name": null, "username": null, "password": null, "key": null, "properties": null, "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`},
		{"-m about -V 127.0.0.1 -p fullName,apiVersion,version",
			`{"method": "about", "hostname": "127.0.0.1", "name": null, "username": null, "password": null, "key": null, "properties": ["fullName", "apiVersion", "version"], "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`},
		{"-m vm.get -V 127.0.0.1 -n DC0_C0_RP0_VM0 -p runtime.powerState",
			`{"method": "vm.get", "hostname": "127.0.0.1", "name": "DC0_C0_RP0_VM0", "username": null, "password": null, "key": null, "properties": ["runtime.powerState"], "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": null}`},
		{"-m host.perf.metric.get -V 127.0.0.1 -n DC0_C0_H0 -c cpu.usage.percent.average -p value -H vpoller.helpers.zabbix",
			`{"method": "host.perf.metric.get", "hostname": "127.0.0.1", "name": "DC0_C0_H0", "username": null, "password": null, "key": null, "properties": ["value"], "counter-name": "cpu.usage.percent.average", "instance": null, "max-sample": null, "perf-interval": null, "helper": "vpoller.helpers.zabbix"}`},
		{"-m vm.discover -V 127.0.0.1 -H vpoller.helpers.zabbix",
			`{"method": "vm.discover", "hostname": "127.0.0.1", "name": null, "username": null, "password": null, "key": null, "properties": null, "counter-name": null, "instance": null, "max-sample": null, "perf-interval": null, "helper": "vpoller.helpers.zabbix"}`},
	} {
		cfg, err := parseArgs(strings.Fields(tc.args))
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if got := string(cfg.Request.Encode()); got != tc.request {
			t.Errorf("%q:\n got %s\nwant %s", tc.args, got, tc.request)
		}
	}
}

// FuzzParseArgs: any -n/-p/-k values give either a usage error or a request
// whose bytes a worker decodes back to the same values; nothing panics.
func FuzzParseArgs(f *testing.F) {
	f.Add("DC0_C0_RP0_VM0", "runtime.powerState", "/var", "5")
	f.Add("Ünïcødé ✓", "fullName, apiVersion,,version", `C:\`, "1")
	f.Add("", ",", "(null)", "x")
	f.Add("\x00\"\\", "a,\u2028b", "\t", "1000001")
	f.Fuzz(func(t *testing.T, name, props, key, maxSample string) {
		cfg, err := parseArgs([]string{"-m", "vm.get", "-V", "vc", "-n", name, "-p", props, "-k", key, "-s", maxSample})
		if err != nil {
			if !errors.Is(err, errUsage) {
				t.Fatalf("non-usage error: %v", err)
			}
			return
		}
		if (maxSample == "") != (cfg.Request.MaxSample == 0) || cfg.Request.MaxSample > 1000000 {
			t.Fatalf("max-sample %d accepted", cfg.Request.MaxSample)
		}
		for _, p := range cfg.Request.Properties {
			if p == "" || p != strings.TrimSpace(p) || strings.Contains(p, ",") {
				t.Fatalf("property %q from %q", p, props)
			}
		}
		wire := cfg.Request.Encode()
		back, err := vpoller.DecodeRequest(wire)
		if err != nil {
			t.Fatalf("worker cannot decode %s: %v", wire, err)
		}
		if !utf8.ValidString(name) || !utf8.ValidString(props) || !utf8.ValidString(key) {
			return // invalid UTF-8 is replaced on the wire, as Python would
		}
		notGiven := func(s string) string {
			if s == "(null)" {
				return ""
			}
			return s
		}
		if back.Name != notGiven(name) || back.Key != notGiven(key) || back.MaxSample != cfg.Request.MaxSample {
			t.Fatalf("round trip changed fields: %+v -> %+v", cfg.Request, back)
		}
		var wantProps []string
		for _, p := range cfg.Request.Properties {
			if p != "(null)" {
				wantProps = append(wantProps, p)
			}
		}
		if !reflect.DeepEqual(back.Properties, wantProps) {
			t.Fatalf("properties %q -> %q", wantProps, back.Properties)
		}
	})
}
