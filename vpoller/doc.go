// Package vpoller holds what every vPoller component shares: the request and
// reply messages, their Python-compatible JSON encoding and the catalogue of
// methods. Clients, the proxy, workers and the Zabbix plugin all speak through
// these types, so wire compatibility with the original Python vPoller is
// decided here and nowhere else.
//
// Value model: a reply's result is built from plain values only: nil, bool,
// string, json.Number, the Go integer and float kinds, []any and Object
// (an ordered JSON object). Anything richer (govmomi data objects, times) is
// converted by the producer before it reaches this package, which keeps the
// encoder small and the bytes predictable.
package vpoller
