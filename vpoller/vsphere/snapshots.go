package vsphere

// dataSnapshots are an agent's per-vCenter snapshots of the license,
// certificate, appliance and vSAN methods: each is loaded by the first
// request that finds it older than its TTL and shared by every request
// until then, so that what vCenter pays per interval does not grow with
// the number of objects or items asking. Loads stamp themselves with
// their reloadable's clock, so that tests stepping it see one load per
// step. The zero value is ready.
type dataSnapshots struct {
	licenses  reloadable[*licenseSnapshot]   // licenses.go
	vcCert    reloadable[*vcCert]            // certificates.go
	appliance reloadable[*applianceSnapshot] // appliance.go
	vsan      reloadable[*vsanSnapshot]      // vsan_cluster.go
}
