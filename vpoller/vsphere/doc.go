// Package vsphere is the govmomi side of the vPoller worker: it answers
// vPoller requests (package vpoller) from vSphere agents (vCenter or ESXi),
// replying with the original Python vPoller's shapes and messages while
// costing vCenter as little as possible.
//
// Per agent and process there is one long-lived session, opened on the
// first request (concurrent first requests share the login), kept alive by
// the inventory poll, re-opened transparently when vCenter reports it
// NotAuthenticated (the failed call is retried once) and logged out by
// Close. TLS is verified by default: AgentConfig.CAFile adds trusted CAs,
// AgentConfig.Thumbprint pins the server certificate, Insecure is honoured
// only when set.
//
// Objects are found through an inventory index per agent, kept current by
// a property filter over a container view that is polled for changes
// (WaitForUpdatesEx): names, managed object ids ("vm-42"), datastore
// info.url and VM/host UUIDs resolve without a vCenter call. A name shared
// by several objects is an error naming their ids (see LookupError) rather
// than a guess. A warm vm.get costs one RetrievePropertiesEx; discovery of
// names costs none; identical requests in flight share one execution.
//
// Property values are converted to the vpoller value model by toValue:
// enums as strings, times as Python str(datetime), managed object
// references as their id string ("host-30"), data objects as ordered
// objects of all their fields.
//
// Methods are registered in one table (registry.go); each family lives in
// its own file (perf.go, alarms.go, guest.go, snapshot.go, networks.go,
// cpu.go, vsan.go, ...). docs/methods.md is the compatibility table of all
// of them. Performance counters are named "<group>.<name>.<unit>.<rollup>"
// and resolved through a per-agent cached catalogue (perfcatalog.go). Agents with Simulator set are served by an in-process
// govmomi simulator (see Inventory and SimulatorInventory for the content).
package vsphere
