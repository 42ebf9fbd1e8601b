package templates

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The Guest-parity scripts in Zabbix's engine: boot time and the newest
// snapshot's date as unix seconds, 0 when vSphere gives none; the host's
// maintenance mode as 1/0.
func TestVMParityTimesInZabbixEngine(t *testing.T) {
	ts := time.Date(2026, 11, 30, 17, 4, 22, 0, time.UTC)
	boot := func(v string) string { return `[{"name":"vm","runtime.bootTime":` + v + `}]` }
	for _, tc := range []struct{ script, in, want string }{
		{vmBootTimeJS, boot(`"2026-11-30 17:04:22.916096+00:00"`), fmt.Sprint(ts.Unix())},
		{vmBootTimeJS, boot(`"2026-11-30 19:04:22+02:00"`), fmt.Sprint(ts.Unix())},
		{vmBootTimeJS, boot(`null`), "0"},
		{vmBootTimeJS, `[{"name":"vm"}]`, "0"},
		{vmSnapshotNewestJS, `[{"createTime":"2026-11-29 10:00:00.000001+00:00","id":1},{"createTime":"2026-11-30 17:04:22+00:00","id":2},{"createTime":"2026-11-01 00:00:00+00:00","id":3}]`, fmt.Sprint(ts.Unix())},
		{vmSnapshotNewestJS, `[]`, "0"},
		{vmHostMaintJS, `[{"name":"vm","hostMaintenance":"true"}]`, "1"},
		{vmHostMaintJS, `[{"name":"vm","hostMaintenance":"false"}]`, "0"},
		{vmHostMaintJS, `[{"name":"vm","hostMaintenance":""}]`, "0"},
	} {
		if got := zabbixJS(t, tc.script, tc.in); got != tc.want {
			t.Errorf("%.40q on %s = %q, want %q", tc.script, tc.in, got, tc.want)
		}
	}
}

// vmTrigger finds a trigger of the VM template by name.
func vmTrigger(t *testing.T, name string) Trigger {
	t.Helper()
	for _, it := range VirtualMachine().Items {
		for _, tr := range it.Triggers {
			if tr.Name == name {
				return tr
			}
		}
	}
	t.Fatalf("no trigger %q in %s", name, TplVM)
	return Trigger{}
}

// Event triggers (a move, a restart) stay until closed by hand; every
// parity trigger carries its scope; the guest restart is suppressed while
// the VM restart is open (a power cycle restarts both).
func TestVMParityTriggers(t *testing.T) {
	for _, tc := range []struct {
		name, scope string
		byHand      bool
		expr        []string
	}{
		{"VM {HOST.NAME} has moved to hypervisor {ITEM.VALUE1}", "notice", true,
			[]string{"change(/" + TplVM + "/" + getKey("vm.host.get", "{$VSPHERE.VM.NAME}") + ")=1"}},
		{"VM {HOST.NAME} has been restarted", "notice", true,
			[]string{"last(/" + TplVM + "/vsphere.vm.uptime)<last(/" + TplVM + "/vsphere.vm.uptime,#2)", "last(/" + TplVM + "/vsphere.vm.uptime,#2)=0"}},
		{"VM {HOST.NAME}: guest OS has been restarted", "notice", true, []string{"sys.osUptime.second.latest])<10m"}},
		{"VM {HOST.NAME}: VMware Tools out of date", "notice", false, []string{vmToolsStatus + ")=1 or", vmToolsStatus + ")=4 or", vmToolsStatus + ")=6"}},
		{vmNotRunning, "availability", false, []string{`="poweredOff" or`, `="suspended"`}},
		{"VM {HOST.NAME}: hypervisor is in maintenance mode", "notice", false, []string{vmHVMaint + ")=1"}},
	} {
		tr := vmTrigger(t, tc.name)
		if !slices.Contains(tr.Tags, Tag{Tag: "scope", Value: tc.scope}) {
			t.Errorf("%s: tags %v, want scope=%s", tc.name, tr.Tags, tc.scope)
		}
		if got := tr.RecoveryMode == "NONE" && tr.ManualClose == "YES"; got != tc.byHand {
			t.Errorf("%s: recovery %q, manual close %q; closed by hand only = %v, want %v", tc.name, tr.RecoveryMode, tr.ManualClose, got, tc.byHand)
		}
		for _, e := range tc.expr {
			if !strings.Contains(tr.Expression, e) {
				t.Errorf("%s: expression %q lacks %q", tc.name, tr.Expression, e)
			}
		}
	}
	g := vmTrigger(t, "VM {HOST.NAME}: guest OS has been restarted")
	if len(g.Dependencies) != 1 || g.Dependencies[0].Name != "VM {HOST.NAME} has been restarted" {
		t.Errorf("guest OS restart depends on %v, want the VM restart", g.Dependencies)
	}
}

// The Tools trigger's numbers are the value map's: need upgrade, too old,
// blacklisted (and not supported-old, the common "a newer one exists").
func TestVMToolsOutOfDateMatchesValueMap(t *testing.T) {
	num := map[string]string{}
	pairs := stateMaps[vmToolsVersionStatus]
	for i := 0; i+1 < len(pairs); i += 2 {
		num[pairs[i]] = pairs[i+1]
	}
	tr := vmTrigger(t, "VM {HOST.NAME}: VMware Tools out of date")
	for _, s := range []string{"guestToolsNeedUpgrade", "guestToolsTooOld", "guestToolsBlacklisted"} {
		if !strings.Contains(tr.Expression, vmToolsStatus+")="+num[s]) {
			t.Errorf("%s (%s) does not fire: %s", s, num[s], tr.Expression)
		}
	}
	for _, s := range []string{"guestToolsCurrent", "guestToolsSupportedOld", "guestToolsSupportedNew", "guestToolsTooNew", "guestToolsUnmanaged", "guestToolsNotInstalled"} {
		if strings.Contains(tr.Expression, vmToolsStatus+")="+num[s]+" ") || strings.HasSuffix(tr.Expression, vmToolsStatus+")="+num[s]) {
			t.Errorf("%s (%s) fires: %s", s, num[s], tr.Expression)
		}
	}
}
