package templates

import "strings"

// objectDiscoveryJS enriches an object discovery (datacenters, clusters,
// hypervisors, VMs, datastores) before Zabbix creates hosts from it. For
// every row it adds:
//
//   - {#VPOLLER.HOST}: the technical host name. Zabbix allows only
//     [0-9A-Za-z._- ] there, at most 128 characters, unique across Zabbix;
//     vSphere names may hold anything (spaces, unicode, '/', '%'). So:
//     <agent>_<kind>_<name with other characters as '_'>, and when anything
//     was replaced, truncated or the name occurs twice, a suffix of 8 hex
//     digits of an FNV-1a hash of the original name (and occurrence) that
//     keeps it unique.
//   - {#VPOLLER.NAME}: the visible name: the vSphere name plus
//     {$VPOLLER.NAME.SUFFIX} (set it when several vCenters use the same
//     names), and the hash when the name occurs twice in one discovery.
//   - {#VPOLLER.AGENT}, {#VPOLLER.INTERVAL}, {#VPOLLER.LLD.INTERVAL}: the
//     vCenter host's values of {$VSPHERE.HOST}, {$VPOLLER.INTERVAL} and
//     {$VPOLLER.LLD.INTERVAL}, which the host prototypes pass
//     down as macros of the discovered hosts (Zabbix resolves user macros in
//     preprocessing scripts, not in host prototype macro values).
const objectDiscoveryJS = `
var kind = '@KIND@', nameMacro = '@NAMEMACRO@';
var agent = '{$VSPHERE.HOST}', interval = '{$VPOLLER.INTERVAL}', lldInterval = '{$VPOLLER.LLD.INTERVAL}';
var suffix = '{$VPOLLER.NAME.SUFFIX}';
if (suffix.indexOf('{' + '$') === 0) { suffix = ''; }
function fnv(s) {
    var h = 0x811c9dc5;
    for (var i = 0; i < s.length; i++) {
        h ^= s.charCodeAt(i);
        h = (h + (h << 1) + (h << 4) + (h << 7) + (h << 8) + (h << 24)) >>> 0;
    }
    return ('0000000' + h.toString(16)).slice(-8);
}
function clean(s) { return s.replace(/[^0-9A-Za-z._-]/g, '_'); }
var d = JSON.parse(value), rows = d.data || [], count = {}, seen = {};
for (var i = 0; i < rows.length; i++) {
    var n = String(rows[i][nameMacro]);
    count[n] = (count[n] || 0) + 1;
}
for (var i = 0; i < rows.length; i++) {
    var r = rows[i], n = String(r[nameMacro]), id = n;
    seen[n] = (seen[n] || 0) + 1;
    if (seen[n] > 1) { id = n + '#' + seen[n]; }
    var prefix = clean(agent) + '_' + kind + '_', c = clean(n), h = fnv(id);
    var max = 128 - prefix.length - 9;
    var host = prefix + c.substring(0, max);
    if (c !== n || c.length > max || count[n] > 1) { host += '_' + h; }
    var vis = n + suffix;
    if (count[n] > 1) { vis += ' (' + h + ')'; }
    if (vis.length > 128) { vis = vis.substring(0, 117) + ' (' + h + ')'; }
    r['{#VPOLLER.HOST}'] = host;
    r['{#VPOLLER.NAME}'] = vis;
    r['{#VPOLLER.AGENT}'] = agent;
    r['{#VPOLLER.INTERVAL}'] = interval;
    r['{#VPOLLER.LLD.INTERVAL}'] = lldInterval;
}
return JSON.stringify({data: rows});
`

func objectDiscovery(kind, nameMacro string) Step {
	r := strings.NewReplacer("@KIND@", kind, "@NAMEMACRO@", nameMacro)
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
