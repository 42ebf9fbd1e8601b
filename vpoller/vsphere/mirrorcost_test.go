package vsphere

import (
	"testing"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// TestPathsServicesBackupWarmReadsCostNothing: once the mirror holds their paths
// (watched from the start, the host's scsiLun list joining on first read),
// host.path.discover, host.service.get, host.ntp.get, vm.backup.get (its
// custom attribute included) and datastore.space.get cost vCenter no call,
// for every host, VM and datastore; host.time.get costs exactly one
// QueryDateTime per request.
func TestPathsServicesBackupWarmReadsCostNothing(t *testing.T) {
	t.Parallel()
	s := newSim(t, Options{}, simServices)
	agent(t, s)
	ds := exec(t, s, vpoller.Request{Method: "datastore.discover", Properties: []string{"info.url"}})
	url := field(ds.Result.([]any)[0], "info.url").(string)
	var reqs []vpoller.Request
	for _, h := range names(t, exec(t, s, vpoller.Request{Method: "host.discover"})) {
		reqs = append(reqs,
			vpoller.Request{Method: "host.path.discover", Name: h},
			vpoller.Request{Method: "host.service.get", Name: h},
			vpoller.Request{Method: "host.ntp.get", Name: h})
	}
	for _, vm := range names(t, exec(t, s, vpoller.Request{Method: "vm.discover"})) {
		reqs = append(reqs, vpoller.Request{Method: "vm.backup.get", Name: vm, Key: "Last Backup"})
	}
	reqs = append(reqs, vpoller.Request{Method: "datastore.space.get", Name: url})
	round := func() {
		t.Helper()
		for _, r := range reqs {
			if resp := exec(t, s, r); resp.Success != 0 {
				t.Fatalf("%s %s: %s", r.Method, r.Name, resp.Encode(vpoller.Python))
			}
		}
	}
	watched := func() int { return s.Stats().Agents["sim"].Objects.Mirror.WatchedPaths["HostSystem"] }
	// joined: the path joined and the mirror generation before it torn down.
	joined := func(n int) bool {
		m := s.Stats().Agents["sim"].Objects.Mirror
		return m.WatchedPaths["HostSystem"] == n && m.Retired == m.Syncs-1
	}
	start := watched()
	loaded := time.Now() // the definitions load during this round
	round()
	eventually(t, 5*time.Second, "scsiLun joined", func() bool { return joined(start + 1) })

	// The custom field definitions vm.backup.get names attributes by are
	// cached for objects.FieldDefsTTL: a run outlasting it (a loaded machine) may
	// reload them once.
	before := s.Stats()
	round()
	round()
	n, by := calls(before, s.Stats())
	if time.Since(loaded) >= objects.FieldDefsTTL && n == 1 && by["RetrievePropertiesEx"] == 1 {
		n = 0
	}
	if n != 0 {
		t.Errorf("%d warm requests cost %d vCenter calls %v, want 0", 2*len(reqs), n, by)
	}

	// The clock: one QueryDateTime per request, nothing else.
	before = s.Stats()
	for range 3 {
		if r := exec(t, s, vpoller.Request{Method: "host.time.get", Name: serviceHost}); r.Success != 0 {
			t.Fatal(string(r.Encode(vpoller.Python)))
		}
	}
	if n, by := calls(before, s.Stats()); n != 3 || by["QueryDateTime"] != 3 {
		t.Errorf("3 host.time.get cost %d calls %v, want 3 QueryDateTime", n, by)
	}
}
