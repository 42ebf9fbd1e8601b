package vsphere

import (
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/lld"
	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// The simulator's hosts share one service list (DCUI, lbtd and vmsyslogd
// running; TSM, TSM-SSH, ntpd and the others stopped), no dateTimeInfo
// and a configManager.dateTimeSystem that names no object (QueryDateTime
// fails). simServices gives, server-side, serviceHost SSH and the ESXi
// shell running, NTP running with two servers and a time zone, and a
// HostDateTimeSystem of its own whose clock is hostAhead ahead of the
// real one (simDateTime, which answers QueryDateTime as ESXi does);
// behindHost gets a clock behind. Each host gets config and service
// structs of its own (the stock ones are shared).
const (
	serviceHost = "DC0_H0"
	behindHost  = "DC0_C0_H0"
	hostAhead   = 90 * time.Second
	hostBehind  = -2500 * time.Millisecond
)

// simDateTime is a HostDateTimeSystem for the simulator: QueryDateTime
// answers the real time shifted by offset.
type simDateTime struct {
	mo.HostDateTimeSystem
	offset time.Duration
}

func (s *simDateTime) QueryDateTime(*types.QueryDateTime) soap.HasFault {
	return &methods.QueryDateTimeBody{Res: &types.QueryDateTimeResponse{Returnval: time.Now().Add(s.offset)}}
}

func simServices(m *simulator.Model) {
	for _, e := range m.Map().All("HostSystem") {
		h := e.(*simulator.HostSystem)
		var offset time.Duration
		switch h.Name {
		case serviceHost:
			cfg := *h.Config
			svc := append([]types.HostService(nil), cfg.Service.Service...)
			for i := range svc {
				switch svc[i].Key {
				case "TSM-SSH", "TSM", "ntpd":
					svc[i].Running, svc[i].Policy = true, "on"
				}
			}
			cfg.Service = &types.HostServiceInfo{Service: svc}
			cfg.DateTimeInfo = &types.HostDateTimeInfo{
				TimeZone:  types.HostDateTimeSystemTimeZone{Key: "UTC", Name: "UTC"},
				NtpConfig: &types.HostNtpConfig{Server: []string{"0.pool.example", " ", "ntp1.example"}},
			}
			h.Config = &cfg
			offset = hostAhead
		case behindHost:
			offset = hostBehind
		default:
			continue
		}
		ref := types.ManagedObjectReference{Type: "HostDateTimeSystem", Value: "dateTimeSystem-" + h.Self.Value}
		m.Map().Put(&simDateTime{HostDateTimeSystem: mo.HostDateTimeSystem{Self: ref}, offset: offset})
		h.ConfigManager.DateTimeSystem = &ref
	}
}

// TestHostServices: services, NTP and clock, with the mirror and without.
func TestHostServices(t *testing.T) {
	t.Parallel()
	t.Run("mirror", func(t *testing.T) { testHostServices(t, Options{}) })
	t.Run("direct", func(t *testing.T) { testHostServices(t, direct) })
}

func testHostServices(t *testing.T, opts Options) {
	s := newSim(t, opts, simServices)
	agent(t, s) // connected and synced: the first request is not also the login
	ok := func(req vpoller.Request) *vpoller.Response {
		t.Helper()
		r := exec(t, s, req)
		if r.Success != 0 || r.Msg != "Successfully retrieved properties" {
			t.Fatalf("%s %s %s: %s", req.Method, req.Name, req.Key, r.Encode(vpoller.Python))
		}
		return r
	}

	// Every service, in the host's order.
	r := ok(vpoller.Request{Method: "host.service.get", Name: serviceHost})
	l := r.Result.([]any)
	var running []string
	for _, x := range l {
		if field(x, "running") == true {
			running = append(running, field(x, "key").(string))
		}
	}
	if len(l) < 10 || pyJSON(t, l[0]) != `{"key": "DCUI", "label": "Direct Console UI", "running": true, "policy": "on", "required": false}` ||
		strings.Join(running, ",") != "DCUI,TSM,TSM-SSH,lbtd,ntpd,vmsyslogd" {
		t.Errorf("host.service.get: %d services, first %s, running %v", len(l), pyJSON(t, l[0]), running)
	}
	for _, tc := range []struct {
		host, key, want string
		item            any
	}{
		{serviceHost, "TSM-SSH", `[{"key": "TSM-SSH", "label": "SSH", "running": true, "policy": "on", "required": false}]`, true},
		{serviceHost, "TSM", `[{"key": "TSM", "label": "ESXi Shell", "running": true, "policy": "on", "required": false}]`, true},
		{behindHost, "TSM-SSH", `[{"key": "TSM-SSH", "label": "SSH", "running": false, "policy": "off", "required": false}]`, false},
	} {
		req := vpoller.Request{Method: "host.service.get", Name: tc.host, Key: tc.key, Properties: []string{"running"}}
		r := ok(req)
		if got := pyJSON(t, r.Result); got != tc.want {
			t.Errorf("host.service.get %s %s:\n got %s\nwant %s", tc.host, tc.key, got, tc.want)
		}
		// vpoller.poll's value: result[-1][property].
		if v, err := lld.Item(&req, r); err != nil || v != tc.item {
			t.Errorf("host.service.get %s %s item: %v, %v", tc.host, tc.key, v, err)
		}
	}

	// NTP: the blank server is left out.
	for _, tc := range []struct{ host, want string }{
		{serviceHost, `[{"name": "DC0_H0", "ntpConfigured": true, "ntpServers": "0.pool.example, ntp1.example", "ntpRunning": true, "ntpPolicy": "on", "timeZone": "UTC"}]`},
		// The simulator's stock host: no dateTimeInfo, ntpd stopped.
		{behindHost, `[{"name": "DC0_C0_H0", "ntpConfigured": false, "ntpServers": "", "ntpRunning": false, "ntpPolicy": "off", "timeZone": ""}]`},
	} {
		if got := pyJSON(t, ok(vpoller.Request{Method: "host.ntp.get", Name: tc.host}).Result); got != tc.want {
			t.Errorf("host.ntp.get %s:\n got %s\nwant %s", tc.host, got, tc.want)
		}
	}

	// The clock: the host's time was taken during the call, so the offset
	// is the shift within half the round trip.
	for _, tc := range []struct {
		host  string
		shift time.Duration
	}{{serviceHost, hostAhead}, {behindHost, hostBehind}} {
		r := ok(vpoller.Request{Method: "host.time.get", Name: tc.host})
		o := r.Result.([]any)[0]
		if keysOf(o) != "name,hostTime,workerTime,offset,roundTrip" || field(o, "name") != tc.host {
			t.Fatalf("host.time.get %s: %s", tc.host, pyJSON(t, o))
		}
		offset, rtt := field(o, "offset").(float64), field(o, "roundTrip").(float64)
		if d := offset - tc.shift.Seconds(); rtt < 0 || d < -rtt/2-0.001 || d > rtt/2+0.001 {
			t.Errorf("host.time.get %s: offset %v, round trip %v; want %v", tc.host, offset, rtt, tc.shift.Seconds())
		}
		// Both times in UTC to the millisecond; their difference is the
		// offset (each rounded to the millisecond).
		hs, ws := field(o, "hostTime").(string), field(o, "workerTime").(string)
		ht, err1 := time.Parse(time.RFC3339Nano, hs)
		wt, err2 := time.Parse(time.RFC3339Nano, ws)
		if err1 != nil || err2 != nil || !strings.HasSuffix(hs, "Z") || len(hs) != len("2006-01-02T15:04:05.000Z") ||
			absSeconds(ht.Sub(wt).Seconds()-offset) > 0.0015 {
			t.Errorf("host.time.get %s: hostTime %s workerTime %s offset %v (%v, %v)", tc.host, hs, ws, offset, err1, err2)
		}
	}

	// Errors.
	for _, tc := range []struct {
		req    vpoller.Request
		prefix string
	}{
		{vpoller.Request{Method: "host.service.get", Name: serviceHost, Key: "nope"}, "Cannot find service nope on host DC0_H0"},
		{vpoller.Request{Method: "host.service.get", Name: "nope"}, "Cannot find object nope"},
		{vpoller.Request{Method: "host.ntp.get", Name: "nope"}, "Cannot find object nope"},
		{vpoller.Request{Method: "host.time.get", Name: "nope"}, "Cannot find object nope"},
		{vpoller.Request{Method: "host.time.get"}, "Invalid task request"},
		// The stock hosts' dateTimeSystem names no simulator object.
		{vpoller.Request{Method: "host.time.get", Name: "DC0_C0_H1"}, "Cannot query the time of host DC0_C0_H1: ServerFaultCode: "},
	} {
		r := exec(t, s, tc.req)
		if r.Success != 1 || !strings.HasPrefix(r.Msg, tc.prefix) || r.Result != nil {
			t.Errorf("%s %s %q: got %s, want %q", tc.req.Method, tc.req.Name, tc.req.Key, r.Encode(vpoller.Python), tc.prefix)
		}
	}
}

func absSeconds(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestHostServicesFromTheMirror: config.service and config.dateTimeInfo
// are watched from the start (objects' defaultPaths); SSH started on the host (reported to the simulator's
// collectors, as ESXi reports it to vCenter) reaches host.service.get and
// host.ntp.get with no RetrievePropertiesEx.
func TestHostServicesFromTheMirror(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{}, simServices)
	a := agent(t, s)
	const host = "DC0_C0_H1"
	ssh := func() any {
		t.Helper()
		r := exec(t, s, vpoller.Request{Method: "host.service.get", Name: host, Key: "TSM-SSH"})
		if r.Success != 0 {
			t.Fatal(string(r.Encode(vpoller.Python)))
		}
		return field(r.Result.([]any)[0], "running")
	}
	if got := ssh(); got != false {
		t.Fatalf("first read: SSH running %v", got)
	}
	exec(t, s, vpoller.Request{Method: "host.ntp.get", Name: host})

	ref := lookup(t, a, objects.Host, host)
	h := a.Simulator().Model().Map().Get(ref).(*simulator.HostSystem)
	svc := append([]types.HostService(nil), h.Config.Service.Service...)
	for i := range svc {
		if svc[i].Key == "TSM-SSH" || svc[i].Key == "ntpd" {
			svc[i].Running = true
		}
	}
	before := s.Stats()
	notify(t, a, ref, pathServices, types.HostServiceInfo{Service: svc})
	eventually(t, 10*time.Second, "SSH running", func() bool { return ssh() == true })
	r := exec(t, s, vpoller.Request{Method: "host.ntp.get", Name: host})
	if got := field(r.Result.([]any)[0], "ntpRunning"); got != true {
		t.Errorf("ntpRunning after the change: %v", got)
	}
	if _, by := calls(before, s.Stats()); by["RetrievePropertiesEx"] != 0 {
		t.Errorf("reads of the watched services went to vCenter: %v", by)
	}
}
