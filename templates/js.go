package templates

import "strings"

// objectDiscoveryJS enriches an object discovery (datacenters, clusters,
// hypervisors, VMs, datastores, resource pools, datastore clusters,
// distributed switches) before Zabbix creates hosts or items from it. Every
// value becomes a string (filters and macros compare text; vSphere's
// booleans and numbers arrive as JSON), the macros the rule's filters test
// are present in every row (” when the object has no value), and every
// row gets:
//
//   - {#VPOLLER.ID}: the object's stable id: the first non-empty of the
//     id macros (a VM's instance UUID, else its managed object id; the
//     managed object id of the other kinds). Renames leave it unchanged.
//   - {#VPOLLER.HOST}: the technical host name, keyed by the id so that a
//     rename keeps the host and its history. Zabbix allows only
//     [0-9A-Za-z._- ] there, at most 128 characters, unique across Zabbix:
//     <agent>_<kind>_<id with other characters as '_'>, and when anything
//     was replaced, truncated or the id occurs twice, a suffix of 8 hex
//     digits of an FNV-1a hash of the id (and occurrence) keeps it unique.
//   - {#VPOLLER.NAME}: the visible name: the current vSphere name, with
//     ' (<id>)' when the name occurs twice in one discovery (every root
//     resource pool is "Resources"), plus {$VPOLLER.NAME.SUFFIX} (set it
//     when several vCenters use the same names).
//   - {#VPOLLER.DATACENTER}, {#VPOLLER.CLUSTER}: the object's datacenter and
//     cluster (the object's own name for a datacenter or a cluster), '/'
//     replaced by '_', '(none)' and '(standalone)' when there is none:
//     host group prototypes, host tags and filters use them.
//   - {#VPOLLER.AGENT}, {#VPOLLER.INTERVAL}, {#VPOLLER.LLD.INTERVAL},
//     {#VPOLLER.PERF.INSTANCE.INTERVAL}: the vCenter host's values of
//     {$VSPHERE.HOST}, {$VPOLLER.INTERVAL}, {$VPOLLER.LLD.INTERVAL} and
//     {$VPOLLER.PERF.INSTANCE.INTERVAL}, which the host prototypes pass
//     down as macros of the discovered hosts (Zabbix resolves user macros in
//     preprocessing scripts, not in host prototype macro values).
//   - VMs only: {#VPOLLER.VM.AGENT.INTERFACE} '1' when {$VSPHERE.VM.AGENT.INTERFACE}
//     is 1, {$VPOLLER.AGENT.ADDRESS} is set and the guest reports an IP
//     address (the rule with the guest agent interface takes the VM), else
//     '0'; {#VPOLLER.AGENT.ADDRESS}, {#VPOLLER.AGENT.PORT},
//     {#VPOLLER.VM.AGENT.PORT} for that rule's interfaces.
const objectDiscoveryJS = `
var kind = '@KIND@', nameMacro = '@NAMEMACRO@', idMacros = @IDMACROS@, need = @NEED@;
var dcMacro = '@DCMACRO@', clusterMacro = '@CLUSTERMACRO@', own = '@OWN@', guest = @GUEST@;
function user(v, def) { return v.indexOf('{' + '$') === 0 ? def : v; }
var agent = '{$VSPHERE.HOST}', interval = '{$VPOLLER.INTERVAL}', lldInterval = '{$VPOLLER.LLD.INTERVAL}';
var instInterval = user('{$VPOLLER.PERF.INSTANCE.INTERVAL}', '5m');
var suffix = user('{$VPOLLER.NAME.SUFFIX}', '');
var agentIf = '0', agentAddr = '', agentPort = '10050', guestPort = '10050';
if (guest) {
    agentIf = user('{$VSPHERE.VM.AGENT.INTERFACE}', '0');
    agentAddr = user('{$VPOLLER.AGENT.ADDRESS}', '');
    agentPort = user('{$VPOLLER.AGENT.PORT}', '10050');
    guestPort = user('{$VSPHERE.VM.AGENT.PORT}', '10050');
}
function fnv(s) {
    var h = 0x811c9dc5;
    for (var i = 0; i < s.length; i++) {
        h ^= s.charCodeAt(i);
        h = (h + (h << 1) + (h << 4) + (h << 7) + (h << 8) + (h << 24)) >>> 0;
    }
    return ('0000000' + h.toString(16)).slice(-8);
}
function clean(s) { return s.replace(/[^0-9A-Za-z._-]/g, '_'); }
function part(s, def) {
    s = String(s === undefined || s === null ? '' : s).replace(/\//g, '_').replace(/^\s+|\s+$/g, '');
    return s === '' ? def : s;
}
var d = JSON.parse(value), rows = d.data || [], ids = [], count = {}, names = {}, seen = {};
for (var i = 0; i < rows.length; i++) {
    var r = rows[i];
    for (var k in r) {
        if (r[k] === null || r[k] === undefined) { r[k] = ''; }
        else if (typeof r[k] !== 'string' && typeof r[k] !== 'object') { r[k] = String(r[k]); }
    }
    for (var j = 0; j < need.length; j++) {
        if (r[need[j]] === undefined) { r[need[j]] = ''; }
    }
    var id = '';
    for (var j = 0; j < idMacros.length && id === ''; j++) { id = r[idMacros[j]] || ''; }
    if (id === '') { id = String(r[nameMacro]); }
    ids.push(id);
    count[id] = (count[id] || 0) + 1;
    names[String(r[nameMacro])] = (names[String(r[nameMacro])] || 0) + 1;
}
for (var i = 0; i < rows.length; i++) {
    var r = rows[i], n = String(r[nameMacro]), id = ids[i], key = id;
    seen[id] = (seen[id] || 0) + 1;
    if (seen[id] > 1) { key = id + '#' + seen[id]; }
    var prefix = clean(agent) + '_' + kind + '_', c = clean(id), h = fnv(key);
    var max = 128 - prefix.length - 9;
    var host = prefix + c.substring(0, max);
    if (c !== id || c.length > max || count[id] > 1) { host += '_' + h; }
    var vis = n;
    if (names[n] > 1) { vis += ' (' + id + ')'; }
    if (seen[id] > 1) { vis += ' #' + seen[id]; }
    vis += suffix;
    if (vis.length > 128) { vis = vis.substring(0, 117) + ' (' + h + ')'; }
    r['{#VPOLLER.ID}'] = id;
    r['{#VPOLLER.HOST}'] = host;
    r['{#VPOLLER.NAME}'] = vis;
    if (dcMacro !== '' || own === 'dc') { r['{#VPOLLER.DATACENTER}'] = part(own === 'dc' ? n : r[dcMacro], '(none)'); }
    if (clusterMacro !== '' || own === 'cluster') { r['{#VPOLLER.CLUSTER}'] = part(own === 'cluster' ? n : r[clusterMacro], '(standalone)'); }
    r['{#VPOLLER.AGENT}'] = agent;
    r['{#VPOLLER.INTERVAL}'] = interval;
    r['{#VPOLLER.LLD.INTERVAL}'] = lldInterval;
    r['{#VPOLLER.PERF.INSTANCE.INTERVAL}'] = instInterval;
    if (guest) {
        var ip = r['{#VSPHERE.VM.GUEST.IPADDRESS}'] || '';
        r['{#VPOLLER.VM.AGENT.INTERFACE}'] = (agentIf === '1' && agentAddr !== '' && ip !== '') ? '1' : '0';
        r['{#VPOLLER.AGENT.ADDRESS}'] = agentAddr;
        r['{#VPOLLER.AGENT.PORT}'] = agentPort;
        r['{#VPOLLER.VM.AGENT.PORT}'] = guestPort;
    }
}
return JSON.stringify({data: rows});
`

// discoverySpec parametrises objectDiscoveryJS for one object kind.
type discoverySpec struct {
	kind      string   // technical name part: "vm"
	nameMacro string   // LLD macro of the vSphere name
	idMacros  []string // LLD macros of the stable id, first non-empty wins
	need      []string // LLD macros the filters test ('' when absent)
	dcMacro   string   // LLD macro of the datacenter ("" none)
	cluster   string   // LLD macro of the cluster ("" none)
	own       string   // "dc" or "cluster": the object is its own datacenter/cluster
	guest     bool     // VMs: guest agent interface macros
}

func jsList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = "'" + s + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func objectDiscovery(s discoverySpec) Step {
	guest := "false"
	if s.guest {
		guest = "true"
	}
	r := strings.NewReplacer("@KIND@", s.kind, "@NAMEMACRO@", s.nameMacro, "@IDMACROS@", jsList(s.idMacros),
		"@NEED@", jsList(s.need), "@DCMACRO@", s.dcMacro, "@CLUSTERMACRO@", s.cluster, "@OWN@", s.own, "@GUEST@", guest)
	return javascript(r.Replace(objectDiscoveryJS))
}

// diskDiscoveryJS adds {#VPOLLER.DISKPATH.JSON}, the guest disk path as a
// JavaScript string literal: Windows paths end in a backslash ("C:\"), which
// cannot be written inside a quoted item key parameter or a JSONPath/JS
// string literal otherwise.
const diskDiscoveryJS = `
var d = JSON.parse(value), rows = d.data || [];
for (var i = 0; i < rows.length; i++) {
    rows[i]['{#VPOLLER.DISKPATH.JSON}'] = JSON.stringify(String(rows[i]['{#VSPHERE.VM.DISKPATH}']));
}
return JSON.stringify({data: rows});
`

// diskValueJS reads one field of the guest disk whose path the prototype
// was discovered with, from the VM's guest master item.
const diskValueJS = `
var disks = JSON.parse(value)[0]['guest.disk'] || [], path = {#VPOLLER.DISKPATH.JSON};
for (var i = 0; i < disks.length; i++) {
    if (disks[i].diskPath === path) { return @EXPR@; }
}
throw 'guest disk ' + path + ' not reported by VMware Tools';
`

func diskValue(expr string) Step {
	return javascript(strings.ReplaceAll(diskValueJS, "@EXPR@", expr))
}

// snapshotAgeJS returns the age in seconds of the oldest snapshot of a
// vm.snapshot.get reply (the whole tree, as our worker returns it), 0 when
// there is none. createTime is Python's str(datetime):
// "2015-02-13 09:16:50.916096+00:00".
const snapshotAgeJS = `
var s = JSON.parse(value), now = Math.floor(Date.now() / 1000), oldest = now;
for (var i = 0; i < s.length; i++) {
    var m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:([+-])(\d{2}):(\d{2}))?/.exec(String(s[i].createTime));
    if (!m) { continue; }
    var t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
    if (m[7]) { t -= (m[7] === '+' ? 1 : -1) * (+m[8] * 3600 + +m[9] * 60); }
    if (t < oldest) { oldest = t; }
}
return Math.max(0, now - oldest);
`

// percentJS computes 100*a/b from two properties of a *.get reply.
const percentJS = `
var o = JSON.parse(value)[0], a = Number(o['@A@'] || 0), b = Number(o['@B@'] || 0);
return b > 0 ? Math.round(10000 * a / b) / 100 : 0;
`

func percent(a, b string) Step {
	return javascript(strings.NewReplacer("@A@", a, "@B@", b).Replace(percentJS))
}

// nicValueJS reads one field of the guest NIC with the discovered MAC
// address from the VM's guest master item; a NIC the guest no longer
// reports reads as the fallback (disconnected, no addresses).
const nicValueJS = `
var nets = JSON.parse(value)[0]['guest.net'] || [], mac = '{#VSPHERE.VM.MACADDRESS}';
for (var i = 0; i < nets.length; i++) {
    if (nets[i] && nets[i].macAddress === mac) { return @EXPR@; }
}
return @FALLBACK@;
`

func nicValue(expr, fallback string) Step {
	return javascript(strings.NewReplacer("@EXPR@", expr, "@FALLBACK@", fallback).Replace(nicValueJS))
}
