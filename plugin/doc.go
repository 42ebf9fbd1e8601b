// Package plugin is the vPoller plugin for Zabbix agent 2: the item keys
// vpoller.discover, vpoller.poll, vpoller.get, vpoller.status and
// vpoller.events (with each key's position in the event stream), their
// translation into vPoller requests, the Plugins.VPoller.* configuration with named sessions,
// per-request deadlines that always beat the agent's own, and coalescing of
// identical requests in flight. The wire protocol with the agent lives in
// package agent2; the vPoller side in packages vpoller/client and lld.
package plugin
