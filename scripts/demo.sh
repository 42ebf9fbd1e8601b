#!/usr/bin/env bash
# The first run: a vPoller proxy and worker on loopback, the worker serving a
# simulated vCenter (govmomi's simulator, in process) as agent "vcsim.local",
# and the client asking it what a Zabbix installation would ask. Everything
# it starts stops when it ends. Ports: DEMO_PORT (default 31123) and the
# one after it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
PORT=${DEMO_PORT:-31123}
FRONT=tcp://127.0.0.1:$PORT
BACK=tcp://127.0.0.1:$((PORT + 1))
DIR=$(mktemp -d "${TMPDIR:-/tmp}/vpoller-demo.XXXXXX")
# Management sockets are local files (mode 0600), as in production.
PMGMT=ipc://$DIR/proxy-mgmt.sock
WMGMT=ipc://$DIR/worker-mgmt.sock
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT

mkdir -m 700 "$DIR/vsphere.d"
cat > "$DIR/vpoller.conf" <<EOC
[proxy]
frontend = $FRONT
backend  = $BACK
mgmt     = $PMGMT

[worker]
proxy             = $BACK
mgmt              = $WMGMT
vsphere_hosts_dir = vsphere.d
EOC
cat > "$DIR/vsphere.d/vcsim.local.conf" <<EOC
# A simulated vCenter served inside the worker (no credentials needed).
hostname  = vcsim.local
simulator = true
EOC
chmod 600 "$DIR/vsphere.d/vcsim.local.conf"

"$BIN/vpoller-proxy" -f "$DIR/vpoller.conf" start 2>"$DIR/proxy.log" &
pids+=($!)
"$BIN/vpoller-worker" -f "$DIR/vpoller.conf" start 2>"$DIR/worker.log" &
pids+=($!)

client() { "$BIN/vpoller-client" -e "$FRONT" -V vcsim.local -t 10000 -r 3 "$@"; }
show() {
	echo
	echo "\$ vpoller-client -V vcsim.local $*"
	if ! client "$@" | tr -d '\000'; then
		echo "--- proxy log"; cat "$DIR/proxy.log"; echo "--- worker log"; cat "$DIR/worker.log"
		exit 1
	fi
}

echo "vPoller demo: proxy $FRONT, worker serving simulated vCenter vcsim.local"
show -m about -p fullName,apiVersion
show -m host.discover -p runtime.connectionState
show -m vm.discover -H vpoller.helpers.zabbix
show -m vm.get -n DC0_H0_VM0 -p runtime.powerState,summary.quickStats.overallCpuUsage
show -m vm.get -n DC0_H0_VM0 -p runtime.powerState -H vpoller.helpers.zabbix
show -m datastore.discover -p info.url,summary.capacity
show -m host.perf.metric.get -n DC0_H0 -c cpu.usage.percent.average -p value -H vpoller.helpers.zabbix
show -m vm.tag.get -n DC0_H0_VM0
show -m vm.get -n no-such-vm -p name
echo
echo "\$ vpoller-proxy -e $PMGMT status"
"$BIN/vpoller-proxy" -e "$PMGMT" status
echo
echo "\$ vpoller-worker -e $WMGMT status"
"$BIN/vpoller-worker" -e "$WMGMT" status
"$BIN/vpoller-worker" -e "$WMGMT" stop >/dev/null
"$BIN/vpoller-proxy" -e "$PMGMT" stop >/dev/null
echo
echo "demo finished: proxy and worker stopped"
