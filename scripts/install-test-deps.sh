#!/usr/bin/env bash
# Installs what the test suite uses, on Debian bookworm as root:
#   zabbix-agent2 6.0 (real agent for the plugin tests), lintian (checks the
#   .debs of make package), rpm (checks the .rpms: contents, scriptlets, a
#   scratch-root install and erase), man-db (man -l on the pages),
#   python3-zmq (a libzmq
#   peer playing the original Python vPoller), and Zabbix agent 2 7.0 from
#   bookworm-backports unpacked beside 6.0 (scripts/fetch-agent70.sh).
# The Zabbix servers for the template tests are installed by e2e/run.sh.
# Package postinst scripts must not start daemons (port clashes, no systemd):
# a temporary policy-rc.d forbids it, as the Zabbix reference recipe does.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
for p in zabbix-agent2 python3-zmq ca-certificates git lintian rpm man-db; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-test-deps: need root to apt-get install ${need[*]}" >&2
		exit 1
	fi
	policy_added=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		policy_added=1
	fi
	apt-get update -qq
	apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${need[@]}"
	[ "$policy_added" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
bash scripts/fetch-agent70.sh
