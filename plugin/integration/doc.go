// Package integration drives the REAL Debian zabbix-agent2 binaries (6.0
// from bookworm, 7.0 from bookworm-backports unpacked beside it by
// scripts/fetch-agent70.sh) with the vPoller plugin built from this
// repository, and queries them like a Zabbix server does (passive checks)
// and like an administrator does (zabbix_agent2 -t).
//
// Agents are found through ZBX_AGENT2_60 and ZBX_AGENT2_70 (defaults: the
// system agent and the fetch script's cache). A missing agent FAILS the
// tests; set VPOLLER_AGENT_TESTS=off to say the suite is not wanted here.
package integration
