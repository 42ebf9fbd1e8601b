#!/usr/bin/python3
"""End-to-end driver for a real Zabbix server (6.0 or 7.0), stdlib only.

Subcommands (environment: ZBX_URL, ZBX_STATE, ZBX_SERVER_BIN, ZBX_LABEL):
  import FILE...       import templates through configuration.import; exit 1 on any error
  run                  create the vCenter host, wait for LLD and values, print the counts

`run` reads the expected inventory from the JSON file $E2E_INVENTORY
({"dc": [names], "cluster": [...], "hv": [...], "vm": [...], "ds": [...]}), the
agent address from $AGENT_PORT, the vPoller agent name from $VSPHERE_AGENT and
the wait budget from $E2E_WAIT (seconds).
"""
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request

LABEL = os.environ.get("ZBX_LABEL", "zabbix")
T0 = time.time()


def log(msg):
    print(f"[{LABEL} {time.time() - T0:6.1f}s] {msg}", flush=True)


class APIError(Exception):
    pass


class API:
    """Minimal JSON-RPC client; the token goes in the body ("auth"), which 6.0 needs and 7.0 accepts."""

    def __init__(self, url):
        self.url, self.auth, self.id = url, None, 0

    def raw(self, method, params, auth=True):
        self.id += 1
        req = {"jsonrpc": "2.0", "method": method, "params": params, "id": self.id}
        if auth and self.auth:
            req["auth"] = self.auth
        r = urllib.request.Request(self.url, data=json.dumps(req).encode(),
                                   headers={"Content-Type": "application/json-rpc"})
        with urllib.request.urlopen(r, timeout=300) as f:
            return json.loads(f.read().decode())

    def call(self, method, params=None, auth=True):
        resp = self.raw(method, params if params is not None else {}, auth)
        if "error" in resp:
            e = resp["error"]
            raise APIError(f"{method}: {e.get('message')} {e.get('data')}")
        return resp["result"]

    def login(self):
        self.version = self.call("apiinfo.version", auth=False)
        self.auth = self.call("user.login", {"username": os.environ.get("ZBX_USER", "Admin"),
                                             "password": os.environ.get("ZBX_PASS", "zabbix")}, auth=False)
        return self.version

    def import_rules(self):
        create_update = {"createMissing": True, "updateExisting": True}
        full = {"createMissing": True, "updateExisting": True, "deleteMissing": True}
        rules = {
            "templates": dict(create_update),
            "templateLinkage": {"createMissing": True},
            "items": dict(full), "discoveryRules": dict(full), "triggers": dict(full),
            "graphs": dict(full), "valueMaps": dict(full), "templateDashboards": dict(full),
            "httptests": dict(full),
        }
        major, minor = (int(x) for x in self.version.split(".")[:2])
        if (major, minor) >= (6, 2):
            rules["host_groups"] = dict(create_update)
            rules["template_groups"] = dict(create_update)
        else:
            rules["groups"] = {"createMissing": True}
        return rules


def reload_cache():
    state, server = os.environ["ZBX_STATE"], os.environ.get("ZBX_SERVER_BIN", "/usr/sbin/zabbix_server")
    subprocess.run([server, "-c", f"{state}/zabbix_server.conf", "-R", "config_cache_reload"],
                   capture_output=True, text=True)


def cmd_import(api, files):
    rules = api.import_rules()
    failed = 0
    for path in files:
        src = open(path, encoding="utf-8").read()
        t = time.time()
        r = api.raw("configuration.import", {"format": "yaml", "rules": rules, "source": src})
        if "error" in r:
            failed += 1
            log(f"import FAIL {os.path.basename(path)}: {r['error'].get('message')} {r['error'].get('data')}")
        else:
            log(f"import ok   {os.path.basename(path)} ({time.time() - t:.1f}s)")
    # Importing twice must be a no-op (uuids stable, nothing rejected).
    for path in files:
        r = api.raw("configuration.import", {"format": "yaml", "rules": rules,
                                             "source": open(path, encoding="utf-8").read()})
        if "error" in r:
            failed += 1
            log(f"re-import FAIL {os.path.basename(path)}: {r['error'].get('data')}")
    # Host prototypes link host groups: they must exist as HOST groups
    # (7.0 splits host and template groups; the 6.0 file declares them once).
    want = ["vPoller/Datacenters", "vPoller/Clusters", "vPoller/Hypervisors", "vPoller/Virtual machines",
            "vPoller/Datastores", "vPoller/Resource pools", "vPoller/Datastore clusters"]
    have = {g["name"] for g in api.call("hostgroup.get", {"filter": {"name": want}, "output": ["name"]})}
    if set(want) - have:
        failed += 1
        log(f"host groups missing after import: {sorted(set(want) - have)}")
    tpls = api.call("template.get", {"filter": {"host": [
        "vPoller vCenter", "vPoller Hypervisor", "vPoller Virtual Machine", "vPoller Datastore",
        "vPoller Cluster", "vPoller Datacenter", "vPoller Resource Pool", "vPoller Datastore Cluster",
        "vPoller self-monitoring"]}, "output": ["host", "templateid"], "selectItems": "count",
        "selectTriggers": "count", "selectDiscoveries": "count", "selectGraphs": "count", "selectDashboards": "count"})
    for t in sorted(tpls, key=lambda t: t["host"]):
        protos = api.call("graphprototype.get", {"templateids": [t["templateid"]], "countOutput": True})
        log(f"template {t['host']}: {t['items']} items, {t['triggers']} triggers, {t['discoveries']} discovery rules, "
            f"{t['graphs']} graphs, {protos} graph prototypes, {t['dashboards']} dashboards")
    if len(tpls) != 9:
        failed += 1
        log(f"expected 9 templates, found {len(tpls)}")
    for t in tpls:
        if t["host"] == "vPoller self-monitoring" and (t["graphs"] == "0" or t["dashboards"] == "0"):
            failed += 1
            log("the self-monitoring template lost its graphs or its dashboard in the import")
    return failed


KINDS = [("dc", "vPoller Datacenter"), ("cluster", "vPoller Cluster"), ("hv", "vPoller Hypervisor"),
         ("vm", "vPoller Virtual Machine"), ("ds", "vPoller Datastore"), ("rp", "vPoller Resource Pool"),
         ("dsc", "vPoller Datastore Cluster")]


def optional(item):
    return any(t["tag"] == "optional" for t in item.get("tags", []))


# ---- issue 11 (i11-obj): alarm, tag, perf and event checks -----------------------
# run.sh (section 4b) raised an alarm on one VM and tagged it through e2e/vsimctl
# and wrote what vPoller answers directly into inventory.json ("obj"). Here:
# the alarm's status items (VM and datacenter) read red, no hypervisor has an
# item for the VM's alarm (the entity filter), the VM's tag item reads
# "category:tag", the perf item's recent values hold vPoller's sample, and an
# event posted now (E2E_SIMACT) arrives in the vCenter host's vpoller.events
# item. Returns (name, key, want, got, ok) per check.
def perf_check(name, key, it, cmd, mult):
    """A perf item's value must be one of the samples vPoller serves for the
    last 2 hours (read now), times mult: the series move on every 20 s."""
    got = float(it["lastvalue"]) if it and it["lastclock"] != "0" else None
    reply = json.loads(subprocess.run(cmd, capture_output=True, text=True).stdout)
    want = [round(float(x["value"]) * mult, 6) for x in reply.get("result") or []]
    return (name, key, f"one of vPoller's {len(want)} samples", got,
            got is not None and any(abs(got - w) <= 1e-6 * max(1.0, abs(w)) for w in want))


def obj_checks(api, vc_id):
    spec = json.load(open(os.environ["E2E_INVENTORY"])).get("obj")
    simact = os.environ.get("E2E_SIMACT", "")
    if not spec:
        return [("obj checks", "", "run", "inventory has no obj checks", False)] if simact else []
    ids = {h["name"]: h["hostid"] for h in api.call("host.get", {"output": ["hostid", "name"]})}
    ev_key = "vpoller.events[{$VSPHERE.HOST}]"
    ev_type = f"vpoller.e2e.event.z{api.version.replace('.', '')[:2]}.{int(time.time())}"
    deadline = time.time() + float(os.environ.get("E2E_OBJ_WAIT", "180"))
    posted = 0
    while True:
        items = api.call("item.get", {"hostids": list(ids.values()), "output": ["itemid", "hostid", "key_", "lastvalue",
                                      "lastclock", "value_type"]})
        by = {(i["hostid"], i["key_"]): i for i in items}
        res = []
        for name, key, want in spec["values"]:
            it = by.get((ids.get(name), key))
            got = it["lastvalue"] if it and it["lastclock"] != "0" else None
            res.append((name, key, want, got, got is not None and str(got) == str(want)))
        for name, key in spec["absent"]:
            res.append((name, key, "no such item", "present" if (ids.get(name), key) in by else "absent",
                        (ids.get(name), key) not in by))
        # Per-instance perf items (the instance discoveries' item prototypes).
        for name, key, cmd, mult in spec.get("present", []):
            it = by.get((ids.get(name), key))
            if not cmd:
                res.append((name, key, "present", "present" if it else "absent", it is not None))
                continue
            res.append(perf_check(name, key, it, cmd, mult))
        # vSphere tags as host tags of the discovered host.
        if spec.get("hosttags"):
            htags = {h["name"]: h["tags"] for h in api.call("host.get", {"output": ["name"], "selectTags": "extend"})}
            for name, tag, want in spec["hosttags"]:
                got = [t["value"] for t in htags.get(name, []) if t["tag"] == tag]
                res.append((name, "host tag " + tag, want, got[0] if got else None, got == [want]))
        name, key, cmd, mult = spec["perf"]
        res.append(perf_check(name, key, by.get((ids.get(name), key)), cmd, mult))
        ev = by.get((vc_id, ev_key))
        if ev and ev["lastclock"] != "0" and not posted:
            subprocess.run(simact.split() + ["event", spec["event_vm"], ev_type], check=True)
            posted = int(time.time())
        lines = []
        if posted:
            lines = [h["value"] for h in api.call("history.get", {"itemids": [ev["itemid"]], "history": 2,
                                                                  "time_from": posted - 60, "output": "extend"})]
        hit = [ln for v in lines for ln in v.splitlines() if ev_type in ln]
        res.append(("vCenter", ev_key, ev_type, hit[0] if hit else ("not posted yet" if not posted else None), bool(hit)))
        if all(r[4] for r in res) or time.time() > deadline:
            return res
        time.sleep(5)


def cmd_run(api):
    inventory = json.load(open(os.environ["E2E_INVENTORY"]))
    wait_s = float(os.environ.get("E2E_WAIT", "360"))
    agent = os.environ.get("VSPHERE_AGENT", "vcsim.local")
    interval = os.environ.get("E2E_INTERVAL", "10s")

    zs = api.call("host.get", {"filter": {"host": "Zabbix server"}, "output": ["hostid", "status"]})
    for h in zs:
        if h["status"] == "0":
            api.call("host.update", {"hostid": h["hostid"], "status": 1})
    tpl = api.call("template.get", {"filter": {"host": "vPoller vCenter"}, "output": ["templateid"]})
    if not tpl:
        log("template 'vPoller vCenter' missing")
        return 1
    groups = api.call("hostgroup.get", {"filter": {"name": "vPoller/vCenters"}, "output": ["groupid"]})
    gid = groups[0]["groupid"] if groups else api.call("hostgroup.create", {"name": "vPoller/vCenters"})["groupids"][0]
    host = api.call("host.create", {
        "host": "vcenter-" + agent.replace(":", "_"),
        "name": f"vCenter {agent}",
        "interfaces": [{"type": 1, "main": 1, "useip": 1, "ip": "127.0.0.1", "dns": "",
                        "port": os.environ["AGENT_PORT"]}],
        "groups": [{"groupid": gid}],
        "templates": [{"templateid": tpl[0]["templateid"]}],
        "macros": [{"macro": "{$VSPHERE.HOST}", "value": agent},
                   {"macro": "{$VPOLLER.INTERVAL}", "value": interval},
                   {"macro": "{$VPOLLER.LLD.INTERVAL}", "value": os.environ.get("E2E_LLD_INTERVAL", "20s")},
                   {"macro": "{$VPOLLER.PERF.INSTANCE.INTERVAL}", "value": interval}],
    })
    vc_id = host["hostids"][0]
    log(f"created vCenter host {vc_id} ({{$VSPHERE.HOST}}={agent}, interval {interval})")
    self_ids = []
    if os.environ.get("E2E_SELF") == "1":
        st = api.call("template.get", {"filter": {"host": "vPoller self-monitoring"}, "output": ["templateid"]})
        if not st:
            log("template 'vPoller self-monitoring' missing")
            return 1
        h = api.call("host.create", {
            "host": "vpoller-self",
            "name": "vPoller (self)",
            "interfaces": [{"type": 1, "main": 1, "useip": 1, "ip": "127.0.0.1", "dns": "",
                            "port": os.environ["AGENT_PORT"]}],
            "groups": [{"groupid": gid}],
            "templates": [{"templateid": st[0]["templateid"]}],
            "macros": [{"macro": "{$VPOLLER.PROXY.MGMT}", "value": "Proxy"},
                       {"macro": "{$VPOLLER.WORKER.MGMT}", "value": "Worker"},
                       {"macro": "{$VPOLLER.SELF.INTERVAL}", "value": interval}],
        })
        self_ids = h["hostids"]
        log(f"created self-monitoring host {self_ids[0]}")
    reload_cache()

    expected = {k: sorted(inventory.get(k, [])) for k, _ in KINDS}
    deadline = time.time() + wait_s
    last_reload, last_report, ok = time.time(), 0, False
    while True:
        now = time.time()
        found = {}
        hosts = api.call("host.get", {"output": ["hostid", "host", "name"], "selectTags": "extend",
                                      "selectParentTemplates": ["host"]})
        obj_hosts = {}
        for h in hosts:
            for k, tname in KINDS:
                if any(p["host"] == tname for p in h.get("parentTemplates", [])):
                    found.setdefault(k, []).append(h["name"])
                    obj_hosts[h["hostid"]] = k
        hostids = [vc_id] + self_ids + list(obj_hosts)
        items = api.call("item.get", {"hostids": hostids, "output": ["itemid", "hostid", "key_", "name", "lastclock",
                                       "lastvalue", "state", "error", "status"], "selectTags": "extend",
                                       "webitems": False})
        rules = api.call("discoveryrule.get", {"hostids": hostids, "output": ["itemid", "hostid", "key_", "state",
                                               "error", "lastclock"] if api.version >= "7" else
                                               ["itemid", "hostid", "key_", "state", "error"]})
        items = [i for i in items if i["status"] == "0"]
        valued = [i for i in items if i["lastclock"] != "0"]
        unsup = [i for i in items if i["state"] == "1"]
        unsup_bad = [i for i in unsup if not optional(i)]
        pending = [i for i in items if i["lastclock"] == "0" and i["state"] != "1" and not optional(i)]
        rules_bad = [r for r in rules if r["state"] == "1"]
        hosts_ok = all(sorted(found.get(k, [])) == expected[k] for k, _ in KINDS)
        # The self-monitoring host's vCenter discovery (one item set per
        # lane) must have run too.
        if self_ids and not any(i["hostid"] == self_ids[0] and i["key_"].startswith("vpoller.worker.vcenter.circuit[")
                                for i in items):
            hosts_ok = False
        # Discovered hosts bring new items: reload the configuration cache so they are polled at once.
        if now - last_reload > 15:
            reload_cache()
            last_reload = now
        if now - last_report > 30:
            last_report = now
            log("hosts " + " ".join(f"{k}={len(found.get(k, []))}/{len(expected[k])}" for k, _ in KINDS) +
                f"; items {len(items)}: with values {len(valued)}, unsupported {len(unsup)}"
                f" ({len(unsup_bad)} not optional), pending {len(pending)}; LLD rules {len(rules)}"
                f" unsupported {len(rules_bad)}")
        if hosts_ok and items and not pending and not unsup_bad and not rules_bad:
            ok = True
            break
        if now > deadline:
            break
        time.sleep(3)

    # Spot checks: items hold what vPoller itself answers for the object.
    by_host_key = {}
    names = {h["hostid"]: h["name"] for h in hosts}
    for i in items:
        by_host_key[(names.get(i["hostid"]), i["key_"])] = i
    bad_values = []
    checks = inventory.get("checks", [])
    for name, key, want in checks:
        it = by_host_key.get((name, key))
        got = it["lastvalue"] if it else None
        if got is None or it["lastclock"] == "0" or str(got) != str(want):
            bad_values.append((name, key, want, got))
    # issue 11 (i11-obj): alarm, tag, perf and event checks, counted with the value checks.
    obj = obj_checks(api, vc_id)
    for name, key, want, got, good in obj:
        checks.append([name, key, want])
        if not good:
            bad_values.append((name, key, want, got))
    if bad_values:
        ok = False

    names[vc_id] = f"vCenter {agent}"
    for sid in self_ids:
        names[sid] = "vPoller (self)"
        self_items = [i for i in items if i["hostid"] == sid]
        print(f"   self-monitoring: {len([i for i in self_items if i['lastclock'] != '0'])} of {len(self_items)} items with values"
              + "".join(f"; {i['key_']}={i['lastvalue']}" for i in self_items
                        if i["key_"] in ("vpoller.proxy.workers", "vpoller.worker.connected")
                        or i["key_"].startswith("vpoller.worker.vcenter.circuit[")))
    total_hosts = sum(len(found.get(k, [])) for k, _ in KINDS)
    print(f"== Zabbix {api.version}: hosts discovered {total_hosts} "
          f"({', '.join(f'{k} {len(found.get(k, []))}/{len(expected[k])}' for k, _ in KINDS)}) / "
          f"items with values {len(valued)} of {len(items)} / unsupported items {len(unsup)} "
          f"({len(unsup) - len(unsup_bad)} optional) / LLD rules {len(rules)} ({len(rules_bad)} unsupported) / "
          f"value checks {len(checks) - len(bad_values)}/{len(checks)} / "
          f"{time.time() - T0:.0f}s", flush=True)
    print(f"   value checks against vPoller: {len(checks) - len(bad_values)} of {len(checks)} match")
    for name, key, want, got, good in obj:  # issue 11 (i11-obj)
        print(f"   object check {'ok' if good else '(FAIL)'} {name}: {key} = {got!r}, want {want!r}")
    for name, key, want, got in bad_values:
        print(f"   wrong value (FAIL) {name}: {key} = {got!r}, vPoller says {want!r}")
    for k, _ in KINDS:
        if sorted(found.get(k, [])) != expected[k]:
            print(f"   hosts {k}: expected {expected[k]}, found {sorted(found.get(k, []))}")
    for i in unsup:
        tag = "optional" if optional(i) else "FAIL"
        print(f"   unsupported ({tag}) {names.get(i['hostid'])}: {i['key_']}: {i['error']}")
    for r in rules_bad:
        print(f"   LLD rule unsupported (FAIL) {names.get(r['hostid'])}: {r['key_']}: {r['error']}")
    for i in pending[:25]:
        print(f"   no value (FAIL) {names.get(i['hostid'])}: {i['key_']}")
    if len(pending) > 25:
        print(f"   ... and {len(pending) - 25} more items without values")
    if os.environ.get("E2E_VERBOSE"):
        for i in sorted(valued, key=lambda i: (names.get(i["hostid"], ""), i["key_"])):
            print(f"   value {names.get(i['hostid'])}: {i['key_']} = {i['lastvalue'][:80]!r}")
    groups = api.call("hostgroup.get", {"search": {"name": ["vPoller/Datacenter/", "vPoller/Cluster/"]},
                                        "searchByAny": True, "startSearch": True, "output": ["name"]})
    print(f"   discovered host groups: {', '.join(sorted(g['name'] for g in groups))}")
    if ok and os.environ.get("E2E_SIMCTL"):
        ok = rename_check(api, vc_id, obj_hosts, names, wait_s) and ok
    return 0 if ok else 1


# ---- rename: a discovered host keeps its identity -------------------------------
# The VM is renamed in the simulated vCenter through the vSphere API
# (e2e/vsimctl, not vPoller); the vCenter host's VM discovery is run at once
# ("check now"). The Zabbix host keyed by the VM's instance UUID must be the
# same hostid with the new visible name, its items and their history intact.
# The VM gets its old name back afterwards (the next Zabbix version of the
# run expects the original inventory).
def simctl(*args):
    r = subprocess.run(shlex.split(os.environ["E2E_SIMCTL"]) + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"vsimctl {' '.join(args)}: {r.stderr.strip()}")
    log(r.stdout.strip())


def check_now(api, vc_id):
    rules = api.call("discoveryrule.get", {"hostids": [vc_id], "output": ["itemid", "key_"]})
    for r in rules:
        if r["key_"].startswith("vpoller.discover[vm.discover,"):
            try:
                api.call("task.create", [{"type": 6, "request": {"itemid": r["itemid"]}}])
            except APIError as e:  # the short LLD interval discovers anyway
                log(f"check now of {r['key_']}: {e}")


def rename_check(api, vc_id, obj_hosts, names, wait_s):
    vms = sorted((names[h], h) for h, k in obj_hosts.items() if k == "vm")
    if not vms:
        print("   rename: no VM host (FAIL)")
        return False
    old, hostid = vms[0]
    new = old + "-renamed"
    item = api.call("item.get", {"hostids": [hostid], "filter": {"key_": "vsphere.vm.cpu.num"},
                                 "output": ["itemid", "value_type"]})
    if not item:
        print(f"   rename: {old} has no vsphere.vm.cpu.num item (FAIL)")
        return False
    itemid, vtype = item[0]["itemid"], int(item[0]["value_type"])
    items_before = {i["itemid"] for i in api.call("item.get", {"hostids": [hostid], "output": ["itemid"]})}

    def history():
        return api.call("history.get", {"itemids": [itemid], "history": vtype, "output": ["clock"],
                                        "sortfield": "clock", "sortorder": "ASC", "limit": 100000})

    before = history()
    if not before:
        print(f"   rename: {old}: no history of vsphere.vm.cpu.num before the rename (FAIL)")
        return False
    first_clock = before[0]["clock"]
    ok, got = False, None
    try:
        simctl("rename-vm", old, new)
        deadline = time.time() + min(wait_s, 180)
        last_check = 0
        while time.time() < deadline:
            if time.time() - last_check > 20:
                check_now(api, vc_id)
                reload_cache()
                last_check = time.time()
            got = api.call("host.get", {"hostids": [hostid], "output": ["hostid", "host", "name"]})
            if got and got[0]["name"] == new:
                ok = True
                break
            time.sleep(2)
        # The items keep polling (they query by the instance UUID): a new
        # value arrives under the new name.
        renamed_at = time.time()
        while ok and time.time() < renamed_at + 90:
            if any(int(h["clock"]) > int(before[-1]["clock"]) for h in history()):
                break
            time.sleep(3)
    finally:
        try:
            simctl("rename-vm", new, old)
        except RuntimeError as e:
            log(str(e))
            ok = False
    if not ok:
        print(f"   rename: host {hostid} is {got!r}, not named {new!r} after the rename (FAIL)")
        return False
    after = history()
    items_after = {i["itemid"] for i in api.call("item.get", {"hostids": [hostid], "output": ["itemid"]})}
    twins = api.call("host.get", {"search": {"name": [new]}, "output": ["hostid", "name"]})
    kept = [h for h in after if int(h["clock"]) <= int(before[-1]["clock"])]
    good = (len(kept) >= len(before) and after and after[0]["clock"] == first_clock and items_before <= items_after
            and [h["hostid"] for h in twins] == [hostid] and len(after) > len(kept))
    print(f"rename: hostid {hostid} kept, name \"{old}\" -> \"{new}\", history {len(kept)} values kept"
          f" ({len(after)} now; items {len(items_before)} -> {len(items_after)})" + ("" if good else " (FAIL)"), flush=True)
    if not good:
        print(f"   rename: history before {len(before)}, kept {len(kept)}, after {len(after)} (a new value is expected);"
              f" items lost {sorted(items_before - items_after)};"
              f" hosts named {new}: {twins}")
    return good


def main():
    api = API(os.environ["ZBX_URL"])
    api.login()
    if sys.argv[1] == "import":
        return 1 if cmd_import(api, sys.argv[2:]) else 0
    if sys.argv[1] == "run":
        return cmd_run(api)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
