// Package lld turns a vPoller (request, reply) pair into the value Zabbix
// expects: low-level discovery JSON ({"data": [...]}) for discovery-like
// methods, or one item value for the others.
//
// It is a pure package (no I/O) shared by two consumers that must agree:
// the Zabbix agent 2 plugin, which applies it to plain replies so that it
// works with any worker, and the worker's vpoller.helpers.zabbix
// compatibility helper (package lld/helpers), which must reproduce the
// original Python helper's bytes. Replies follow package vpoller's value
// model, either as the worker builds them ([]vpoller.Object, Go numbers) or
// as decoded from the wire ([]any of vpoller.Object, json.Number); both are
// accepted everywhere.
//
// Deliberate differences from the original helper are listed in
// docs/compatibility-helpers.md.
package lld
