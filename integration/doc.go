// Package integration runs the whole vPoller chain in one process, the way
// it runs in production: our proxy, our worker with a vsphere.Service
// connected over TLS (pinned thumbprint) to a govmomi simulator, and
// clients in front. It holds the cross-component tests (a libzmq client
// through our proxy to our worker) and the side-by-side benchmark of the
// chain against a direct govmomi call on the same simulator.
package integration
