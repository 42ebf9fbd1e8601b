// Package faults is the fault suite of `make faults`: it starts the real
// processes (vpoller-proxy, vpoller-worker, vpoller-client, the Zabbix
// agent 2 with our plugin, python3-zmq peers and a standalone simulated
// vCenter, faults/vcsim) on loopback, injects faults (SIGKILL, SIGSTOP,
// restarts, lost sessions, hostile bytes on every socket, idle connection
// floods, an exhausted file table, poison requests, unauthenticated stops)
// and prints one table row per scenario with its measured numbers and a
// PASS/FAIL verdict against a numeric criterion.
//
// The scenarios are tests guarded by the build tag "faults", so that
// `go test ./...` does not run them; `make faults` runs
//
//	go test -tags faults -count=1 -v -run . ./faults
//
// See docs/faults.md for the scenarios and how to read the table.
package faults
