package templates

// Licenses, certificate expiry, vCenter appliance health and vSAN
// clusters: items, discoveries and triggers of the vCenter template
// (vcLicensesAndHealth) and the Hypervisor template (hvCertificate).

// More reasons for TagOptional.
const (
	// OptionalAppliance: the vCenter appliance health API, which ESXi,
	// Windows vCenter and the simulator do not serve.
	OptionalAppliance = "appliance"
	// OptionalVSAN: vSAN cluster data, which only clusters running vSAN
	// have (the simulator has none, so its discovery finds none).
	OptionalVSAN = "vsan"
)

func init() {
	optionalReasons[OptionalAppliance] = true
	optionalReasons[OptionalVSAN] = true
}

// Macros of the expiry triggers.
const (
	MacroLicenseExpiryWarn = "{$VPOLLER.LICENSE.EXPIRY.WARN}"
	MacroCertExpiryWarn    = "{$VPOLLER.CERT.EXPIRY.WARN}"
	MacroCertExpiryHigh    = "{$VPOLLER.CERT.EXPIRY.HIGH}"
)

// certMacros declares the certificate expiry macros on a template.
func certMacros(b *builder) {
	b.macro(MacroCertExpiryWarn, "30", "Days before a certificate's expiry from which a warning is raised.")
	b.macro(MacroCertExpiryHigh, "7", "Days before a certificate's expiry from which a high-severity problem is raised.")
}

// certItems are the items of one certificate master (host.certificate.get
// or vcenter.certificate.get): expiry date, days left with the 30/7-day
// triggers, subject and issuer.
func certItems(tpl, mkey, prefix, what string) []Item {
	daysKey := prefix + ".cert.days.left"
	high := trigger(what+" certificate expires in less than "+MacroCertExpiryHigh+" days", "HIGH",
		last(tpl, daysKey)+"<"+MacroCertExpiryHigh,
		"The TLS certificate expires within "+MacroCertExpiryHigh+" days (or has expired): clients will refuse the connection. Renew it.").
		withOpData("{ITEM.LASTVALUE1} days left")
	warn := trigger(what+" certificate expires in less than "+MacroCertExpiryWarn+" days", "WARNING",
		last(tpl, daysKey)+"<"+MacroCertExpiryWarn,
		"The TLS certificate expires within "+MacroCertExpiryWarn+" days: plan its renewal.").
		withOpData("{ITEM.LASTVALUE1} days left").dependsOn(high)
	tags := []string{"component", "certificate"}
	return []Item{
		dep(mkey, prefix+".cert.not.after", what+" certificate: expires on", vtUnsigned, "unixtime", prop("notAfter")).
			withDescription("notAfter of the certificate.").withTags(tags...),
		dep(mkey, daysKey, what+" certificate: days left", vtFloat, "", prop("daysLeft")).
			withDescription("Days until the certificate expires, counted by the worker when it answers (negative once expired).").
			withTags(tags...).withTriggers(high, warn),
		dep(mkey, prefix+".cert.subject", what+" certificate: subject", vtChar, "", prop("subject"), discardUnchanged("1d")).
			withTags(tags...),
		dep(mkey, prefix+".cert.issuer", what+" certificate: issuer", vtChar, "", prop("issuer"), discardUnchanged("1d")).
			withTags(tags...),
	}
}

// hvCertificate adds the host's certificate expiry and its license to the
// Hypervisor template: one host.certificate.get and one host.license.get
// per interval, served from the worker's mirror and license snapshot.
func hvCertificate(b *builder, tpl, obj string) {
	certMacros(b)
	ckey := getKey("host.certificate.get", obj)
	b.item(master("Hypervisor: raw certificate", ckey, "The host's SSL certificate (host.certificate.get), from the worker's property mirror."))
	for _, it := range certItems(tpl, ckey, "vsphere.hv", "Hypervisor {HOST.NAME}") {
		b.item(it)
	}
	lkey := getKey("host.license.get", obj)
	b.item(master("Hypervisor: raw license", lkey, "The license assigned to the host (host.license.get), key masked, from the worker's license snapshot."))
	b.item(dep(lkey, "vsphere.hv.license.name", "License", vtChar, "", prop("licenseName"), discardUnchanged("1d")).
		withTags("component", "license"))
	b.item(dep(lkey, "vsphere.hv.license.key", "License key (masked)", vtChar, "", prop("key"), discardUnchanged("1d")).
		withTags("component", "license"))
}

// vcLicensesAndHealth adds licenses, the endpoint's certificate, the appliance
// health and the vSAN cluster discovery to the vCenter template.
func vcLicensesAndHealth(b *builder, tpl string) {
	b.macro("{$VPOLLER.VSAN.PUSED.MAX}", "80", "Used vSAN capacity (%) above which a problem is raised.")
	b.macro("{$VPOLLER.VSAN.RESYNC.PERIOD}", "1h", "How long vSAN objects may resync before a warning is raised.")
	vcLicenses(b, tpl)
	certMacros(b)
	ckey := getKey("vcenter.certificate.get")
	b.item(master("vCenter: raw certificate", ckey,
		"The TLS certificate the vCenter presents to the vPoller worker (vcenter.certificate.get), read at most hourly."))
	for _, it := range certItems(tpl, ckey, "vsphere.vc", "vCenter {$VSPHERE.HOST}") {
		b.item(it)
	}
	vcAppliance(b, tpl)
	b.rule(vsanRule(tpl))
}

// vcLicenses: one license.discover master per interval, a discovery of the
// licenses and, per license, used/total/expiry items (dependent on the one
// master, filtered by the masked key) with over-use and expiry triggers.
func vcLicenses(b *builder, tpl string) {
	b.macro(MacroLicenseExpiryWarn, "30", "Days before a license's expiration date from which a warning is raised.")
	mkey := getKey("license.discover")
	b.item(master("vCenter: raw licenses", mkey, "The vCenter's licenses (license.discover), keys masked, from the worker's license snapshot (5 min)."))
	sel := func(field string) Step {
		return jsonPath("$[?(@.key=='{#VSPHERE.LICENSE.KEY}')]." + field + ".first()")
	}
	name := "License {#VSPHERE.LICENSE.NAME} ({#VSPHERE.LICENSE.KEY})"
	tags := []string{"component", "license", "license", "{#VSPHERE.LICENSE.NAME}"}
	used := "vsphere.license.used[{#VSPHERE.LICENSE.KEY}]"
	total := "vsphere.license.total[{#VSPHERE.LICENSE.KEY}]"
	exp := "vsphere.license.expiration[{#VSPHERE.LICENSE.KEY}]"
	r := DiscoveryRule{
		Name: "License discovery", Key: discoverKey("license.discover"), Delay: MacroLLDInterval, Lifetime: "7d",
		Description: "The vCenter's licenses (license.discover), keyed by their masked key (the last 5 characters).",
		ItemPrototypes: []Item{
			dep(mkey, used, name+": used", vtUnsigned, "", sel("used")).withTags(tags...).
				withDescription("Units (CPUs, cores, instances: the license's cost unit) in use."),
			dep(mkey, total, name+": total", vtUnsigned, "", sel("total")).withTags(tags...).
				withDescription("Units the license allows; 0: unlimited."),
			dep(mkey, exp, name+": expiration date", vtUnsigned, "unixtime", sel("expirationDate")).withTags(tags...).
				withDescription("When the license expires; 0: it does not.").
				withTriggerProtos(trigger(name+" expires in less than "+MacroLicenseExpiryWarn+" days", "WARNING",
					last(tpl, exp)+">0 and "+last(tpl, exp)+"-now()<"+MacroLicenseExpiryWarn+"*86400",
					"The license expires (or has expired): the features and hosts it covers stop working when it does.")),
			dep(mkey, "vsphere.license.edition[{#VSPHERE.LICENSE.KEY}]", name+": edition", vtChar, "", sel("editionKey"), discardUnchanged("1d")).
				withTags(tags...),
		},
		TriggerProtos: []Trigger{trigger(name+" is over-used", "WARNING",
			last(tpl, used)+">"+last(tpl, total)+" and "+last(tpl, total)+">0",
			"More units are in use than the license allows.").withOpData("{ITEM.LASTVALUE1} used of {ITEM.LASTVALUE2}")},
	}
	b.rule(r)
}

// vcAppliance: the appliance health (appliance.health.get): the six health
// levels, the vMon services not running or unhealthy, the newest backup
// job. Tagged optional: appliance (not served by ESXi, Windows vCenter or
// the simulator).
func vcAppliance(b *builder, tpl string) {
	b.macro("{$VPOLLER.APPLIANCE.BACKUP.MAXAGE}", "2d", "Age of the newest appliance backup job above which a warning is raised.")
	mkey := getKey("appliance.health.get")
	opt := []string{TagOptional, OptionalAppliance}
	b.item(master("vCenter: raw appliance health", mkey,
		"vCenter Server Appliance health, services and backup (appliance.health.get, vAPI /api/appliance), from the worker's snapshot (60 s).").
		withTags(opt...))
	tags := append([]string{"component", "appliance"}, opt...)
	for _, p := range []struct{ part, name, desc string }{
		{"system", "overall", "Overall health of the appliance (the worst of its parts)."},
		{"load", "load", "CPU load health."},
		{"mem", "memory", "Memory health."},
		{"storage", "storage", "Storage (disk partitions) health."},
		{"database", "database", "Database health."},
		{"swap", "swap", "Swap health."},
	} {
		key := "vsphere.vc.appliance.health[" + p.part + "]"
		item := dep(mkey, key, "Appliance health: "+p.name, vtChar, "", prop(p.part)).withDescription(p.desc + " green, yellow, orange, red or gray (unknown).").
			withTags(tags...)
		if p.part == "system" {
			red := trigger("vCenter {$VSPHERE.HOST} appliance health is red", "HIGH", last(tpl, key)+`="red"`,
				"A component of the appliance is in a critical state (see the other health items).")
			orange := trigger("vCenter {$VSPHERE.HOST} appliance health is orange", "AVERAGE", last(tpl, key)+`="orange"`,
				"A component of the appliance may soon be in a critical state.").dependsOn(red)
			yellow := trigger("vCenter {$VSPHERE.HOST} appliance health is yellow", "WARNING", last(tpl, key)+`="yellow"`,
				"A component of the appliance is degraded.").dependsOn(orange)
			item = item.withTriggers(red, orange, yellow)
		} else {
			item = item.withTriggers(trigger("vCenter {$VSPHERE.HOST} appliance "+p.name+" health is orange or red", "AVERAGE",
				last(tpl, key)+`="orange" or `+last(tpl, key)+`="red"`, p.desc+" The appliance reports it degraded."))
		}
		b.item(item)
	}
	b.item(dep(mkey, "vsphere.vc.appliance.services", "Appliance services", vtUnsigned, "", prop("services")).
		withDescription("vMon services of the appliance.").withTags(tags...))
	stopped := "vsphere.vc.appliance.services.stopped"
	b.item(dep(mkey, stopped, "Appliance services not running", vtUnsigned, "", prop("servicesStopped")).
		withDescription("Services of automatic startup type that are not STARTED.").withTags(tags...).
		withTriggers(trigger("vCenter {$VSPHERE.HOST}: {ITEM.LASTVALUE1} automatic appliance service(s) not running", "AVERAGE",
			last(tpl, stopped)+">0", "Services that should run are stopped (vSphere Client, vpxd, ...): see the appliance's service list.")))
	unhealthy := "vsphere.vc.appliance.services.unhealthy"
	b.item(dep(mkey, unhealthy, "Appliance services unhealthy", vtUnsigned, "", prop("servicesUnhealthy")).
		withDescription("Running services whose health is not HEALTHY.").withTags(tags...).
		withTriggers(trigger("vCenter {$VSPHERE.HOST}: {ITEM.LASTVALUE1} appliance service(s) unhealthy", "WARNING",
			last(tpl, unhealthy)+">0", "Running services report warnings or degraded health.")))
	status := "vsphere.vc.appliance.backup.status"
	b.item(dep(mkey, status, "Appliance last backup status", vtChar, "", prop("backupStatus")).
		withDescription("Status of the newest backup job: SUCCEEDED, FAILED, RUNNING, ... or NONE.").withTags(tags...).
		withTriggers(trigger("vCenter {$VSPHERE.HOST}: last appliance backup failed", "WARNING", last(tpl, status)+`="FAILED"`,
			"The newest file-based backup job of the appliance failed.")))
	btime := "vsphere.vc.appliance.backup.time"
	b.item(dep(mkey, btime, "Appliance last backup time", vtUnsigned, "unixtime", prop("backupTime")).
		withDescription("End of the newest backup job (its start while it runs); 0 without one.").withTags(tags...).
		withTriggers(trigger("vCenter {$VSPHERE.HOST}: no appliance backup for {$VPOLLER.APPLIANCE.BACKUP.MAXAGE}", "WARNING",
			"now()-"+last(tpl, btime)+">{$VPOLLER.APPLIANCE.BACKUP.MAXAGE}",
			"The newest appliance backup job is older than {$VPOLLER.APPLIANCE.BACKUP.MAXAGE} (or there is none).")))
}

// vsanRule: the clusters running vSAN, each with one vsan.cluster.get per
// interval (from the worker's vSAN snapshot): health, capacity, resync.
func vsanRule(tpl string) DiscoveryRule {
	mkey := getKey("vsan.cluster.get", "{#VSPHERE.VSAN.CLUSTER.MOREF}")
	name := "vSAN cluster {#VSPHERE.VSAN.CLUSTER.NAME}"
	tags := []string{"component", "vsan", "cluster", "{#VSPHERE.VSAN.CLUSTER.NAME}", TagOptional, OptionalVSAN}
	raw := master(name+": raw", mkey, "Health, capacity and resync of the vSAN cluster (vsan.cluster.get).")
	raw.Tags = append(raw.Tags, Tag{Tag: TagOptional, Value: OptionalVSAN})
	health := "vsphere.vsan.health[{#VSPHERE.VSAN.CLUSTER.MOREF}]"
	pused := "vsphere.vsan.capacity.pused[{#VSPHERE.VSAN.CLUSTER.MOREF}]"
	resync := "vsphere.vsan.resync.bytes[{#VSPHERE.VSAN.CLUSTER.MOREF}]"
	red := trigger(name+" health is red", "HIGH", last(tpl, health)+`="red"`, "vSAN health reports a failed check (see the cluster's vSAN Skyline Health).").
		withOpData("{#VSPHERE.VSAN.CLUSTER.NAME}")
	return DiscoveryRule{
		Name: "vSAN cluster discovery", Key: discoverKey("vsan.cluster.discover"), Delay: MacroLLDInterval, Lifetime: "7d",
		Description: "Clusters with vSAN enabled (vsan.cluster.discover); none on a vCenter without vSAN.",
		ItemPrototypes: []Item{
			raw,
			dep(mkey, health, name+": health", vtChar, "", prop("health")).withTags(tags...).
				withDescription("Overall vSAN health (cached health summary): green, yellow or red.").
				withTriggerProtos(red, trigger(name+" health is yellow", "WARNING", last(tpl, health)+`="yellow"`,
					"vSAN health reports a warning.").dependsOn(red)),
			dep(mkey, "vsphere.vsan.capacity.total[{#VSPHERE.VSAN.CLUSTER.MOREF}]", name+": total capacity", vtUnsigned, "B", prop("totalCapacity")).withTags(tags...),
			dep(mkey, "vsphere.vsan.capacity.free[{#VSPHERE.VSAN.CLUSTER.MOREF}]", name+": free capacity", vtUnsigned, "B", prop("freeCapacity")).withTags(tags...),
			dep(mkey, "vsphere.vsan.capacity.used[{#VSPHERE.VSAN.CLUSTER.MOREF}]", name+": used capacity", vtUnsigned, "B", prop("usedCapacity")).withTags(tags...),
			dep(mkey, pused, name+": used capacity, %", vtFloat, "%", javascript(`
var o = JSON.parse(value)[0];
return o['totalCapacity'] > 0 ? 100 * o['usedCapacity'] / o['totalCapacity'] : 0;`)).withTags(tags...).
				withTriggerProtos(trigger(name+" capacity used over {$VPOLLER.VSAN.PUSED.MAX}%", "AVERAGE",
					last(tpl, pused)+">{$VPOLLER.VSAN.PUSED.MAX}", "The vSAN datastore is filling up: rebuilds after a host failure need free space.")),
			dep(mkey, resync, name+": resync bytes remaining", vtUnsigned, "B", prop("resyncBytes")).withTags(tags...).
				withTriggerProtos(trigger(name+" resyncing for over {$VPOLLER.VSAN.RESYNC.PERIOD}", "WARNING",
					"min(/"+tpl+"/"+resync+",{$VPOLLER.VSAN.RESYNC.PERIOD})>0",
					"vSAN objects have been resyncing for a long time: redundancy is reduced until they finish.")),
			dep(mkey, "vsphere.vsan.resync.objects[{#VSPHERE.VSAN.CLUSTER.MOREF}]", name+": objects resyncing", vtUnsigned, "", prop("resyncObjects")).withTags(tags...),
		},
	}
}
