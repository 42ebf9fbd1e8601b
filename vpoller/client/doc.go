// Package client sends vPoller task requests to a vPoller proxy the way the
// original Python client does (a ZeroMQ REQ socket, one JSON frame out, one
// JSON frame back), with the "lazy pirate" recovery of the original: wait a
// bounded time for the reply, and when none comes throw the socket away, open
// a fresh one and send the request again, up to a fixed number of attempts.
//
// Both the Zabbix agent 2 plugin and the vpoller-client command use it.
//
// Differences from the original that callers may rely on:
//
//   - A Client keeps a pool of REQ sockets, each with at most one request in
//     flight, so concurrent callers do not queue behind one socket (the
//     Python worker and the C module assume exactly one REQ envelope, so one
//     socket cannot carry several requests at once).
//   - A context bounds every call, including connecting.
//   - Several proxies: the endpoint may be a comma-separated list of proxy
//     frontends. The one retry loop walks it (see Client.DoWith): calls stick
//     to the proxy that answered last, a refused connection moves on at once,
//     a silent attempt moves on after its timeout, and a failed call's
//     CallError names every attempt and what it met.
//
// Retries are NOT de-duplicated, exactly as in the original: a request whose
// reply did not arrive in time may still be running on a worker (or its
// reply may be on its way) when the client sends it again, so the worker
// may execute the same task more than once. vPoller tasks are read-only
// vSphere queries, which makes this harmless, but it costs vCenter load: a
// timeout shorter than the slowest task multiplies the work.
package client
