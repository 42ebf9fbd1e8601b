// Package vsphere is the govmomi side of the vPoller worker: it answers
// vPoller requests (package vpoller) from vSphere agents (vCenter or ESXi),
// replying with the original Python vPoller's shapes and messages while
// costing vCenter as little as the data allows.
//
// It is built in three rooms, the way Telegraf's vSphere input is:
//
//   - session (package session): one long-lived session per agent, opened
//     on the first request (concurrent first requests share the login),
//     re-opened transparently when vCenter reports it NotAuthenticated
//     (the failed call is retried once), logged out by Close; TLS
//     verified by default (CA file, or a pinned thumbprint checked in the
//     one handshake), insecure only when set; a deadline on every call;
//     SOAP calls counted by method; the embedded simulator.
//   - objects (package objects), behind a narrow client interface: the
//     watched property mirror, which is also the inventory index (one
//     filter over a container view of every inventory type, kept current
//     by an incremental WaitForUpdatesEx long poll), the performance sweep
//     and the batchers for what must still go to vCenter.
//   - the method families and their registry (this package): each
//     vPoller method is a Handler, bound to its catalogue entry by the
//     registry (handlers), so that Service.Execute can check a request
//     the way the original worker does before any vCenter work starts;
//     docs/methods.md is the compatibility table of all of them.
//
// The handlers hold no state of their own: what they share between
// requests lives in the objects room, so that it is written once (one TTL
// snapshot type, loads shared with cancellation) and tested without a
// request. Alarm states come from the alarm snapshot, every object's
// triggeredAlarmState read with one call and at most 20 s old
// (Store.Alarms), so that alarm items cost a fixed few calls per minute
// however many there are. Tags come from vCenter's vAPI tagging service
// (package tagging), the category/tag catalogue and every attachment held
// as snapshots at most 60 s old (2 calls per minute, whatever the number
// of tag items); custom attributes resolve through the custom field
// definitions snapshot (Store.FieldDefs) and read customValue through the
// mirror. Discoveries also answer the pseudo-properties moref,
// datacenter, cluster and tags; tags comes from the same attachments
// snapshot, and a discovery never fails for want of tags. event.get
// answers from the agent's one event collector and its buffer (package
// eventstream), so that each request gets only the events newer than the
// key it names.
//
// Names, managed object ids ("vm-42"), datastore info.url and VM/host
// UUIDs resolve from the index without a vCenter call; a name shared by
// several objects is an error naming their ids (see LookupError) rather
// than a guess. Reads of watched properties (*.get, *.discover with
// properties, vm.snapshot.get, relation methods, the perf power-state
// checks) come from the mirror at no vCenter cost while it is confirmed
// current within its staleness bound; otherwise they go to vCenter
// (batched with concurrent reads), and properties read that way join the
// mirror. Performance metrics come from the sweep's latest round.
// Identical requests in flight share one execution (event.get excepted:
// its replies must be as new as each request). docs/vsphere.md
// describes the costs and guarantees.
//
// Property values are converted to the vpoller value model by toValue:
// enums as strings, times as Python str(datetime), managed object
// references as their id string ("host-30"), data objects as ordered
// objects of all their fields. Performance counters are named
// "<group>.<name>.<unit>.<rollup>" and resolved through a per-agent
// cached catalogue. Agents with Simulator set are served by an in-process
// govmomi simulator (see Inventory and SimulatorInventory for the
// content).
package vsphere
