// Package worker is the vPoller worker: it connects to a proxy's backend
// as one ZMTP DEALER, answers the requests the proxy hands it with a
// vsphere.Service, and formats replies with the helpers a request names
// (handed in as Options.Formatters, since they are Zabbix knowledge), so every vPoller client, the original Python proxy (a libzmq
// zmq.proxy(ROUTER, DEALER)) and ours can use it as the Python worker.
//
// Wire: a request arrives as [envelope...][json] (normally [id][""][json])
// and the reply goes back as [envelope...][reply], one payload frame, on
// the connection the request came from. Requests run concurrently, at most
// Options.Concurrency at once; when all slots are busy the worker stops
// reading, so requests wait at the proxy, not in the worker.
//
// Connection: dialled by the worker itself on the guarded ZMTP layer with a
// bounded attempt (connect plus handshake within DialTimeout, CURVE when
// configured), re-dialled with capped exponential backoff when it breaks,
// with a fresh connection each time.
//
// Bulkheads: a stalled vCenter must cost the others nothing, so each
// vSphere agent has its own bulkhead (the type lane; its status is the
// "lanes" field): at most AgentConcurrency of its requests run at once;
// more wait in the bulkhead without holding a worker slot, up to
// AgentQueue, and beyond that are refused at once. A circuit breaker per
// bulkhead opens after BreakerFailures consecutive unreachable-vCenter
// failures (vsphere.Unreachable): the agent's requests then fail at once
// ("vCenter X unreachable since T: cause") until a probe after
// BreakerCooldown succeeds.
// Replies of requests whose connection broke are dropped: our proxy
// re-dispatches such requests, clients of other proxies retry.
//
// Stopping (context cancelled): no new requests are taken, requests in
// flight are answered (bounded by DrainTimeout), then the connection
// closes; Daemon.Stop then logs out of vSphere.
//
// Configuration: Daemon reads the [worker] section of vpoller.conf. Its
// keys are not repeated here: every one is declared once in
// internal/config (workerOptions and mirrorOptions, which parse it) and
// described with its default in the shipped conf/vpoller.conf (the
// management socket's mgmt_* security keys once, under [proxy] mgmt);
// docs/vsphere.md explains the mirror and sweep keys. Relative db and vsphere_hosts_dir paths are relative to
// the configuration file's directory (ResolvePaths).
//
// vSphere agents (LoadAgents): rows with enabled = 1 of the original's
// vconnector SQLite database, opened read-only and read as is, and one
// INI file per vCenter (*.conf) in vsphere_hosts_dir. TLS is verified by
// default, which the original never did; a database row has no TLS
// settings, so a per-vCenter file with the same hostname completes the
// row (its thumbprint, ca_file, insecure, port, timeout, and its
// username/password when given, win). A database or file that holds a
// password and is readable by every user is refused.
//
// Reload (Daemon.Reload, the worker's SIGHUP): the agent sources are read
// again and the vSphere service updated in place (vsphere.Service.Update):
// unchanged vCenters keep their sessions, mirrors and sweeps; a changed
// one gets a new session; a file that no longer reads or parses keeps its
// vCenter's previous definition. When the set of names changed,
// Worker.SetAgents reconnects to every proxy with the new announcement,
// the new connection before the old one closes.
package worker
