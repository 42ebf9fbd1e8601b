package vpoller

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// MethodInfo is one row of the method catalogue: the facts about a vPoller
// method that every component shares. It knows nothing of Zabbix or
// vSphere: package lld derives the Zabbix treatment from Action and Shape,
// vpoller/vsphere binds a handler to the row, and docs/methods.md's table
// is generated from Doc (go generate ./vpoller/methodsdoc).
type MethodInfo struct {
	Name string
	// Action is the kind of request: what the method does.
	Action Action
	// Shape is the shape of a successful result.
	Shape Shape
	// Required lists the wire keys the worker insists on (besides hostname,
	// which selects the vSphere agent), in the order they are checked:
	// the first one missing is the one a client is told about. Missing
	// ones get "Invalid task request".
	Required []string
	// Original is false for methods the Python vPoller does not have.
	Original bool
	// Order is the key order of a successful reply: the original writes
	// "msg" before "success" for some of its methods.
	Order KeyOrder
	// Doc is the method's row in the table of docs/methods.md.
	Doc MethodDoc
}

// Action is the kind of request a method is.
type Action uint8

const (
	// ActionDiscover lists objects or entries, one element per thing found:
	// an inventory, an object's related objects, alarms, tags, counters.
	ActionDiscover Action = iota + 1
	// ActionGet reads values of one object: its properties or a value
	// computed from them.
	ActionGet
	// ActionPerf reads performance samples of one object's counter.
	ActionPerf
	// ActionStream reads the entries that arrived after the one a client
	// saw last: the reply depends on when the request arrives.
	ActionStream
)

func (a Action) String() string {
	switch a {
	case ActionDiscover:
		return "discover"
	case ActionGet:
		return "get"
	case ActionPerf:
		return "perf"
	case ActionStream:
		return "stream"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Shape is the shape of a successful result.
type Shape uint8

const (
	// ListResult: the result is a list of objects (most methods).
	ListResult Shape = iota
	// ObjectResult: the result is one object.
	ObjectResult
)

func (s Shape) String() string {
	if s == ObjectResult {
		return "object"
	}
	return "list"
}

// KeyOrder is the order of "success" and "msg" in a successful reply
// (failures are success first for every method).
type KeyOrder uint8

const (
	// SuccessFirst: {"success": 0, "msg": ..., "result": ...}.
	SuccessFirst KeyOrder = iota
	// MsgFirst: {"msg": ..., "success": 0, "result": ...}: the original's
	// order for its general methods, perf.interval.info, the per-entity
	// performance information and the performance samples, whose handlers
	// build their reply dict in that order (TestOriginalKeyOrder holds the
	// captured bytes).
	MsgFirst
)

// MethodDoc is a method's row in the table of docs/methods.md: the prose
// a user reads, generated into the file and checked by a test there.
type MethodDoc struct {
	// Keys is the "required keys" cell when the Required keys alone do not
	// say enough (what name names, optional keys); "" prints Required.
	Keys string
	// Result describes the result ("list `[{\"name\"}]`", "OBJECT ...").
	Result string
	// Message is the message of a successful reply.
	Message string
	// Differences says what differs from the original, or that the method
	// is ours ("ours" first).
	Differences string
}

// Success messages shared by many rows (the worker's handlers write them).
const (
	msgDiscovered = "Successfully discovered objects"
	msgObject     = "Successfully retrieved object properties"
	msgProps      = "Successfully retrieved properties"
	msgPerf       = "Successfully retrieved performance metrics"
	msgAlarms     = "Successfully retrieved alarms"
	msgTags       = "Successfully retrieved tags"
	msgAttributes = "Successfully retrieved custom attributes"
)

var (
	reqName       = []string{KeyName}
	reqNameProps  = []string{KeyName, KeyProperties}
	reqNameCount  = []string{KeyName, KeyCounterName}
	reqGuestCreds = []string{KeyName, KeyUsername, KeyPassword}
	reqNameKey    = []string{KeyName, KeyKey}
)

// Doc cells shared by the rows of one family.
var (
	docDiscover    = MethodDoc{Result: "list", Message: msgDiscovered}
	docGet         = MethodDoc{Result: "list, one element", Message: msgObject}
	docAlarms      = MethodDoc{Result: "list of alarm entries (below)", Message: msgAlarms}
	docPerfInfo    = MethodDoc{Result: "list `[{\"counterId\": \"<counter name>\", \"instance\"}]`", Message: msgPerf, Differences: "counter ids missing from the catalogue are left out"}
	docPerfGet     = MethodDoc{Result: "list of samples (below)", Message: msgPerf, Differences: "historical only: without `perf-interval` -> `No historical performance interval provided for entity <name>` (same)"}
	docRTPerfInfo  = MethodDoc{Result: "counter/instance list at the real-time rate (or `perf-interval`)", Message: msgPerf}
	docTags        = MethodDoc{Result: "list `[{\"category\",\"tag\",\"description\"}]`, `[]` without tags", Message: msgTags, Differences: "ours (see Tags below)"}
	docAttributes  = MethodDoc{Keys: "name (+ key / properties = attribute names)", Result: "list of ONE object `[{\"<attribute>\": \"<value>\", ...}]`", Message: msgAttributes, Differences: "ours (see Custom attributes below)"}
	docRelatedName = MethodDoc{Result: "list `[{\"name\"}]`", Message: msgDiscovered}
)

// rtPerfGet is the samples row of an object with real-time counters
// (hosts and VMs): who is how its failures name it.
func rtPerfGet(who string) MethodDoc {
	return MethodDoc{Result: "samples; real-time (20 s) unless `perf-interval`", Message: msgPerf,
		Differences: fmt.Sprintf("`%[1]s is not powered on, cannot get performance metrics`, `%[1]s is not connected, cannot get performance metrics` (same)", who)}
}

// methods is the catalogue: one row per method, the 53 of the original and
// ours, in the order of docs/methods.md's table (families together).
// Adding a method is a row here and a handler in vpoller/vsphere
// (docs/architecture.md, "Adding a vPoller method").
var methods = []MethodInfo{
	// general
	{Name: "about", Action: ActionGet, Original: true, Order: MsgFirst, Doc: MethodDoc{
		Result: "list `[{\"<prop>\": value}]`, properties default `[\"fullName\"]`", Message: msgProps, Differences: "unknown property -> `\"(null)\"` (same)"}},
	{Name: "event.latest", Action: ActionGet, Original: true, Order: MsgFirst, Doc: MethodDoc{
		Result: "list `[{\"event\": fullFormattedMessage}]`", Message: "Successfully retrieved event"}},
	{Name: "event.get", Action: ActionStream, Doc: MethodDoc{Keys: "- (optional: key, max-sample, name)",
		Result: "list of event entries (below), oldest first", Message: "Successfully retrieved events", Differences: "ours: the event stream (see below)"}},
	{Name: "session.get", Action: ActionDiscover, Original: true, Order: MsgFirst, Doc: MethodDoc{
		Result: "list `[{\"key\",\"userName\",\"fullName\",\"loginTime\",\"lastActiveTime\",\"ipAddress\",\"userAgent\",\"callCount\"}]`, all strings", Message: "Successfully retrieved sessions"}},
	{Name: "perf.metric.info", Action: ActionDiscover, Original: true, Doc: MethodDoc{
		Result: "list of PerfCounterInfo data objects", Message: "Successfully retrieved performance metrics info",
		Differences: "each entry also has `\"counterName\"`: the `<group>.<name>.<unit>.<rollup>` name `*.perf.metric.get` takes"}},
	{Name: "perf.interval.info", Action: ActionDiscover, Original: true, Order: MsgFirst, Doc: MethodDoc{
		Result: "list `[{\"enabled\",\"key\",\"length\",\"level\",\"name\",\"samplingPeriod\"}]`", Message: "Successfully retrieved performance historical intervals"}},

	// networks
	{Name: "net.discover", Action: ActionDiscover, Original: true, Doc: MethodDoc{Result: "list `[{\"name\", props...}]`", Message: msgDiscovered}},
	{Name: "net.get", Action: ActionGet, Required: reqName, Original: true, Doc: docGet},
	{Name: "net.host.get", Action: ActionDiscover, Shape: ObjectResult, Required: reqName, Original: true, Doc: MethodDoc{
		Result: "OBJECT `{\"name\", \"host\": [{\"name\"}]}`", Message: msgDiscovered, Differences: "`properties` adds fields to each host"}},
	{Name: "net.vm.get", Action: ActionDiscover, Shape: ObjectResult, Required: reqName, Original: true, Doc: MethodDoc{
		Result: "OBJECT `{\"name\", \"vm\": [{\"name\"}]}`", Message: msgDiscovered, Differences: "`properties` adds fields to each VM"}},

	// datacenters
	{Name: "datacenter.discover", Action: ActionDiscover, Original: true, Doc: docDiscover},
	{Name: "datacenter.get", Action: ActionGet, Required: reqNameProps, Original: true, Doc: docGet},
	{Name: "datacenter.alarm.get", Action: ActionDiscover, Required: reqName, Original: true, Doc: docAlarms},
	{Name: "datacenter.perf.metric.info", Action: ActionDiscover, Required: reqName, Original: true, Order: MsgFirst, Doc: docPerfInfo},
	{Name: "datacenter.perf.metric.get", Action: ActionPerf, Required: reqNameCount, Original: true, Order: MsgFirst, Doc: docPerfGet},

	// clusters
	{Name: "cluster.discover", Action: ActionDiscover, Original: true, Doc: docDiscover},
	{Name: "cluster.get", Action: ActionGet, Required: reqNameProps, Original: true, Doc: docGet},
	{Name: "cluster.alarm.get", Action: ActionDiscover, Required: reqName, Original: true, Doc: docAlarms},
	{Name: "cluster.perf.metric.info", Action: ActionDiscover, Required: reqName, Original: true, Order: MsgFirst, Doc: docPerfInfo},
	{Name: "cluster.perf.metric.get", Action: ActionPerf, Required: reqNameCount, Original: true, Order: MsgFirst, Doc: docPerfGet},

	// resource pools
	{Name: "resource.pool.discover", Action: ActionDiscover, Original: true, Doc: docDiscover},
	{Name: "resource.pool.get", Action: ActionGet, Required: reqNameProps, Original: true, Doc: MethodDoc{
		Result: "list, one element", Message: msgObject, Differences: "vCenter names every root pool \"Resources\": use the pool id"}},
	{Name: "resource.pool.vm.get", Action: ActionDiscover, Required: reqName, Original: true, Doc: MethodDoc{
		Result: "list `[{\"name\", props..., \"resourcePool.name\"}]`", Message: msgDiscovered}},

	// hosts
	{Name: "host.discover", Action: ActionDiscover, Original: true, Doc: docDiscover},
	{Name: "host.get", Action: ActionGet, Required: reqNameProps, Original: true, Doc: docGet},
	{Name: "host.alarm.get", Action: ActionDiscover, Required: reqName, Original: true, Doc: docAlarms},
	{Name: "host.perf.metric.info", Action: ActionDiscover, Required: reqName, Original: true, Order: MsgFirst, Doc: docRTPerfInfo},
	{Name: "host.perf.metric.get", Action: ActionPerf, Required: reqNameCount, Original: true, Order: MsgFirst, Doc: rtPerfGet("Host")},
	{Name: "host.cluster.get", Action: ActionGet, Required: reqName, Original: true, Doc: MethodDoc{
		Result: "list `[{\"name\",\"cluster\"}]`", Message: msgProps, Differences: "standalone host: its compute resource's name (same)"}},
	{Name: "host.vm.get", Action: ActionDiscover, Required: reqName, Original: true, Doc: MethodDoc{
		Result: "list `[{\"name\"}]`", Message: msgDiscovered, Differences: "`properties` adds fields"}},
	{Name: "host.datastore.get", Action: ActionDiscover, Required: reqName, Original: true, Doc: MethodDoc{
		Result: "list `[{\"name\",\"info.url\"}]`", Message: msgDiscovered, Differences: "`properties` adds fields"}},
	{Name: "host.net.get", Action: ActionDiscover, Shape: ObjectResult, Required: reqName, Original: true, Doc: MethodDoc{
		Result: "OBJECT `{\"name\", \"network\": [{\"name\"}]}`", Message: msgDiscovered}},
	{Name: "host.sensor.discover", Action: ActionDiscover, Required: reqName, Doc: MethodDoc{Keys: "name (host)",
		Result: "list `[{\"name\",\"sensorType\",\"healthState\"}]`, one per numeric sensor, at most 1,000", Message: msgDiscovered,
		Differences: "ours (see \"Hardware sensors and health\" below); a host without a health system: `[]`"}},
	{Name: "host.sensor.get", Action: ActionGet, Required: reqNameKey, Doc: MethodDoc{Keys: "name (host), key (sensor name)",
		Result: "list `[{\"name\",\"sensorType\",\"healthState\",\"currentReading\",\"unitModifier\",\"baseUnits\",\"value\"}]`", Message: msgProps,
		Differences: "ours; unknown sensor: `Cannot find sensor <key> on host <name>`"}},
	{Name: "host.health.get", Action: ActionGet, Required: reqName, Doc: MethodDoc{Keys: "name (host)",
		Result: "list `[{\"name\",\"overallStatus\",\"hardwareStatus\",\"sensors\",\"green\",\"yellow\",\"red\",\"unknown\"}]`", Message: msgProps, Differences: "ours"}},
	{Name: "host.pnic.discover", Action: ActionDiscover, Required: reqName, Doc: MethodDoc{Keys: "name (host)",
		Result: "list `[{\"instance\",\"mac\",\"driver\",\"linkSpeed\"}]`, one per physical NIC, sorted by instance", Message: msgDiscovered,
		Differences: "ours (see \"Perf instances\" below); `linkSpeed` in Mb/s, 0 when the link is down"}},
	{Name: "host.datastore.discover", Action: ActionDiscover, Required: reqName, Doc: MethodDoc{Keys: "name (host)",
		Result: "list `[{\"instance\",\"name\",\"url\",\"moref\"}]`, one per mounted datastore, sorted by name", Message: msgDiscovered,
		Differences: "ours (see \"Perf instances\" below); `instance` is the datastore's UUID"}},
	{Name: "host.lun.discover", Action: ActionDiscover, Required: reqName, Doc: MethodDoc{Keys: "name (host)",
		Result: "list `[{\"instance\",\"displayName\",\"vendor\",\"model\",\"capacity\"}]`, one per SCSI disk (LUN type `disk`), sorted by instance", Message: msgDiscovered,
		Differences: "ours (see \"Perf instances\" below); `capacity` in bytes"}},

	// virtual machines
	{Name: "vm.discover", Action: ActionDiscover, Original: true, Doc: docDiscover},
	{Name: "vm.get", Action: ActionGet, Required: reqNameProps, Original: true, Doc: docGet},
	{Name: "vm.alarm.get", Action: ActionDiscover, Required: reqName, Original: true, Doc: docAlarms},
	{Name: "vm.perf.metric.info", Action: ActionDiscover, Required: reqName, Original: true, Order: MsgFirst, Doc: docRTPerfInfo},
	{Name: "vm.perf.metric.get", Action: ActionPerf, Required: reqNameCount, Original: true, Order: MsgFirst, Doc: rtPerfGet("VM")},
	{Name: "vm.host.get", Action: ActionGet, Required: reqName, Original: true, Doc: MethodDoc{Result: "list `[{\"name\",\"host\"}]`", Message: msgObject}},
	{Name: "vm.datastore.get", Action: ActionDiscover, Required: reqName, Original: true, Doc: MethodDoc{Result: "list `[{\"name\",\"info.url\"}]`", Message: msgDiscovered}},
	{Name: "vm.net.get", Action: ActionDiscover, Shape: ObjectResult, Required: reqName, Original: true, Doc: MethodDoc{
		Result: "OBJECT `{\"name\", \"network\": [{\"name\"}]}`", Message: msgDiscovered}},
	{Name: "vm.disk.discover", Action: ActionDiscover, Required: reqName, Original: true, Doc: MethodDoc{
		Result: "list `[{\"name\", \"disk\": [{\"diskPath\", props...}]}]`", Message: msgDiscovered, Differences: "a VM without guest data: `\"disk\": []`"}},
	{Name: "vm.disk.get", Action: ActionGet, Required: reqName, Original: true, Doc: MethodDoc{Keys: "name (+ key = guest disk path)",
		Result: "list `[{\"name\", \"disk\": {\"diskPath\", props...}}]`", Message: msgProps + "; without `key`: " + msgDiscovered,
		Differences: "unknown path: `Unable to find guest disk <path>` (same); without `key` (null or empty): the `vm.disk.discover` reply, every disk as a list (same)"}},
	{Name: "vm.vdisk.discover", Action: ActionDiscover, Required: reqName, Doc: MethodDoc{
		Result: "list `[{\"instance\",\"label\",\"capacity\",\"fileName\"}]`, one per virtual disk, sorted by instance", Message: msgDiscovered,
		Differences: "ours (see \"Perf instances\" below); a VM without disks: `[]`"}},
	{Name: "vm.vnic.discover", Action: ActionDiscover, Required: reqName, Doc: MethodDoc{
		Result: "list `[{\"instance\",\"label\",\"macAddress\",\"network\",\"connected\"}]`, one per virtual NIC, sorted by device key", Message: msgDiscovered,
		Differences: "ours (see \"Perf instances\" below); a VM without NICs: `[]`"}},
	{Name: "vm.guest.net.get", Action: ActionDiscover, Shape: ObjectResult, Required: reqName, Original: true, Doc: MethodDoc{
		Result: "OBJECT `{\"name\", \"net\": [{\"network\", props...}]}`", Message: msgProps}},
	{Name: "vm.process.get", Action: ActionGet, Required: reqGuestCreds, Original: true, Doc: MethodDoc{
		Result: "list `[{\"cmdLine\", props...}]`", Message: msgProps,
		Differences: "`<name> is not running VMware Tools` (same); credentials are required by the catalogue, so a request without them gets `Invalid task request`"}},
	{Name: "vm.snapshot.get", Action: ActionDiscover, Required: reqName, Original: true, Doc: MethodDoc{
		Result: "list `[{\"createTime\",\"description\",\"id\",\"name\",\"quiesced\":\"True\"/\"False\",\"state\"}]`", Message: "Successfully retrieved snapshots",
		Differences: "walks the WHOLE snapshot tree depth-first (the original: roots and one level); none: `No snapshots found for: <name>` (same)"}},
	{Name: "vm.cpu.usage.percent", Action: ActionGet, Required: reqName, Original: true, Doc: MethodDoc{
		Result: "list `[{\"name\", \"vm.cpu.usage.percent\": float}]`", Message: msgProps,
		Differences: "the ORIGINAL formula, kept so Zabbix history stays comparable (see below)"}},
	// Ours: the VM's CPU usage as a percentage of its vCPU capacity (MHz
	// used / (vCPUs x core MHz)); vm.cpu.usage.percent keeps the original's
	// formula so that history stays comparable.
	{Name: "vm.cpu.usage.pct", Action: ActionGet, Required: reqName, Doc: MethodDoc{
		Result: "list `[{\"name\", \"vm.cpu.usage.pct\": float}]`", Message: msgProps, Differences: "ours: a real percentage (see below)"}},

	// datastores
	{Name: "datastore.discover", Action: ActionDiscover, Original: true, Doc: docDiscover},
	{Name: "datastore.get", Action: ActionGet, Required: reqNameProps, Original: true, Doc: MethodDoc{Keys: "name (= info.url), properties",
		Result: "list, one element; always has `name` and `info.url`", Message: msgObject}},
	{Name: "datastore.alarm.get", Action: ActionDiscover, Required: reqName, Original: true, Doc: docAlarms},
	{Name: "datastore.host.get", Action: ActionDiscover, Required: reqName, Original: true, Doc: docRelatedName},
	{Name: "datastore.vm.get", Action: ActionDiscover, Required: reqName, Original: true, Doc: docRelatedName},
	{Name: "datastore.perf.metric.info", Action: ActionDiscover, Required: reqName, Original: true, Order: MsgFirst, Doc: docPerfInfo},
	{Name: "datastore.perf.metric.get", Action: ActionPerf, Required: reqNameCount, Original: true, Order: MsgFirst, Doc: docPerfGet},
	{Name: "datastore.perf.hosts.get", Action: ActionPerf, Required: reqNameCount, Doc: MethodDoc{
		Keys:    "name (datastore name or URL), counter-name (a host counter of the `datastore` group)",
		Result:  "list, one element `[{\"counterId\",\"instance\",\"hosts\",\"value\"}]`: the newest real-time sample of every connected host that mounts the datastore (instance: the datastore's UUID), averaged for millisecond counters (latency), summed for the others (IOPS, KBps); `hosts` is how many had a sample, `value` null when none had",
		Message: msgPerf, Differences: "ours: the datastore-level figures Zabbix's VMware template shows; each host's series joins the worker's perf sweep"}},

	{Name: "vsan.health.get", Action: ActionGet, Required: reqName, Original: true, Doc: MethodDoc{Keys: "name (host)",
		Result: "list `[{\"name\",\"uuid\",\"nodeUuid\",\"health\"}]`", Message: msgProps,
		Differences: "a host whose vSAN system does not answer: `Cannot query vSAN status of host <name>: <fault>` (the simulator has no vSAN system)"}},

	// Ours: vSphere tags (vCenter's tagging service, through vAPI) and
	// custom attributes (custom fields).
	{Name: "tag.discover", Action: ActionDiscover, Doc: MethodDoc{
		Result: "list `[{\"category\",\"tag\",\"description\",\"objects\": int}]`, every tag", Message: "Successfully discovered tags", Differences: "ours (see Tags below)"}},
	{Name: "vm.tag.get", Action: ActionDiscover, Required: reqName, Doc: docTags},
	{Name: "host.tag.get", Action: ActionDiscover, Required: reqName, Doc: docTags},
	{Name: "datastore.tag.get", Action: ActionDiscover, Required: reqName, Doc: docTags},
	{Name: "cluster.tag.get", Action: ActionDiscover, Required: reqName, Doc: docTags},
	{Name: "vm.attribute.get", Action: ActionGet, Required: reqName, Doc: docAttributes},
	{Name: "host.attribute.get", Action: ActionGet, Required: reqName, Doc: docAttributes},

	// Ours: datastore clusters and distributed switches.
	{Name: "datastore.cluster.discover", Action: ActionDiscover, Doc: MethodDoc{
		Result: "list `[{\"name\"} + properties]`", Message: msgDiscovered, Differences: "ours; LLD macro `{#VSPHERE.DATASTORE.CLUSTER.NAME}`"}},
	{Name: "datastore.cluster.get", Action: ActionGet, Required: reqNameProps, Doc: MethodDoc{
		Result: "list `[{\"name\", \"<prop>\": value}]`", Message: msgObject,
		Differences: "ours; any property (`summary.capacity`, `summary.freeSpace`: the sums over the members, as vCenter keeps them)"}},
	{Name: "datastore.cluster.datastore.get", Action: ActionDiscover, Required: reqName, Doc: MethodDoc{Keys: "name (datastore cluster)",
		Result: "list `[{\"name\", \"info.url\"} + properties]`, as `host.datastore.get`", Message: msgDiscovered,
		Differences: "ours; the cluster's `childEntity` that are datastores (at most 1,024; vSphere allows 64)"}},
	{Name: "dvswitch.discover", Action: ActionDiscover, Doc: MethodDoc{
		Result: "list `[{\"name\"} + properties]`", Message: msgDiscovered, Differences: "ours; `{#VSPHERE.DVSWITCH.NAME}`"}},
	{Name: "dvswitch.get", Action: ActionGet, Required: reqNameProps, Doc: MethodDoc{
		Result: "list `[{\"name\", \"<prop>\": value}]`", Message: msgObject, Differences: "ours; any property (`uuid`, `summary.numPorts`, `config.maxPorts`, ...)"}},
	{Name: "dvswitch.port.get", Action: ActionDiscover, Required: reqName, Doc: MethodDoc{Keys: "name (switch); optional `key` (portgroup name or key)",
		Result: "list of ports (see Distributed switch ports below)", Message: "Successfully retrieved distributed switch ports",
		Differences: "ours; one `FetchDVPorts` call; at most 5,000 ports"}},

	// Ours: licenses, certificate expiry, vCenter appliance health and
	// vSAN clusters (docs/methods.md, "Licenses, certificates, appliance
	// health and vSAN clusters").
	{Name: "license.discover", Action: ActionDiscover, Doc: MethodDoc{
		Result: "list `[{\"key\",\"name\",\"editionKey\",\"productName\",\"costUnit\",\"total\",\"used\",\"expirationDate\"}]` sorted by key", Message: "Successfully retrieved licenses",
		Differences: "ours; keys masked but the last 5 characters; `expirationDate` Unix seconds, 0 = never; `total` 0 = unlimited"}},
	{Name: "host.license.get", Action: ActionGet, Required: reqName, Doc: MethodDoc{Keys: "name (host)",
		Result: "list `[{\"name\",\"key\",\"licenseName\",\"editionKey\",\"expirationDate\"}]`", Message: "Successfully retrieved licenses",
		Differences: "ours; the license assigned to the host; none: `Host <name> has no license assigned`"}},
	{Name: "host.certificate.get", Action: ActionGet, Required: reqName, Doc: MethodDoc{Keys: "name (host)",
		Result: "list `[{\"name\",\"subject\",\"issuer\",\"notBefore\",\"notAfter\",\"daysLeft\",\"sha256\"}]`", Message: "Successfully retrieved certificate",
		Differences: "ours; the host's SSL certificate (`config.certificate`, from the mirror); times in Unix seconds"}},
	{Name: "vcenter.certificate.get", Action: ActionGet, Doc: MethodDoc{
		Result: "as `host.certificate.get`, `name` = the agent", Message: "Successfully retrieved certificate",
		Differences: "ours; the leaf certificate the endpoint presents to the worker"}},
	{Name: "appliance.health.get", Action: ActionGet, Doc: MethodDoc{
		Result: "list `[{\"system\",\"load\",\"mem\",\"storage\",\"database\",\"swap\",\"services\",\"servicesStopped\",\"servicesUnhealthy\",\"backupStatus\",\"backupType\",\"backupTime\"}]`", Message: "Successfully retrieved appliance health",
		Differences: "ours; ESXi, Windows vCenter, vCenter before 7.0: `Cannot retrieve appliance health: the vCenter appliance health API is not available ...`"}},
	{Name: "appliance.service.discover", Action: ActionDiscover, Doc: MethodDoc{
		Result: "list `[{\"service\",\"nameKey\",\"startupType\",\"state\",\"health\"}]` sorted by service", Message: "Successfully retrieved appliance health",
		Differences: "ours; as `appliance.health.get`"}},
	{Name: "vsan.cluster.discover", Action: ActionDiscover, Doc: MethodDoc{
		Result: "list `[{\"name\",\"moref\"}]`, clusters with vSAN enabled", Message: msgDiscovered, Differences: "ours; from the mirror (`configurationEx`)"}},
	{Name: "vsan.cluster.get", Action: ActionGet, Required: reqName, Doc: MethodDoc{Keys: "name (cluster)",
		Result: "list `[{\"name\",\"health\",\"healthDescription\",\"totalCapacity\",\"freeCapacity\",\"usedCapacity\",\"resyncBytes\",\"resyncObjects\",\"resyncETA\"}]`", Message: "Successfully retrieved vSAN cluster",
		Differences: "ours; no vSAN: `vSAN is not enabled on cluster <name>`"}},

	// Ours: storage paths, host services and time, VM backup facts,
	// datastore provisioning (docs/methods.md, "Storage paths, host
	// services and time, backups, provisioning").
	{Name: "host.path.discover", Action: ActionDiscover, Required: reqName, Doc: MethodDoc{Keys: "name (host)",
		Result: "list `[{\"lun\",\"displayName\",\"policy\",\"paths\",\"active\",\"standby\",\"disabled\",\"dead\",\"unknown\",\"states\"}]`, one per LUN, sorted by lun", Message: msgDiscovered,
		Differences: "ours; from the mirror (`config.storageDevice.multipathInfo`)"}},
	{Name: "host.service.get", Action: ActionGet, Required: reqName, Doc: MethodDoc{Keys: "name (host); optional `key` (service key)",
		Result: "list `[{\"key\",\"label\",\"running\",\"policy\",\"required\"}]`, the host's services; with `key` that one", Message: msgProps,
		Differences: "ours; an unknown key: `Cannot find service <key> on host <name>`"}},
	{Name: "host.ntp.get", Action: ActionGet, Required: reqName, Doc: MethodDoc{Keys: "name (host)",
		Result: "list `[{\"name\",\"ntpConfigured\",\"ntpServers\",\"ntpRunning\",\"ntpPolicy\",\"timeZone\"}]`", Message: msgProps,
		Differences: "ours; no `dateTimeInfo` (the simulator): not configured"}},
	{Name: "host.time.get", Action: ActionGet, Required: reqName, Doc: MethodDoc{Keys: "name (host)",
		Result: "list `[{\"name\",\"hostTime\",\"workerTime\",\"offset\",\"roundTrip\"}]`", Message: msgProps,
		Differences: "ours; one `QueryDateTime` per request; no date/time system (the simulator): `Cannot query the time of host <name>: <fault>`"}},
	{Name: "vm.backup.get", Action: ActionGet, Required: reqName, Doc: MethodDoc{Keys: "name (VM); optional `key` (custom attribute name)",
		Result: "list `[{\"name\",\"changeTrackingEnabled\",\"snapshots\",\"snapshotSize\",\"backupAttribute\",\"backupValue\",\"lastBackup\",\"backupAge\"}]`", Message: "Successfully retrieved backup information",
		Differences: "ours; see `vm.backup.get` below"}},
	{Name: "datastore.space.get", Action: ActionGet, Required: reqName, Doc: MethodDoc{Keys: "name (datastore URL)",
		Result: "list `[{\"name\",\"capacity\",\"freeSpace\",\"uncommitted\",\"used\",\"provisioned\",\"usedPct\",\"provisionedPct\"}]`", Message: msgProps,
		Differences: "ours; percentages of capacity, 2 decimals, 0 at capacity 0"}},

	// New methods: their rows here (or in their family above); the docs
	// table follows this order.
}

// catalogue is an immutable view of the rows: the table's (methods) and
// those added by Register after them.
type catalogue struct {
	rows   []MethodInfo
	byName map[string]int
	names  []string // sorted
}

func newCatalogue(rows []MethodInfo) *catalogue {
	c := &catalogue{rows: rows, byName: make(map[string]int, len(rows)), names: make([]string, 0, len(rows))}
	for i, mi := range rows {
		c.byName[mi.Name] = i
		c.names = append(c.names, mi.Name)
	}
	sort.Strings(c.names)
	return c
}

var (
	current    atomic.Pointer[catalogue]
	registerMu sync.Mutex // serialises Register and its undo
)

func init() { current.Store(newCatalogue(methods)) }

// Method returns the catalogue row of a method name.
func Method(name string) (MethodInfo, bool) {
	c := current.Load()
	i, ok := c.byName[name]
	if !ok {
		return MethodInfo{}, false
	}
	return c.rows[i], true
}

// Methods returns every method name, sorted.
func Methods() []string { return slices.Clone(current.Load().names) }

// Catalogue returns every row in the table's order (families together,
// rows added by Register last): the order of docs/methods.md. The rows'
// slices are shared: do not modify them.
func Catalogue() []MethodInfo { return slices.Clone(current.Load().rows) }

// Register adds a row to the catalogue at run time: the hook for methods
// defined outside this package (a test, an extension; a method of this
// project is a row in methods). It fails for an invalid row or a name
// already in the catalogue. The returned function removes the row again.
// The worker still needs a handler for it (vsphere.Register).
func Register(mi MethodInfo) (unregister func(), err error) {
	if err := mi.Check(); err != nil {
		return nil, err
	}
	mi.Required = slices.Clone(mi.Required)
	registerMu.Lock()
	defer registerMu.Unlock()
	c := current.Load()
	if _, ok := c.byName[mi.Name]; ok {
		return nil, fmt.Errorf("method %s: already in the catalogue", mi.Name)
	}
	current.Store(newCatalogue(append(slices.Clone(c.rows), mi)))
	var once sync.Once
	return func() {
		once.Do(func() {
			registerMu.Lock()
			defer registerMu.Unlock()
			c := current.Load()
			current.Store(newCatalogue(slices.DeleteFunc(slices.Clone(c.rows), func(r MethodInfo) bool { return r.Name == mi.Name })))
		})
	}, nil
}

// wireKeys are the keys a method may require (hostname is always
// required and never listed).
var wireKeys = []string{KeyName, KeyProperties, KeyKey, KeyUsername, KeyPassword, KeyCounterName, KeyInstance, KeyMaxSample, KeyPerfInterval}

// Check reports what is wrong with a row: every row states its name,
// action, result and success message; its required keys are request keys
// other than hostname, each once; only the original's methods have its
// msg-first order.
func (mi MethodInfo) Check() error {
	switch {
	case mi.Name == "":
		return fmt.Errorf("a catalogue row without a name")
	case mi.Action < ActionDiscover || mi.Action > ActionStream:
		return fmt.Errorf("method %s: no kind of request (Action)", mi.Name)
	case mi.Shape > ObjectResult:
		return fmt.Errorf("method %s: unknown result shape %d", mi.Name, mi.Shape)
	case mi.Order > MsgFirst:
		return fmt.Errorf("method %s: unknown key order %d", mi.Name, mi.Order)
	case mi.Order == MsgFirst && !mi.Original:
		return fmt.Errorf("method %s: msg-first replies are the original's, and it is ours", mi.Name)
	case mi.Doc.Result == "" || mi.Doc.Message == "":
		return fmt.Errorf("method %s: its docs row needs Result and Message", mi.Name)
	}
	for i, k := range mi.Required {
		if !slices.Contains(wireKeys, k) {
			return fmt.Errorf("method %s: requires %q, which is no request key it can require", mi.Name, k)
		}
		if slices.Contains(mi.Required[:i], k) {
			return fmt.Errorf("method %s: requires %q twice", mi.Name, k)
		}
	}
	return nil
}

// MsgFirst reports whether successful replies to the method write "msg"
// before "success" (see KeyOrder).
func (mi MethodInfo) MsgFirst() bool { return mi.Order == MsgFirst }

// Missing returns the first required key of the method that req lacks, or "".
func (mi MethodInfo) Missing(req *Request) string {
	for _, k := range mi.Required {
		if !req.Given(k) {
			return k
		}
	}
	return ""
}
