#!/bin/bash
# e2e/run.sh: prove the vPoller templates end to end on real Zabbix servers.
#
# For Zabbix 6.0 (Debian bookworm packages) and 7.0 (bookworm-backports,
# unpacked beside 6.0): PostgreSQL, zabbix_server, the PHP frontend (API),
# zabbix_agent2 with our loadable plugin, our vpoller-proxy and vpoller-worker
# serving a simulated vCenter, all on 127.0.0.1 with ports chosen at runtime.
# Imports every template through the API (any error fails), creates the
# vCenter host, waits until LLD created one host per simulated datacenter,
# cluster, hypervisor, VM, datastore, resource pool and datastore cluster (the
# e2e adds one, DC0_POD0, through the vSphere API: e2e/vsimctl) and their
# items hold values, and prints per version: hosts discovered / items with
# values / unsupported items. Then renames a VM through the vSphere API and
# checks that its Zabbix host (same hostid, same items, history kept) takes
# the new name on the next discovery (renamed back afterwards).
# Fails on an import error, an unsupported item without the tag
# "optional", an item without a value after the wait. Stops what it started.
#
# Environment:
#   E2E_VERSIONS   "6.0 7.0" (default) or one of them
#   E2E_WAIT       seconds to wait for LLD and values per version (default 360)
#   E2E_IMPORT_ONLY=1  stop after the template import (no vPoller binaries needed)
#   E2E_INSTALLED=1  use the installed Debian packages (/usr/bin, /usr/sbin/zabbix-agent2-plugin)
#                  instead of building the binaries
#   E2E_KEEP=1     keep the state directory (logs, configs) after the run
#   E2E_VPOLLER_ENDPOINT=tcp://host:port  use a running vPoller (proxy frontend
#                  serving agent vcsim.local) instead of starting proxy + worker
#   VPOLLER_CI_CACHE  cache for downloads and DB dumps (default /var/cache/vpoller-ci)
# Needs root (apt-get, runuser) and Go.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
PY=/usr/bin/python3
VERSIONS=${E2E_VERSIONS:-6.0 7.0}
CACHE=${VPOLLER_CI_CACHE:-/var/cache/vpoller-ci}
WAIT=${E2E_WAIT:-360}
AGENT_NAME=vcsim.local
export DEBIAN_FRONTEND=noninteractive
T0=$(date +%s)
say() { echo "[e2e $(($(date +%s) - T0))s] $*"; }
die() { say "FAIL: $*"; exit 1; }

mkdir -p "$CACHE"
STATE=$(mktemp -d "${TMPDIR:-/tmp}/vpoller-e2e.XXXXXX")
chmod 755 "$STATE"
PG_BIN=""

# ---- stopping -------------------------------------------------------------
# Every background process writes its pid file under $STATE/pids; stop them
# by pid (never by name), then the PostgreSQL instance.
stop_pidfile() {
	local f=$1 p
	[ -f "$f" ] || return 0
	p=$(cat "$f" 2>/dev/null || true)
	rm -f "$f"
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null || return 0
	for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.25; done
	kill -9 "$p" 2>/dev/null || true
}
stop_version() {
	local d=$1
	stop_pidfile "$d/php.pid"
	stop_pidfile "$d/zabbix_server.pid"
	stop_pidfile "$d/agent2.pid"
}
cleanup() {
	local rc=$?
	set +e
	for d in "$STATE"/zbx*; do [ -d "$d" ] && stop_version "$d"; done
	stop_pidfile "$STATE/pids/worker.pid"
	stop_pidfile "$STATE/pids/proxy.pid"
	if [ -n "$PG_BIN" ] && [ -f "$STATE/pg/postmaster.pid" ]; then
		runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$STATE/pg" -m fast -w stop >/dev/null 2>&1
	fi
	if [ "${E2E_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
		say "state kept in $STATE (logs: $STATE/*/*.log)"
		[ $rc -ne 0 ] && for f in "$STATE"/zbx*/zabbix_server.log "$STATE"/zbx*/agent2.log "$STATE"/vpoller/*.log; do
			[ -f "$f" ] && { echo "---- tail $f"; tail -n 15 "$f"; }
		done
	else
		rm -rf "$STATE"
	fi
	say "exit $rc"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# freeport: a free TCP port on 127.0.0.1 below 32768 (Zabbix accepts ports
# 1024-32767 only, the kernel's ephemeral range starts above).
freeport() {
	$PY -c '
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()'
}

# ---- 1. packages --------------------------------------------------------------
need=()
for p in postgresql zabbix-server-pgsql zabbix-frontend-php php-pgsql zabbix-agent2 python3; do
	dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	say "apt-get install ${need[*]}"
	# policy-rc.d keeps postinst scripts from starting services on all interfaces.
	tmp_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; tmp_policy=1; fi
	apt-get update -qq
	apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${need[@]}" >"$STATE/apt.log" 2>&1 ||
		{ tail -20 "$STATE/apt.log"; die "apt-get install failed"; }
	[ $tmp_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
for v in $VERSIONS; do
	case $v in
	6.0) ;;
	7.0)
		say "fetching Zabbix 7.0 server/frontend and agent 2 (bookworm-backports)"
		R70=$("$HERE/fetch-zabbix70.sh" "$CACHE" | tail -1)
		AGENT70=$("$REPO/scripts/fetch-agent70.sh" "$CACHE" | tail -1)
		;;
	*) die "unknown version $v (want 6.0 and/or 7.0)" ;;
	esac
done

# ---- 2. our binaries -----------------------------------------------------------
BIN=$STATE/bin
PLUGIN=$BIN/zabbix-agent2-plugin-vpoller
mkdir -p "$BIN"
if [ "${E2E_INSTALLED:-0}" = 1 ]; then
	# The installed Debian packages (scripts/package-test.sh).
	BIN=/usr/bin
	PLUGIN=/usr/sbin/zabbix-agent2-plugin/zabbix-agent2-plugin-vpoller
	for b in "$BIN/vpoller-proxy" "$BIN/vpoller-worker" "$BIN/vpoller-client" "$PLUGIN"; do
		[ -x "$b" ] || die "$b is not installed"
	done
	say "testing the installed packages: $(dpkg-query -W -f='${Package} ${Version}, ' vpoller zabbix-agent2-plugin-vpoller)"
	mkdir -p "$STATE/bin"
	(cd "$REPO" && CGO_ENABLED=0 go build -o "$STATE/bin/" ./e2e/vsimctl)
elif [ "${E2E_IMPORT_ONLY:-0}" != 1 ]; then
	say "go build ./cmd/... ./e2e/vsimctl"
	(cd "$REPO" && CGO_ENABLED=0 go build -o "$BIN/" ./cmd/... ./e2e/vsimctl)
	need_bins="vpoller-client zabbix-agent2-plugin-vpoller"
	[ -z "${E2E_VPOLLER_ENDPOINT:-}" ] && need_bins="$need_bins vpoller-proxy vpoller-worker"
	for b in $need_bins; do
		[ -x "$BIN/$b" ] || die "cmd/$b did not build"
	done
	chmod 755 "$BIN" "$BIN"/*
fi

# The templates' preprocessing scripts in Zabbix's own JavaScript engine
# (zabbix_js of 7.0; 6.0 uses the same Duktape engine): unicode, spaces,
# duplicates and over-long names must give valid, unique host names.
if [ -n "${R70:-}" ] && [ -x "$R70/usr/bin/zabbix_js" ]; then
	say "preprocessing scripts in zabbix_js"
	(cd "$REPO" && ZABBIX_JS=$R70/usr/bin/zabbix_js go test -count=1 -run InZabbixEngine ./templates/) ||
		die "template JavaScript failed in zabbix_js"
fi

# ---- 3. PostgreSQL (own instance, 127.0.0.1, throw-away) ----------------------
PG_PORT=$(freeport)
mkdir -p "$STATE/pg" "$STATE/pgsock"
chown postgres:postgres "$STATE/pg" "$STATE/pgsock"
runuser -u postgres -- "$PG_BIN/initdb" -D "$STATE/pg" -A trust -E UTF8 --locale=C.UTF-8 >"$STATE/initdb.log" 2>&1 ||
	{ cat "$STATE/initdb.log"; die "initdb"; }
cat >>"$STATE/pg/postgresql.conf" <<EOC
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$STATE/pgsock'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
max_connections = 60
EOC
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$STATE/pg" -l "$STATE/pg/server.log" -w start >/dev/null || die "postgres start"
PSQL="runuser -u postgres -- psql -q -h $STATE/pgsock -p $PG_PORT -v ON_ERROR_STOP=1"
$PSQL -d postgres -c "CREATE ROLE zabbix LOGIN PASSWORD 'zabbix-e2e'" >/dev/null
say "postgres on 127.0.0.1:$PG_PORT"

# load_db NAME SQLDIR: create database NAME with the Zabbix schema; the fresh
# database is cached as a pg_dump keyed by the schema files' checksum.
load_db() {
	local db=$1 sql=$2 sum dump
	sum=$(cat "$sql/schema.sql.gz" "$sql/data.sql.gz" | md5sum | cut -c1-12)
	dump=$CACHE/zabbix-db-$sum.dump
	$PSQL -d postgres -c "CREATE DATABASE $db OWNER zabbix ENCODING 'UTF8' TEMPLATE template0" >/dev/null
	if [ -s "$dump" ]; then
		runuser -u postgres -- pg_restore -h "$STATE/pgsock" -p "$PG_PORT" -d "$db" --no-owner --role=zabbix -j 2 "$dump"
	else
		(echo "SET ROLE zabbix;"; zcat "$sql/schema.sql.gz" "$sql/images.sql.gz" "$sql/data.sql.gz") |
			$PSQL -d "$db" >/dev/null
		runuser -u postgres -- pg_dump -h "$STATE/pgsock" -p "$PG_PORT" -Fc "$db" >"$dump.tmp" && mv "$dump.tmp" "$dump"
	fi
}

# ---- 4. vPoller proxy + worker with a simulated vCenter ------------------------
start_vpoller() {
	local d=$STATE/vpoller
	mkdir -p "$d/agents" "$STATE/pids"
	if [ -n "${E2E_VPOLLER_ENDPOINT:-}" ]; then
		ENDPOINT=$E2E_VPOLLER_ENDPOINT
		say "using the vPoller at $ENDPOINT"
		return 0
	fi
	FRONT=$(freeport); BACK=$(freeport); PMGMT=$(freeport); WMGMT=$(freeport)
	# The management sockets are tcp with a shared secret so that the agent
	# (user zabbix) can read vpoller.status for the self-monitoring template;
	# the daemons and the agent each have their own copy of the secret.
	head -c 24 /dev/urandom | base64 >"$d/mgmt.secret"
	cp "$d/mgmt.secret" "$d/agent-mgmt.secret"
	chmod 600 "$d/mgmt.secret" "$d/agent-mgmt.secret"
	chown zabbix:zabbix "$d/agent-mgmt.secret"
	cat >"$d/vpoller.conf" <<EOC
[proxy]
frontend = tcp://127.0.0.1:$FRONT
backend = tcp://127.0.0.1:$BACK
mgmt = tcp://127.0.0.1:$PMGMT
mgmt_secret_file = $d/mgmt.secret

[worker]
proxy = tcp://127.0.0.1:$BACK
mgmt = tcp://127.0.0.1:$WMGMT
mgmt_secret_file = $d/mgmt.secret
vsphere_hosts_dir = $d/agents
concurrency = 16
EOC
	AGENT_MGMT="Plugins.VPoller.Mgmt.Proxy.Endpoint=tcp://127.0.0.1:$PMGMT
Plugins.VPoller.Mgmt.Proxy.SecretFile=$d/agent-mgmt.secret
Plugins.VPoller.Mgmt.Worker.Endpoint=tcp://127.0.0.1:$WMGMT
Plugins.VPoller.Mgmt.Worker.SecretFile=$d/agent-mgmt.secret"
	cat >"$d/agents/vcsim.conf" <<EOC
hostname = $AGENT_NAME
simulator = true
EOC
	chmod 600 "$d/vpoller.conf" "$d/agents/vcsim.conf"
	setsid "$BIN/vpoller-proxy" -f "$d/vpoller.conf" start >"$d/proxy.log" 2>&1 &
	echo $! >"$STATE/pids/proxy.pid"
	setsid "$BIN/vpoller-worker" -f "$d/vpoller.conf" start >"$d/worker.log" 2>&1 &
	echo $! >"$STATE/pids/worker.pid"
	ENDPOINT=tcp://127.0.0.1:$FRONT
	for _ in $(seq 1 60); do
		if "$BIN/vpoller-client" -m about -V "$AGENT_NAME" -e "$ENDPOINT" -t 2000 -r 1 >"$d/about.json" 2>/dev/null &&
			grep -q '"success": 0' "$d/about.json"; then
			say "vPoller proxy+worker up: $(cat "$d/about.json")"
			return 0
		fi
		sleep 0.5
	done
	cat "$d/about.json" 2>/dev/null || true
	die "vPoller did not answer 'about' for $AGENT_NAME on $ENDPOINT"
}

# simulator_setup: the embedded simulator (started by the 'about' above)
# listens on a loopback port the worker logs; vsimctl acts on it through
# the vSphere API with the simulator's credentials (user/pass), as an
# administrator would: it adds datastore cluster DC0_POD0 holding the
# datastores. SIMCTL is left empty with an external vPoller (nothing to
# act on: the datastore cluster and rename checks are skipped).
SIMCTL=""
simulator_setup() {
	[ -n "${E2E_VPOLLER_ENDPOINT:-}" ] && return 0
	local addr vsimctl=$STATE/bin/vsimctl
	addr=$(grep -o 'started embedded vSphere simulator.*address=[0-9.]*:[0-9]*' "$STATE/vpoller/worker.log" | head -1 | sed 's/.*address=//')
	[ -n "$addr" ] || die "no simulator address in the worker log"
	SIMCTL="$vsimctl -url https://user:pass@$addr/sdk"
	$SIMCTL pod DC0_POD0 || die "vsimctl could not create the datastore cluster"
	# The worker's mirror follows the change within seconds.
	for _ in $(seq 1 40); do
		"$BIN/vpoller-client" -m datastore.cluster.discover -V "$AGENT_NAME" -e "$ENDPOINT" -t 5000 -r 2 | grep -q DC0_POD0 && return 0
		sleep 0.25
	done
	die "vPoller does not discover datastore cluster DC0_POD0"
}

# inventory: what the simulated vCenter holds, asked through vPoller itself.
inventory() {
	local out=$STATE/inventory.json m
	for m in datacenter.discover cluster.discover host.discover vm.discover datastore.discover resource.pool.discover \
		datastore.cluster.discover; do
		local p=moref
		case $m in
		datastore.discover) p=moref,info.url ;;
		vm.discover) p=moref,config.instanceUuid ;;
		esac
		"$BIN/vpoller-client" -m "$m" -V "$AGENT_NAME" -e "$ENDPOINT" -t 5000 -r 2 -p "$p" >"$STATE/vpoller/$m.json" ||
			die "vpoller-client -m $m failed"
	done
	# Expected values of a few items per object, asked directly (not through
	# Zabbix): "check" lines are compared with the items' last values.
	CLIENT="$BIN/vpoller-client" ENDPOINT=$ENDPOINT AGENT_NAME=$AGENT_NAME $PY - "$STATE/vpoller" "$out" <<'EOPY'
import json, os, subprocess, sys
d, out = sys.argv[1], sys.argv[2]
def ask(method, name, prop):
    r = subprocess.run([os.environ["CLIENT"], "-m", method, "-V", os.environ["AGENT_NAME"], "-n", name, "-p", prop,
                        "-e", os.environ["ENDPOINT"], "-t", "5000", "-r", "2"], capture_output=True, text=True)
    reply = json.loads(r.stdout)
    assert reply.get("success") == 0, reply
    return reply["result"][0][prop]
inv, checks = {}, []
for kind, m in [("dc", "datacenter"), ("cluster", "cluster"), ("hv", "host"), ("vm", "vm"), ("ds", "datastore"),
                ("rp", "resource.pool"), ("dsc", "datastore.cluster")]:
    r = json.load(open(f"{d}/{m}.discover.json"))
    assert r.get("success") == 0, r
    # Visible names as the templates make them: the name, with the id
    # when two objects share it (every root resource pool is "Resources").
    count = {}
    for o in r["result"]:
        count[o["name"]] = count.get(o["name"], 0) + 1
    def visible(o):
        oid = o.get("config.instanceUuid") or o["moref"]
        return o["name"] + (f" ({oid})" if count[o["name"]] > 1 else "")
    inv[kind] = sorted(visible(o) for o in r["result"])
    for o in r["result"]:
        if kind == "rp":
            checks.append([visible(o), "vsphere.rp.status", ask("resource.pool.get", o["moref"], "overallStatus")])
        elif kind == "dsc":
            checks.append([visible(o), "vsphere.dsc.status", ask("datastore.cluster.get", o["moref"], "overallStatus")])
        if kind == "vm":
            checks.append([o["name"], "vsphere.vm.power.state", ask("vm.get", o["name"], "runtime.powerState")])
            checks.append([o["name"], "vsphere.vm.cpu.num", ask("vm.get", o["name"], "summary.config.numCpu")])
        elif kind == "hv":
            checks.append([o["name"], "vsphere.hv.memory.size", ask("host.get", o["name"], "summary.hardware.memorySize")])
            checks.append([o["name"], "vsphere.hv.connection.state", ask("host.get", o["name"], "runtime.connectionState")])
        elif kind == "ds":
            checks.append([o["name"], "vsphere.ds.capacity", ask("datastore.get", o["info.url"], "summary.capacity")])
        elif kind == "cluster":
            checks.append([o["name"], "vsphere.cluster.hosts", ask("cluster.get", o["name"], "summary.numHosts")])
        elif kind == "dc":
            checks.append([o["name"], "vsphere.dc.status", ask("datacenter.get", o["name"], "overallStatus")])
inv["checks"] = checks
json.dump(inv, open(out, "w"))
print(" ".join(f"{k}={len(v)}" for k, v in inv.items() if k != "checks") + f"; {len(checks)} value checks")
EOPY
}

# ---- 4b. issue 11 (i11-obj): act on the simulator, checks of alarms, tags, perf, events
# The simulated vCenter starts without alarms, tags or new events. e2e/vsimctl
# (govmomi against the embedded simulator, whose address the worker logs)
# raises the vcsim alarm "vcsim.vm.fatal" on one VM and attaches a tag to it,
# as a vSphere user would; obj_checks then asks vPoller directly for what
# the items must hold. zbx.py runs E2E_SIMACT per version to post an event
# once the vCenter host's vpoller.events item has had its first poll.
OBJ_VM=DC0_H0_VM0
obj_act() {
	local addr
	[ -z "${E2E_VPOLLER_ENDPOINT:-}" ] || { say "obj checks: not run (an external vPoller: no simulator to act on)"; return 0; }
	addr=$(sed -n 's/.*started embedded vSphere simulator.*address=\([0-9.:]*\).*/\1/p' "$STATE/vpoller/worker.log" | tail -1)
	[ -n "$addr" ] || die "the worker did not log the embedded simulator's address"
	E2E_SIMACT="$STATE/bin/vsimctl -url https://user:pass@$addr/sdk"
	export E2E_SIMACT
	$E2E_SIMACT alarm "$OBJ_VM" || die "vsimctl alarm"
	$E2E_SIMACT tag "$OBJ_VM" e2e-env prod || die "vsimctl tag"
	say "simulator $addr: alarm vcsim.vm.fatal raised and tag e2e-env:prod attached on $OBJ_VM"
}
# obj_checks: adds "obj" to inventory.json: value checks (alarm status on
# the VM and on the datacenter, the tag string), an absent check (the VM's
# alarm is not rediscovered on its hypervisor: the entity filter), one perf
# value (must be among the item's recent values: samples move on), and the
# VM for the event check.
obj_checks() {
	[ -n "${E2E_SIMACT:-}" ] || return 0
	CLIENT="$BIN/vpoller-client" ENDPOINT=$ENDPOINT AGENT_NAME=$AGENT_NAME OBJ_VM=$OBJ_VM $PY - "$STATE/inventory.json" <<'EOPY'
import json, os, subprocess, sys
def ask(method, name, *args):
    r = subprocess.run([os.environ["CLIENT"], "-m", method, "-V", os.environ["AGENT_NAME"], "-n", name, *args,
                        "-e", os.environ["ENDPOINT"], "-t", "5000", "-r", "2"], capture_output=True, text=True)
    reply = json.loads(r.stdout)
    assert reply.get("success") == 0, reply
    return reply["result"]
inv = json.load(open(sys.argv[1]))
vm = os.environ["OBJ_VM"]
alarms = ask("vm.alarm.get", vm)
assert len(alarms) == 1 and alarms[0]["overallStatus"] == "red", alarms
key = alarms[0]["key"]
# Hosts whose host.alarm.get lists the VM's alarm (vCenter propagates it
# up): the filter must keep it off every hypervisor's items.
listed = [h for h in inv["hv"] if any(a["key"] == key for a in ask("host.alarm.get", h))]
dc = inv["dc"][0]
tags = ask("vm.tag.get", vm)
def perf(kind, macro, counter, instance):
    return f"vpoller.poll[{kind}.perf.metric.get,{{$VSPHERE.HOST}},{macro},value,,,,{counter},{instance}]"
def samples(method, name, counter, instance):
    return [os.environ["CLIENT"], "-m", method, "-V", os.environ["AGENT_NAME"], "-n", name, "-c", counter, "-i", instance,
            "-s", "360", "-e", os.environ["ENDPOINT"], "-t", "5000", "-r", "2"]
inv["obj"] = {
    "values": [[vm, f"vsphere.vm.alarm.status[{key}]", "red"],
               [dc, f"vsphere.dc.alarm.status[{key}]", "red"],
               [vm, "vsphere.vm.tags", ", ".join(f"{t['category']}:{t['tag']}" for t in tags)]] +
              # NIC link speed (bps) of the first hypervisor, as host.pnic.discover gives it (Mb/s).
              [[inv["hv"][0], f"vsphere.hv.nic.speed[{n['instance']}]", str(int(n["linkSpeed"]) * 1000000)]
               for n in ask("host.pnic.discover", inv["hv"][0])] +
              # active paths per LUN as host.path.discover gives
              # them; SSH stopped and CBT off on the simulator's stock host and VM.
              [[inv["hv"][0], f"vsphere.hv.lun.paths.active[{l['lun']}]", str(l["active"])]
               for l in ask("host.path.discover", inv["hv"][0])] +
              [[inv["hv"][0], "vsphere.hv.service.ssh", "0"], [vm, "vsphere.vm.cbt", "0"]],
    "absent": [[h, f"vsphere.hv.alarm.status[{key}]"] for h in inv["hv"]],
    # The perf item: its value must be one of the samples vPoller serves for
    # the last 2 hours (360 real-time samples), read when zbx.py checks,
    # times 0.01 (% units). Not one value: the simulator's series move on
    # every 20 s and two reads of the newest sample can differ.
    "perf": [vm, "vpoller.poll[vm.perf.metric.get,{$VSPHERE.HOST},{$VSPHERE.VM.NAME},value,,,,cpu.usage.percent.average]",
             [os.environ["CLIENT"], "-m", "vm.perf.metric.get", "-V", os.environ["AGENT_NAME"], "-n", vm,
              "-c", "cpu.usage.percent.average", "-s", "360", "-e", os.environ["ENDPOINT"], "-t", "5000", "-r", "2"], 0.01],
    "event_vm": vm,
    # vSphere tags become the host tag vsphere.tags of the discovered host.
    "hosttags": [[vm, "vsphere.tags", ", ".join(sorted(f"{t['category']}:{t['tag']}" for t in tags))]],
    # Per-instance perf: the VM's virtual disks and NICs and the first
    # hypervisor's NICs, datastores and LUNs as vPoller discovers them must
    # have become items of the prototypes; the NIC traffic items (the
    # counters the simulator has samples of: it sends no zero samples, see
    # docs/templates.md) must hold one of the samples vPoller serves, x1024
    # (KBps to Bps).
    "present": [[vm, perf("vm", "{$VSPHERE.VM.NAME}", "virtualDisk.totalReadLatency.millisecond.average", d["instance"]), None, 0]
                for d in ask("vm.vdisk.discover", vm)] +
               [[vm, perf("vm", "{$VSPHERE.VM.NAME}", "net.bytesRx.kiloBytesPerSecond.average", n["instance"]),
                 samples("vm.perf.metric.get", vm, "net.bytesRx.kiloBytesPerSecond.average", n["instance"]), 1024]
                for n in ask("vm.vnic.discover", vm)] +
               [[inv["hv"][0], perf("host", "{$VSPHERE.HV.NAME}", "net.bytesRx.kiloBytesPerSecond.average", n["instance"]),
                 samples("host.perf.metric.get", inv["hv"][0], "net.bytesRx.kiloBytesPerSecond.average", n["instance"]), 1024]
                for n in ask("host.pnic.discover", inv["hv"][0])] +
               [[inv["hv"][0], perf("host", "{$VSPHERE.HV.NAME}", "datastore.totalReadLatency.millisecond.average", d["instance"]), None, 0]
                for d in ask("host.datastore.discover", inv["hv"][0])] +
               [[inv["hv"][0], perf("host", "{$VSPHERE.HV.NAME}", "disk.deviceLatency.millisecond.average", d["instance"]), None, 0]
                for d in ask("host.lun.discover", inv["hv"][0])],
}
json.dump(inv, open(sys.argv[1], "w"))
print(f"alarm {key} red on {vm} (listed by host.alarm.get of {listed or 'no host'}); tags {inv['obj']['values'][2][2]!r}; "
      f"{len(inv['obj']['present'])} per-instance perf items expected")
EOPY
}

# ---- 5. one Zabbix version ---------------------------------------------------------
# run_version VER: server + frontend + agent2 + import + LLD/values check.
run_version() {
	local v=$1 d=$STATE/zbx${1/./} root server agent sqldir srvport webport agport db
	mkdir -p "$d"; chown zabbix:zabbix "$d"; chmod 755 "$d"
	case $v in
	6.0) root=""; server=/usr/sbin/zabbix_server; agent=/usr/sbin/zabbix_agent2 ;;
	7.0) root=$R70; server=$R70/usr/sbin/zabbix_server; agent=$AGENT70 ;;
	esac
	sqldir=$root/usr/share/zabbix-server-pgsql
	db=zabbix${v/./}
	local t=$(date +%s)
	load_db "$db" "$sqldir"
	say "Zabbix $v: database $db ready ($(($(date +%s) - t))s)"
	srvport=$(freeport); webport=$(freeport); agport=$(freeport)

	cat >"$d/zabbix_server.conf" <<EOC
ListenIP=127.0.0.1
ListenPort=$srvport
LogType=file
LogFile=$d/zabbix_server.log
LogFileSize=0
PidFile=$d/zabbix_server.pid
SocketDir=$d
DBHost=127.0.0.1
DBPort=$PG_PORT
DBName=$db
DBUser=zabbix
DBPassword=zabbix-e2e
StartPollers=3
StartPollersUnreachable=1
StartPreprocessors=2
StartTrappers=2
StartPingers=0
StartDiscoverers=0
StartHTTPPollers=0
StartLLDProcessors=2
StartDBSyncers=1
StartProxyPollers=0
StartODBCPollers=0
HousekeepingFrequency=0
CacheUpdateFrequency=5
Timeout=10
# One slow reply (busy CI machine) must not park the agent interface, and
# with it every item of every discovered host, for a minute.
UnreachableDelay=2
UnreachablePeriod=300
UnavailableDelay=5
StatsAllowedIP=127.0.0.1
EOC
	[ "$v" = 7.0 ] && printf 'StartAgentPollers=1\nStartHTTPAgentPollers=0\nStartSNMPPollers=0\n' >>"$d/zabbix_server.conf"
	chown zabbix:zabbix "$d/zabbix_server.conf"; chmod 640 "$d/zabbix_server.conf"
	local ldp=""
	[ -n "$root" ] && ldp=$root/usr/lib/x86_64-linux-gnu
	LD_LIBRARY_PATH=$ldp "$server" -c "$d/zabbix_server.conf" || die "zabbix_server $v did not start"
	for _ in $(seq 1 120); do
		grep -q "server #0 started" "$d/zabbix_server.log" 2>/dev/null && break
		sleep 0.5
	done
	grep -q "server #0 started" "$d/zabbix_server.log" || die "zabbix_server $v not up"

	# Frontend: a copy of the package's tree whose config path points into $d
	# (Debian hard-codes /etc/zabbix/zabbix.conf.php; we leave /etc alone).
	cp -a "$root/usr/share/zabbix" "$d/ui"
	sed -i "s#'/etc/zabbix/zabbix.conf.php'#'$d/zabbix.conf.php'#" "$d/ui/include/classes/core/CConfigFile.php"
	cat >"$d/zabbix.conf.php" <<EOC
<?php
\$DB['TYPE'] = 'POSTGRESQL'; \$DB['SERVER'] = '127.0.0.1'; \$DB['PORT'] = '$PG_PORT';
\$DB['DATABASE'] = '$db'; \$DB['USER'] = 'zabbix'; \$DB['PASSWORD'] = 'zabbix-e2e'; \$DB['SCHEMA'] = '';
\$DB['ENCRYPTION'] = false; \$DB['KEY_FILE'] = ''; \$DB['CERT_FILE'] = ''; \$DB['CA_FILE'] = '';
\$DB['VERIFY_HOST'] = false; \$DB['CIPHER_LIST'] = ''; \$DB['VAULT'] = ''; \$DB['VAULT_URL'] = '';
\$DB['VAULT_DB_PATH'] = ''; \$DB['VAULT_TOKEN'] = ''; \$DB['VAULT_CERT_FILE'] = ''; \$DB['VAULT_KEY_FILE'] = '';
\$DB['DOUBLE_IEEE754'] = true;
\$ZBX_SERVER = '127.0.0.1'; \$ZBX_SERVER_PORT = '$srvport'; \$ZBX_SERVER_NAME = 'e2e';
\$IMAGE_FORMAT_DEFAULT = IMAGE_FORMAT_PNG;
EOC
	setsid php -d memory_limit=512M -d post_max_size=32M -d max_execution_time=300 \
		-S "127.0.0.1:$webport" -t "$d/ui" >"$d/php.log" 2>&1 &
	echo $! >"$d/php.pid"
	local url=http://127.0.0.1:$webport/api_jsonrpc.php
	for _ in $(seq 1 40); do
		curl -fsS -o /dev/null -H 'Content-Type: application/json-rpc' \
			-d '{"jsonrpc":"2.0","method":"apiinfo.version","params":{},"id":1}' "$url" 2>/dev/null && break
		sleep 0.25
	done
	say "Zabbix $v: server 127.0.0.1:$srvport, API $url"

	export ZBX_URL=$url ZBX_STATE=$d ZBX_SERVER_BIN=$server ZBX_LABEL="zabbix $v"
	export LD_LIBRARY_PATH=$ldp
	"$PY" "$HERE/zbx.py" import "$REPO"/templates/vpoller_{datacenter,cluster,hypervisor,vm,datastore,resourcepool,datastorecluster,vcenter,self}.yaml ||
		die "Zabbix $v: template import failed"
	if [ "${E2E_IMPORT_ONLY:-0}" = 1 ]; then
		unset LD_LIBRARY_PATH
		stop_version "$d"
		return 0
	fi

	# Agent 2 with our plugin (passive checks only).
	cat >"$d/zabbix_agent2.conf" <<EOC
LogType=file
LogFile=$d/agent2.log
LogFileSize=0
PidFile=$d/agent2.agentpid
ControlSocket=$d/agent2.sock
PluginSocket=$d/agent2.plugin.sock
Server=127.0.0.1
ListenIP=127.0.0.1
ListenPort=$agport
ServerActive=
Hostname=e2e-agent2
Timeout=10
Plugins.VPoller.System.Path=$PLUGIN
Plugins.VPoller.Endpoint=$ENDPOINT
${AGENT_MGMT:-}
EOC
	chown zabbix:zabbix "$d/zabbix_agent2.conf"
	unset LD_LIBRARY_PATH
	setsid runuser -u zabbix -- "$agent" -c "$d/zabbix_agent2.conf" >"$d/agent2.stdout" 2>&1 &
	echo $! >"$d/agent2.pid"
	for _ in $(seq 1 40); do
		[ "$(zabbix_get -s 127.0.0.1 -p "$agport" -k agent.ping 2>/dev/null)" = 1 ] && break
		sleep 0.25
	done
	local probe
	probe=$(zabbix_get -s 127.0.0.1 -p "$agport" -t 15 -k "vpoller.discover[host.discover,$AGENT_NAME]" 2>&1 || true)
	say "Zabbix $v: agent2 on 127.0.0.1:$agport; vpoller.discover[host.discover,$AGENT_NAME] -> ${probe:0:200}"

	export LD_LIBRARY_PATH=$ldp
	E2E_SELF=$([ -n "${AGENT_MGMT:-}" ] && echo 1 || echo 0) E2E_SIMCTL=$SIMCTL \
	AGENT_PORT=$agport VSPHERE_AGENT=$AGENT_NAME E2E_INVENTORY=$STATE/inventory.json E2E_WAIT=$WAIT \
		"$PY" "$HERE/zbx.py" run | tee "$d/result.txt"
	local rc=${PIPESTATUS[0]}
	unset LD_LIBRARY_PATH
	stop_version "$d"
	grep -E '^(== |rename: )' "$d/result.txt" >>"$STATE/summary.txt" || true
	return "$rc"
}

if [ "${E2E_IMPORT_ONLY:-0}" != 1 ]; then
	start_vpoller
	simulator_setup

	obj_act # issue 11 (i11-obj), see 4b
	say "simulated inventory: $(inventory)"
	say "obj checks: $(obj_checks)" # issue 11 (i11-obj), see 4b
fi
: >"$STATE/summary.txt"
failed=0
for v in $VERSIONS; do
	if run_version "$v"; then say "Zabbix $v: OK"; else say "Zabbix $v: FAILED"; failed=1; fi
done
echo "==== e2e summary ($(($(date +%s) - T0))s)"
cat "$STATE/summary.txt"
[ $failed = 0 ] || die "at least one Zabbix version failed"
say "all versions passed"
