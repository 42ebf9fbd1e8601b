package vsphere

import (
	"cmp"
	"context"
	"time"

	"github.com/vpoller/zabbix-vpoller/vpoller/vsphere/objects"
)

// dataSnapshots are an agent's per-vCenter snapshots of the license,
// certificate, appliance and vSAN methods: each is loaded by the first
// request that finds it older than its TTL and shared by every request
// until then (objects.Snapshot), so that what vCenter pays per interval
// does not grow with the number of objects or items asking.
type dataSnapshots struct {
	// now is the clock of all four: time.Now when nil; tests set one
	// that steps past a TTL before the first request.
	now func() time.Time

	licenses  *objects.Snapshot[*licenseSnapshot]   // licenses.go
	vcCert    *objects.Snapshot[*vcCert]            // certificates.go
	appliance *objects.Snapshot[*applianceSnapshot] // appliance.go
	vsan      *objects.Snapshot[*vsanSnapshot]      // vsan_cluster.go
}

// dataFailBackoff is how long a failed load answers for itself: requests
// within it get its error without a new attempt, so that a vCenter whose
// vAPI refuses our login, say, is not asked again by every request.
const dataFailBackoff = 10 * time.Second

func newDataSnapshots(a *Agent) *dataSnapshots {
	d := &dataSnapshots{}
	opts := func(what string, ttl time.Duration) objects.SnapshotOptions {
		return objects.SnapshotOptions{What: what, TTL: ttl, Timeout: cmp.Or(a.cfg.Timeout, DefaultTimeout),
			FailBackoff: dataFailBackoff, Logger: a.log, Now: d.clock}
	}
	d.licenses = objects.NewSnapshot(opts("the licenses", licenseTTL),
		func(ctx context.Context, _ time.Time) (*licenseSnapshot, error) { return loadLicenses(ctx, a) })
	d.vcCert = objects.NewSnapshot(opts("the endpoint certificate", vcCertTTL),
		func(ctx context.Context, _ time.Time) (*vcCert, error) { return loadVCCert(ctx, a) })
	d.appliance = objects.NewSnapshot(opts("the appliance health", applianceTTL),
		func(ctx context.Context, _ time.Time) (*applianceSnapshot, error) { return loadAppliance(ctx, a) })
	d.vsan = objects.NewSnapshot(opts("the vSAN clusters", vsanTTL),
		func(ctx context.Context, _ time.Time) (*vsanSnapshot, error) { return loadVsan(ctx, a) })
	return d
}

func (d *dataSnapshots) clock() time.Time {
	if d.now != nil {
		return d.now()
	}
	return time.Now()
}
