#!/usr/bin/env bash
# Side-by-side benchmarks, each measured in one run on the same machine:
#   - the whole chain (client -> proxy -> worker -> simulator) vs a direct
#     govmomi property read on the same simulator, and vCenter calls per
#     1,000 requests;
#   - our vsphere.Service vs govmomi on the same session (SOAP calls/op);
#   - a vpoller.poll through the agent 2 plugin protocol vs vpoller/client
#     directly (p50/p99, ratio), and 100 concurrent Exports;
#   - request/reply through the proxy vs straight to a worker.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_N:-2000}
filter() { grep -v 'TLS handshake error' || true; }
run() { echo; echo "== $*"; go test -run '^$' "$@" 2>&1 | filter | grep -E '^(Benchmark|ok|FAIL|---)'; }
run -bench 'BenchmarkChainVsGovmomi' -benchtime "${N}x" ./integration/
run -bench 'BenchmarkVMGet' -benchtime "${N}x" ./vpoller/vsphere/
run -bench 'BenchmarkPoll' -benchtime "${N}x" ./plugin/
run -bench 'BenchmarkRoundTrip|BenchmarkThroughput' -benchtime "${N}x" ./vpoller/proxy/
echo
go test -run 'TestCallsPerThousandItems' -v -count=1 ./integration/ 2>&1 | filter | grep -E 'calls per 1000|^(ok|FAIL)'
