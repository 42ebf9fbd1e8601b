package vsphere

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/vpoller/zabbix-vpoller/vpoller"
	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// What backups of a VM leave in vSphere (ours: the original has none).
// Image-level backup tools (Veeam, NetBackup, Commvault, ...) read the
// VM's disks through a snapshot and Changed Block Tracking, and many
// write the time of the last backup into a custom attribute of the VM.
// vm.backup.get gathers the three:
//
//   - config.changeTrackingEnabled: CBT on (incremental backups need it);
//   - layoutEx (its file, disk and snapshot parts): the snapshots' files,
//     whose total size tells a snapshot a backup left behind;
//   - the custom attribute the request's key names, parsed as a time.
//
// All are read through the store: warm reads come from the mirror (the
// VM's customValue is watched from the start; the other paths join on
// first read), the attribute names from the custom field definitions
// vm.attribute.get keeps.

const (
	pathCBT            = "config.changeTrackingEnabled"
	pathLayoutFiles    = "layoutEx.file"
	pathLayoutDisks    = "layoutEx.disk"
	pathLayoutSnapshot = "layoutEx.snapshot"

	msgBackup = "Successfully retrieved backup information"
)

// snapshotSize is the bytes the VM's snapshots take: the snapshots' own
// files (state and memory, layoutEx.snapshot dataKey and memoryKey) and
// every delta disk taken since the first snapshot: the files of the
// current disk chains and of the snapshots' chains that the shortest
// snapshot chain of that disk (the root snapshot's, ending in the base
// disk or, for a linked clone, its parent's disks) does not hold. A VM
// without snapshots: 0.
func snapshotSize(files []types.VirtualMachineFileLayoutExFileInfo, disks []types.VirtualMachineFileLayoutExDiskLayout,
	snaps []types.VirtualMachineFileLayoutExSnapshotLayout) int64 {
	if len(snaps) == 0 {
		return 0
	}
	keys := map[int32]bool{}
	base := map[int32][]types.VirtualMachineFileLayoutExDiskUnit{} // disk key -> root snapshot chain
	for _, s := range snaps {
		for _, k := range []int32{s.DataKey, s.MemoryKey} {
			if k >= 0 {
				keys[k] = true
			}
		}
		for _, d := range s.Disk {
			if b, ok := base[d.Key]; !ok || len(d.Chain) < len(b) {
				base[d.Key] = d.Chain
			}
		}
	}
	inBase := map[int32]bool{}
	for _, chain := range base {
		for _, u := range chain {
			for _, k := range u.FileKey {
				inBase[k] = true
			}
		}
	}
	add := func(chain []types.VirtualMachineFileLayoutExDiskUnit) {
		for _, u := range chain {
			for _, k := range u.FileKey {
				if !inBase[k] {
					keys[k] = true
				}
			}
		}
	}
	for _, d := range disks {
		add(d.Chain)
	}
	for _, s := range snaps {
		for _, d := range s.Disk {
			add(d.Chain)
		}
	}
	var total int64
	for _, f := range files {
		if keys[f.Key] {
			total += f.Size
		}
	}
	return total
}

// backupTimes are the forms of a time found in backup attributes, tried
// in order on the first match of each pattern: ISO 8601 / RFC 3339 (with
// or without a zone), US month/day/year with 12- or 24-hour clock (what
// Veeam writes: "Last backup: [11/9/2023 10:00:14 PM]"), day.month.year,
// and Unix seconds. Times without a zone are the worker's local time.
var backupTimes = []struct {
	re      *regexp.Regexp
	layouts []string
}{
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?`),
		[]string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00",
			"2006-01-02 15:04:05Z0700", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04"}},
	{regexp.MustCompile(`(?i)\d{1,2}/\d{1,2}/\d{4},? \d{1,2}:\d{2}(:\d{2})?( ?[AP]M)?`),
		[]string{"1/2/2006 3:04:05 PM", "1/2/2006 3:04:05PM", "1/2/2006 3:04 PM", "1/2/2006 15:04:05", "1/2/2006 15:04",
			"1/2/2006, 3:04:05 PM", "1/2/2006, 15:04:05"}},
	{regexp.MustCompile(`\d{1,2}\.\d{1,2}\.\d{4} \d{1,2}:\d{2}(:\d{2})?`),
		[]string{"2.1.2006 15:04:05", "2.1.2006 15:04"}},
	{regexp.MustCompile(`^\s*\d{9,10}\s*$`), nil},
}

// parseBackupTime finds a time in a backup attribute's text; false when
// it holds none of backupTimes.
func parseBackupTime(s string) (time.Time, bool) {
	for _, bt := range backupTimes {
		m := bt.re.FindString(s)
		if m == "" {
			continue
		}
		if bt.layouts == nil {
			n, err := strconv.ParseInt(strings.TrimSpace(m), 10, 64)
			if err == nil {
				return time.Unix(n, 0), true
			}
			continue
		}
		for _, l := range bt.layouts {
			if t, err := time.ParseInLocation(l, strings.ToUpper(m), time.Local); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// vmBackupGet (vm.backup.get): [{"name", "changeTrackingEnabled",
// "snapshots": the number of snapshots, "snapshotSize": bytes (see
// snapshotSize), "backupAttribute": the request's key, "backupValue":
// that custom attribute's text, "lastBackup": the time in it as Unix
// seconds, "backupAge": seconds since then}]. lastBackup is 0 and
// backupAge -1 when the time is not known: no key, no such attribute
// (or no custom fields, as on ESXi), an empty value or one without a
// time parseBackupTime knows. A backup time in the future (clocks apart)
// has age 0.
func vmBackupGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	ref, err := a.store.Lookup(ctx, objects.VM, req.Name)
	if err != nil {
		return fail(req, err)
	}
	pv, err := a.store.Get(ctx, ref, req.Name, withName([]string{pathCBT, pathLayoutFiles, pathLayoutDisks, pathLayoutSnapshot}))
	if err != nil {
		return fail(req, err)
	}
	cbt := false
	if b := propAs[bool](pv[pathCBT]); b != nil {
		cbt = *b
	}
	var files []types.VirtualMachineFileLayoutExFileInfo
	if f := propAs[types.ArrayOfVirtualMachineFileLayoutExFileInfo](pv[pathLayoutFiles]); f != nil {
		files = f.VirtualMachineFileLayoutExFileInfo
	} else if f, ok := pv[pathLayoutFiles].([]types.VirtualMachineFileLayoutExFileInfo); ok {
		files = f
	}
	var disks []types.VirtualMachineFileLayoutExDiskLayout
	if d := propAs[types.ArrayOfVirtualMachineFileLayoutExDiskLayout](pv[pathLayoutDisks]); d != nil {
		disks = d.VirtualMachineFileLayoutExDiskLayout
	} else if d, ok := pv[pathLayoutDisks].([]types.VirtualMachineFileLayoutExDiskLayout); ok {
		disks = d
	}
	var snaps []types.VirtualMachineFileLayoutExSnapshotLayout
	if s := propAs[types.ArrayOfVirtualMachineFileLayoutExSnapshotLayout](pv[pathLayoutSnapshot]); s != nil {
		snaps = s.VirtualMachineFileLayoutExSnapshotLayout
	} else if s, ok := pv[pathLayoutSnapshot].([]types.VirtualMachineFileLayoutExSnapshotLayout); ok {
		snaps = s
	}

	value, last, age := "", int64(0), int64(-1)
	if req.Key != "" {
		// The custom attributes as vm.attribute.get reads them (values
		// from the mirror, definitions from their cache). All of them,
		// not the one by name: a name vm.attribute.get does not know
		// makes it reload the definitions at once, a vCenter call per
		// request for every VM while the attribute is not defined; the
		// cache's own bound picks a new definition up. A failure (no
		// custom fields on ESXi) leaves the time unknown.
		r := attributeGet(objects.VM)(ctx, a, &vpoller.Request{Method: "vm.attribute.get", Hostname: req.Hostname, Name: req.Name})
		if l, ok := r.Result.([]any); r.Success == 0 && ok && len(l) == 1 {
			if o, ok := l[0].(vpoller.Object); ok {
				v, _ := o.Get(req.Key)
				value, _ = v.(string)
			}
		}
		if t, ok := parseBackupTime(value); ok {
			last = t.Unix()
			age = max(0, int64(time.Since(t)/time.Second))
		}
	}
	return vpoller.OK(msgBackup, []any{vpoller.Object{
		{Key: pathName, Value: toValue(pv[pathName])},
		{Key: "changeTrackingEnabled", Value: cbt},
		{Key: "snapshots", Value: int64(len(snaps))},
		{Key: "snapshotSize", Value: snapshotSize(files, disks, snaps)},
		{Key: "backupAttribute", Value: req.Key},
		{Key: "backupValue", Value: value},
		{Key: "lastBackup", Value: last},
		{Key: "backupAge", Value: age},
	}})
}

// datastoreSpaceGet (datastore.space.get): the datastore's space and
// provisioning, [{"name", "capacity", "freeSpace", "uncommitted" (bytes
// that thin disks may still grow by), "used" = capacity - freeSpace,
// "provisioned" = used + uncommitted, "usedPct" and "provisionedPct" of
// capacity (2 decimals; provisionedPct over 100 is overcommitment)}].
// From the datastore's summary (watched from the start: no vCenter call
// for a warm read). A datastore of capacity 0 (inaccessible) has
// percentages of 0.
func datastoreSpaceGet(ctx context.Context, a *Agent, req *vpoller.Request) *vpoller.Response {
	ref, err := a.store.Lookup(ctx, objects.Datastore, req.Name)
	if err != nil {
		return fail(req, err)
	}
	const capPath, freePath, uncPath = "summary.capacity", "summary.freeSpace", "summary.uncommitted"
	pv, err := a.store.Get(ctx, ref, req.Name, withName([]string{capPath, freePath, uncPath}))
	if err != nil {
		return fail(req, err)
	}
	num := func(p string) int64 {
		if v := propAs[int64](pv[p]); v != nil {
			return *v
		}
		return 0
	}
	capacity, free, unc := num(capPath), num(freePath), num(uncPath)
	used := max(0, capacity-free)
	pct := func(n int64) float64 {
		if capacity <= 0 {
			return 0
		}
		return float64(int64(float64(n)/float64(capacity)*10000+0.5)) / 100
	}
	return vpoller.OK(msgPropsRetrieved, []any{vpoller.Object{
		{Key: pathName, Value: toValue(pv[pathName])},
		{Key: "capacity", Value: capacity},
		{Key: "freeSpace", Value: free},
		{Key: "uncommitted", Value: unc},
		{Key: "used", Value: used},
		{Key: "provisioned", Value: used + unc},
		{Key: "usedPct", Value: pct(used)},
		{Key: "provisionedPct", Value: pct(used + unc)},
	}})
}
