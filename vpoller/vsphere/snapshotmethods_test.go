package vsphere

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// The license, certificate, appliance and vSAN methods on the
// simulator given data server-side (simdata_test.go). TestAllMethods
// checks their reply shapes; these check values, errors and cost.

func TestMaskKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		simLicenseKey:                   simLicenseMask,
		"00000-00000-00000-00000-00000": "*****-*****-*****-*****-00000",
		"ABC":                           "ABC",
		"":                              "",
	} {
		if got := maskKey(in); got != want {
			t.Errorf("maskKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLicenseMethods(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{}, simLicensesAndHealth(t))
	a := agent(t, s)
	r := exec(t, s, vpoller.Request{Method: "license.discover"})
	got := encoded(t, r)
	want := `[{"key": "*****-*****-*****-*****-00000", "name": "Evaluation Mode", "editionKey": "eval", "productName": "VMware VirtualCenter Server", "costUnit": "", "total": 0, "used": 0, "expirationDate": 0}, ` +
		`{"key": "` + simLicenseMask + `", "name": "` + simLicenseName + `", "editionKey": "` + simLicenseEdit + `", "productName": "VMware ESX Server", "costUnit": "cpuPackage", "total": 4, "used": 6, "expirationDate": 1930367167}]`
	if got != want {
		t.Errorf("license.discover:\n got %s\nwant %s", got, want)
	}
	if simLicenseExpiry.Unix() != 1930367167 {
		t.Fatalf("expiry %d", simLicenseExpiry.Unix())
	}
	if strings.Contains(string(r.Encode(vpoller.Python)), "AB12C") {
		t.Error("a reply carries the unmasked license key")
	}
	// Per host: simLicenseHost has the Enterprise Plus license, the others the evaluation one.
	r = exec(t, s, vpoller.Request{Method: "host.license.get", Name: lookup(t, a, objects.Host, simLicenseHost).Value})
	if got, want := encoded(t, r), `[{"name": "DC0_H0", "key": "`+simLicenseMask+`", "licenseName": "`+simLicenseName+`", "editionKey": "`+simLicenseEdit+`", "expirationDate": 1930367167}]`; got != want {
		t.Errorf("host.license.get:\n got %s\nwant %s", got, want)
	}
	r = exec(t, s, vpoller.Request{Method: "host.license.get", Name: "DC0_C0_H1"})
	if got, want := encoded(t, r), `[{"name": "DC0_C0_H1", "key": "*****-*****-*****-*****-00000", "licenseName": "Evaluation Mode", "editionKey": "eval", "expirationDate": 0}]`; got != want {
		t.Errorf("host.license.get:\n got %s\nwant %s", got, want)
	}
	r = exec(t, s, vpoller.Request{Method: "host.license.get", Name: "nosuchhost"})
	if r.Success != 1 || !strings.Contains(r.Msg, "nosuchhost") {
		t.Errorf("unknown host: %s", r.Encode(vpoller.Python))
	}
}

func TestCertificateMethods(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{}, simLicensesAndHealth(t))
	a := agent(t, s)
	r := exec(t, s, vpoller.Request{Method: "host.certificate.get", Name: simCertHost})
	if r.Success != 0 {
		t.Fatal(string(r.Encode(vpoller.Python)))
	}
	o := r.Result.([]any)[0]
	if got := field(o, "notAfter"); got != simCertNotAfter.Unix() {
		t.Errorf("notAfter %v, want %d", got, simCertNotAfter.Unix())
	}
	if d := field(o, "daysLeft").(float64); d < 10 || d > 10.05 {
		t.Errorf("daysLeft %v, want 10.0x", d)
	}
	if got := field(o, "subject"); got != "CN="+simCertHost+".test,O=vPoller test" {
		t.Errorf("subject %v", got)
	}
	// Another host serves the simulator's stock certificate (Go's test
	// localhost certificate, valid until 2084).
	r = exec(t, s, vpoller.Request{Method: "host.certificate.get", Name: "DC0_C0_H0"})
	if got := field(r.Result.([]any)[0], "notAfter"); got != time.Date(2084, 1, 29, 16, 0, 0, 0, time.UTC).Unix() {
		t.Errorf("stock certificate notAfter %v (%s)", got, r.Encode(vpoller.Python))
	}
	// The endpoint's certificate is the one the simulator's TLS server presents.
	r = exec(t, s, vpoller.Request{Method: "vcenter.certificate.get"})
	if r.Success != 0 {
		t.Fatal(string(r.Encode(vpoller.Python)))
	}
	cert := a.Simulator().Server().Certificate()
	sum := sha256.Sum256(cert.Raw)
	o = r.Result.([]any)[0]
	if field(o, "name") != "sim" || field(o, "notAfter") != cert.NotAfter.Unix() || field(o, "sha256") != strings.ToUpper(hex.EncodeToString(sum[:])) {
		t.Errorf("vcenter.certificate.get %s; want notAfter %d", r.Encode(vpoller.Python), cert.NotAfter.Unix())
	}
}

func TestApplianceMethods(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{}, simLicensesAndHealth(t))
	agent(t, s)
	r := exec(t, s, vpoller.Request{Method: "appliance.health.get"})
	want := `[{"system": "orange", "load": "green", "mem": "yellow", "storage": "green", "database": "green", "swap": "red", ` +
		`"services": 4, "servicesStopped": 1, "servicesUnhealthy": 1, "backupStatus": "FAILED", "backupType": "SCHEDULED", "backupTime": 1767319380}]`
	if got := encoded(t, r); got != want {
		t.Errorf("appliance.health.get:\n got %s\nwant %s", got, want)
	}
	if time.Date(2026, 1, 2, 2, 3, 0, 0, time.UTC).Unix() != 1767319380 {
		t.Fatal("backup time")
	}
	r = exec(t, s, vpoller.Request{Method: "appliance.service.discover"})
	want = `[{"service": "imagebuilder", "nameKey": "cis.imagebuilder.ServiceName", "startupType": "MANUAL", "state": "STOPPED", "health": ""}, ` +
		`{"service": "vpxd", "nameKey": "cis.vpxd.ServiceName", "startupType": "AUTOMATIC", "state": "STARTED", "health": "HEALTHY"}, ` +
		`{"service": "vsphere-ui", "nameKey": "cis.vsphere-ui.ServiceName", "startupType": "AUTOMATIC", "state": "STOPPED", "health": ""}, ` +
		`{"service": "wcp", "nameKey": "cis.wcp.ServiceName", "startupType": "AUTOMATIC", "state": "STARTED", "health": "HEALTHY_WITH_WARNINGS"}]`
	if got := encoded(t, r); got != want {
		t.Errorf("appliance.service.discover:\n got %s\nwant %s", got, want)
	}
}

func TestVsanClusterMethods(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{}, simLicensesAndHealth(t))
	a := agent(t, s)
	r := exec(t, s, vpoller.Request{Method: "vsan.cluster.discover"})
	id := lookup(t, a, objects.Cluster, simVsanCluster).Value
	if got, want := encoded(t, r), `[{"name": "DC0_C0", "moref": "`+id+`"}]`; got != want {
		t.Errorf("vsan.cluster.discover: got %s, want %s", got, want)
	}
	r = exec(t, s, vpoller.Request{Method: "vsan.cluster.get", Name: id})
	want := `[{"name": "DC0_C0", "health": "yellow", "healthDescription": "Cluster health has warnings", "totalCapacity": 10995116277760, ` +
		`"freeCapacity": 4398046511104, "usedCapacity": 6597069766656, "resyncBytes": 123456789, "resyncObjects": 7, "resyncETA": 600}]`
	if got := encoded(t, r); got != want {
		t.Errorf("vsan.cluster.get:\n got %s\nwant %s", got, want)
	}
}

// TestSnapshotMethodsAbsent: the clear errors where the data does not exist: no
// appliance API and no vSAN on a plain simulated vCenter; neither, and no
// license assignments, on a standalone ESXi host.
func TestSnapshotMethodsAbsent(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{})
	agent(t, s)
	for _, tc := range []struct {
		req vpoller.Request
		msg string
	}{
		{vpoller.Request{Method: "appliance.health.get"}, "Cannot retrieve appliance health: " + errApplianceNA.Error()},
		{vpoller.Request{Method: "appliance.service.discover"}, "Cannot retrieve appliance health: " + errApplianceNA.Error()},
		{vpoller.Request{Method: "vsan.cluster.get", Name: "DC0_C0"}, "vSAN is not enabled on cluster DC0_C0"},
	} {
		if r := exec(t, s, tc.req); r.Success != 1 || r.Msg != tc.msg {
			t.Errorf("%s: %s; want %q", tc.req.Method, r.Encode(vpoller.Python), tc.msg)
		}
	}
	if r := exec(t, s, vpoller.Request{Method: "vsan.cluster.discover"}); encoded(t, r) != "[]" {
		t.Errorf("vsan.cluster.discover without vSAN: %s", r.Encode(vpoller.Python))
	}

	esx, err := NewService([]AgentConfig{{Name: "esx", Simulator: true, SimulatorModel: "esx"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = esx.Close(t.Context()) })
	run := func(req vpoller.Request) *vpoller.Response {
		req.Hostname = "esx"
		return esx.Execute(t.Context(), &req)
	}
	if r := run(vpoller.Request{Method: "appliance.health.get"}); r.Success != 1 || !strings.Contains(r.Msg, "not available") {
		t.Errorf("appliance.health.get on ESXi: %s", r.Encode(vpoller.Python))
	}
	// An ESXi host's own license answers for it.
	r := run(vpoller.Request{Method: "host.license.get", Name: "localhost.localdomain"})
	if r.Success != 0 || field(r.Result.([]any)[0], "editionKey") != "eval" {
		t.Errorf("host.license.get on ESXi: %s", r.Encode(vpoller.Python))
	}
	if r := run(vpoller.Request{Method: "vcenter.certificate.get"}); r.Success != 0 || field(r.Result.([]any)[0], "name") != "esx" {
		t.Errorf("vcenter.certificate.get on ESXi: %s", r.Encode(vpoller.Python))
	}
}

// TestSnapshotMethodsFixedCalls: the snapshot-backed methods cost a fixed number of
// vCenter calls per TTL per agent, whatever the number of objects and
// requests: every host's license, every license, the appliance health and
// services, the vSAN cluster, asked 20 times each concurrently, cost 2
// SOAP calls for the licenses, 3 per vSAN cluster, 8 REST calls for the
// appliance (6 health parts, services, backup jobs); once the TTL has
// passed, the same again; host certificates, from the mirror, none.
func TestSnapshotMethodsFixedCalls(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{Sweep: SweepOptions{Off: true}}, simLicensesAndHealth(t))
	a := agent(t, s)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a.data.now = clock
	hosts := names(t, exec(t, s, vpoller.Request{Method: "host.discover"}))
	vsanID := lookup(t, a, objects.Cluster, simVsanCluster).Value
	// Warm the mirror's paths (they join on first use: not the snapshots' cost).
	for _, h := range hosts {
		exec(t, s, vpoller.Request{Method: "host.certificate.get", Name: h})
	}
	eventually(t, 20*time.Second, "warm mirror reads without calls", func() bool {
		before := a.sess.Stats()
		for _, h := range hosts {
			exec(t, s, vpoller.Request{Method: "host.certificate.get", Name: h})
			exec(t, s, vpoller.Request{Method: "host.get", Name: h, Properties: []string{pathName}})
		}
		exec(t, s, vpoller.Request{Method: "vsan.cluster.discover"})
		exec(t, s, vpoller.Request{Method: "cluster.get", Name: vsanID, Properties: []string{pathConfigurationEx}})
		// A path joining starts a new mirror generation; the old one's
		// teardown (DestroyView) must not land in the first round.
		m := a.Store().Stats().Mirror
		return len(soapCalls(before, a.sess.Stats())) == 0 && m.Retired == m.Syncs-1
	})

	round := func() (soap map[string]uint64, rest uint64) {
		before := a.sess.Stats()
		var wg sync.WaitGroup
		for range 20 {
			for _, req := range []vpoller.Request{
				{Method: "license.discover"}, {Method: "appliance.health.get"}, {Method: "appliance.service.discover"},
				{Method: "vsan.cluster.get", Name: vsanID},
			} {
				wg.Go(func() {
					if r := exec(t, s, req); r.Success != 0 {
						t.Errorf("%s: %s", req.Method, r.Encode(vpoller.Python))
					}
				})
			}
			for _, h := range hosts {
				for _, m := range []string{"host.license.get", "host.certificate.get"} {
					wg.Go(func() {
						if r := exec(t, s, vpoller.Request{Method: m, Name: h}); r.Success != 0 {
							t.Errorf("%s %s: %s", m, h, r.Encode(vpoller.Python))
						}
					})
				}
			}
		}
		wg.Wait()
		after := a.sess.Stats()
		return soapCalls(before, after), after.RESTCalls - before.RESTCalls - (after.RESTLogins - before.RESTLogins)
	}
	want := "QueryAssignedLicenses=1 QuerySyncingVsanObjectsSummary=1 RetrievePropertiesEx=1 VsanQuerySpaceUsage=1 VsanQueryVcClusterHealthSummary=1"
	for i := range 2 {
		calls, rest := round()
		if got := callList(calls); got != want || rest != 8 {
			t.Errorf("round %d: SOAP calls %s, REST calls %d; want %s and 8", i, got, rest, want)
		}
		mu.Lock()
		now = now.Add(licenseTTL) // past every TTL
		mu.Unlock()
	}
}

// callList renders call counts as sorted "method=n" pairs.
func callList(calls map[string]uint64) string {
	out := make([]string, 0, len(calls))
	for m, n := range calls {
		out = append(out, m+"="+strconv.FormatUint(n, 10))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// TestApplianceOlderVersion: an appliance without some health parts (a
// version before they existed) reports them gray (unknown) rather than
// the whole API as not available.
func TestApplianceOlderVersion(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{}, func(m *simulator.Model) {
		simApplianceAPI(m, map[string]string{"system": "green", "load": "green", "mem": "green", "storage": "green", "swap": "green"})
	})
	agent(t, s)
	r := exec(t, s, vpoller.Request{Method: "appliance.health.get"})
	if r.Success != 0 || field(r.Result.([]any)[0], "database") != "gray" || field(r.Result.([]any)[0], "system") != "green" {
		t.Errorf("appliance.health.get: %s", r.Encode(vpoller.Python))
	}
}

func TestAPITime(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Time{
		`"2026-01-02T02:03:00.000Z"`: time.Date(2026, 1, 2, 2, 3, 0, 0, time.UTC),
		`"2026-01-02T02:03:00Z"`:     time.Date(2026, 1, 2, 2, 3, 0, 0, time.UTC),
		`"2026-01-02T02:03:00.000"`:  time.Date(2026, 1, 2, 2, 3, 0, 0, time.UTC),
		`"yesterday"`:                {},
		`null`:                       {},
		`17`:                         {},
	} {
		var got apiTime
		if err := json.Unmarshal([]byte(in), &got); err != nil || !got.Equal(want) {
			t.Errorf("%s: %v, %v; want %v", in, got.Time, err, want)
		}
	}
}
