#!/usr/bin/env bash
# Side-by-side benchmarks, each measured in one run on the same machine:
#   - the shipped VM template's load on a counting simulated vCenter
#     (BENCH_VMS VMs, default 1,000) through client -> proxy ->
#     vpoller-worker: SOAP calls per interval per 1,000 VMs with the
#     requests one after another and all at once (beside the turn-2
#     behaviour, mirror and sweep off, measured in the same run), vm.get
#     p50 against a direct govmomi RetrievePropertiesEx, QueryPerf calls
#     per sample period against ceil(series/pack) (the sweep's realtime pack,
#     1,000 metrics per call), worker RSS, first full
#     sync. Time runs BENCH_SCALE times faster (default 2; 1 = real time).
#     BENCH_LONG=1 runs it on 5,000 VMs in real time (about 20 minutes;
#     CI does not run it);
#   - the whole chain (client -> proxy -> worker -> simulator) vs a direct
#     govmomi property read on the same simulator, and vCenter calls per
#     1,000 requests;
#   - our vsphere.Service vs govmomi on the same session (SOAP calls/op);
#   - the licenses, appliance and vSAN snapshots: SOAP and REST calls per
#     interval with 4 and 36 hosts (BenchmarkDataSnapshots);
#   - a vpoller.poll through the agent 2 plugin protocol vs vpoller/client
#     directly (p50/p99, ratio), and 100 concurrent Exports;
#   - request/reply through the proxy vs straight to a worker;
#   - one worker's capacity: requests per second and per CPU second with
#     the template's requests from 64 callers (BenchmarkWorkerCapacity);
#   - scale-out: the template load on 2 simulated vCenters through one
#     proxy and 1, 2 and 4 workers (and 2 and 4 with standby = 1): SOAP
#     calls per interval per 1,000 VMs side by side, per vCenter, requests
#     per worker (BenchmarkScaleOut);
#   - with BENCH_LONG=1 also, on 10,000 VMs in real time: the owner worker
#     SIGKILLed under load (failed requests, seconds until the next one
#     answers from a current mirror) and the freshness of a power change
#     through the chain beside the simulator's own delay
#     (BenchmarkTakeoverAndFreshness).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_N:-2000}
if [ "${BENCH_LONG:-0}" = 1 ]; then
	export BENCH_VMS=${BENCH_VMS:-5000} BENCH_SCALE=${BENCH_SCALE:-1}
fi
export BENCH_VMS=${BENCH_VMS:-1000} BENCH_SCALE=${BENCH_SCALE:-2}
filter() { grep -v 'TLS handshake error' || true; }
run() { echo; echo "== $*"; go test -run '^$' "$@" 2>&1 | filter | grep -E '^(Benchmark|ok|FAIL|---)'; }
echo "== BenchmarkTemplateLoad: $BENCH_VMS VMs, time x$BENCH_SCALE"
go test -run '^$' -bench 'BenchmarkTemplateLoad' -benchtime 1x -timeout 90m ./integration/ 2>&1 | filter |
	grep -E '^(BENCH |Benchmark|ok|FAIL|---|    bench_test)' | sed 's/^BENCH //'
run -bench 'BenchmarkChainVsGovmomi' -benchtime "${N}x" ./integration/
run -bench 'BenchmarkVMGet' -benchtime "${N}x" ./vpoller/vsphere/
run -bench 'BenchmarkDataSnapshots' -benchtime 20x ./vpoller/vsphere/
run -bench 'BenchmarkPoll' -benchtime "${N}x" ./plugin/
run -bench 'BenchmarkRoundTrip|BenchmarkThroughput' -benchtime "${N}x" ./vpoller/proxy/
echo
go test -run 'TestCallsPerThousandItems' -v -count=1 ./integration/ 2>&1 | filter | grep -E 'calls per 1000|^(ok|FAIL)'
echo
go test -run '^$' -bench 'BenchmarkWorkerCapacity' -benchtime 1x -timeout 30m ./integration/ 2>&1 | filter |
	grep -E '^(BENCH |Benchmark|ok|FAIL|---)' | sed 's/^BENCH //'
echo
echo "== BenchmarkScaleOut: 2 vCenters x $((BENCH_VMS / 2)) VMs, 1/2/4 workers, time x$BENCH_SCALE"
go test -run '^$' -bench 'BenchmarkScaleOut' -benchtime 1x -timeout 90m ./integration/ 2>&1 | filter |
	grep -E '^(BENCH |Benchmark|ok|FAIL|---|    scaleout_test)' | sed 's/^BENCH //'
if [ "${BENCH_LONG:-0}" = 1 ]; then
	echo
	echo "== BenchmarkTakeoverAndFreshness: ${BENCH_TAKEOVER_VMS:-10000} VMs, real time"
	BENCH_VMS=${BENCH_TAKEOVER_VMS:-10000} go test -run '^$' -bench 'BenchmarkTakeoverAndFreshness' -benchtime 1x -timeout 90m ./integration/ 2>&1 | filter |
		grep -E '^(BENCH |Benchmark|ok|FAIL|---|    takeover_test)' | sed 's/^BENCH //'
fi
