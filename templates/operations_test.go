package templates

import (
	"strings"
	"testing"
)

// The fixed result shapes of the storage path, service and backup methods (vpoller/vsphere's
// tests assert them on the simulator), for the dependent items' check.
func init() {
	fixedFields["host.service.get"] = []string{"key", "label", "running", "policy", "required"}
	fixedFields["host.ntp.get"] = []string{"name", "ntpConfigured", "ntpServers", "ntpRunning", "ntpPolicy", "timeZone"}
	fixedFields["host.path.discover"] = []string{"lun", "displayName", "policy", "paths", "active", "standby", "disabled", "dead", "unknown", "states"}
	fixedFields["vm.backup.get"] = []string{"name", "changeTrackingEnabled", "snapshots", "snapshotSize", "backupAttribute", "backupValue", "lastBackup", "backupAge"}
	fixedFields["datastore.space.get"] = []string{"name", "capacity", "freeSpace", "uncommitted", "used", "provisioned", "usedPct", "provisionedPct"}
}

// TestPathsServicesBackupItems: the storage path, service and backup items, discovery and triggers are in the
// generated templates, and only the host clock is optional.
func TestPathsServicesBackupItems(t *testing.T) {
	type want struct{ tpl, key, trigger string }
	hv, vm, ds := Hypervisor(), VirtualMachine(), Datastore()
	triggers := map[string]map[string]string{} // template -> item key -> trigger expressions
	optional := map[string]bool{}
	add := func(tpl Template, items []Item, protos bool) {
		if triggers[tpl.Name] == nil {
			triggers[tpl.Name] = map[string]string{}
		}
		for _, it := range items {
			var exprs []string
			ts := it.Triggers
			if protos {
				ts = it.TriggerProtos
			}
			for _, tr := range ts {
				exprs = append(exprs, tr.Expression)
			}
			triggers[tpl.Name][it.Key] = strings.Join(exprs, " | ")
			for _, tg := range it.Tags {
				if tg.Tag == TagOptional {
					optional[it.Key] = true
				}
			}
		}
	}
	rules := 0
	for _, tpl := range []Template{hv, vm, ds} {
		add(tpl, tpl.Items, false)
		for _, r := range tpl.DiscoveryRules {
			if r.Key == "vpoller.discover[host.path.discover,{$VSPHERE.HOST},{$VSPHERE.HV.NAME}]" {
				rules++
				add(tpl, r.ItemPrototypes, true)
			}
		}
	}
	if rules != 1 {
		t.Errorf("%d storage path discoveries, want 1", rules)
	}
	timeKey := "vpoller.poll[host.time.get,{$VSPHERE.HOST},{$VSPHERE.HV.NAME},offset]"
	for _, w := range []want{
		{hv.Name, "vsphere.hv.service.ssh", "last(/vPoller Hypervisor/vsphere.hv.service.ssh)=1"},
		{hv.Name, "vsphere.hv.service.shell", "last(/vPoller Hypervisor/vsphere.hv.service.shell)=1"},
		{hv.Name, "vsphere.hv.ntp.configured", "last(/vPoller Hypervisor/vsphere.hv.ntp.configured)=0"},
		{hv.Name, "vsphere.hv.ntp.running", "last(/vPoller Hypervisor/vsphere.hv.ntp.running)=0"},
		{hv.Name, timeKey, "abs(last(/vPoller Hypervisor/" + timeKey + "))>{$VSPHERE.HV.TIME.OFFSET.MAX}"},
		{hv.Name, "vsphere.hv.lun.paths.active[{#VSPHERE.HOST.PATH.LUN}]", ""},
		{hv.Name, "vsphere.hv.lun.paths.standby[{#VSPHERE.HOST.PATH.LUN}]", ""},
		{hv.Name, hvLUNDead, "last(/vPoller Hypervisor/" + hvLUNDead + ")>0"},
		{hv.Name, hvLUNStates, "change(/vPoller Hypervisor/" + hvLUNStates + ")=1"},
		{vm.Name, "vsphere.vm.cbt", ""},
		{vm.Name, "vsphere.vm.snapshot.size", ""},
		{vm.Name, vmBackupAge, "last(/vPoller Virtual Machine/vsphere.vm.backup.age)>{$VSPHERE.VM.BACKUP.AGE.MAX}"},
		{ds.Name, dsProvPct, "last(/vPoller Datastore/vsphere.ds.pprovisioned)>{$VSPHERE.DATASTORE.PPROVISIONED.MAX}"},
	} {
		got, ok := triggers[w.tpl][w.key]
		if !ok || got != w.trigger {
			t.Errorf("%s %s: item %v, triggers %q; want %q", w.tpl, w.key, ok, got, w.trigger)
		}
		if optional[w.key] != (w.key == timeKey) {
			t.Errorf("%s %s: optional %v", w.tpl, w.key, optional[w.key])
		}
	}
	// The backup attribute is a macro of the VM template, passed as key.
	if _, ok := triggers[vm.Name]["vpoller.get[vm.backup.get,{$VSPHERE.HOST},{$VSPHERE.VM.NAME},,{$VSPHERE.VM.BACKUP.ATTRIBUTE}]"]; !ok {
		t.Error("no vm.backup.get master keyed by {$VSPHERE.VM.BACKUP.ATTRIBUTE}")
	}
}
