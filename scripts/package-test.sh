#!/usr/bin/env bash
# The Debian packages end to end, as root on a Debian machine: install both
# .debs from dist/ with apt, run the agent tests and the e2e on real Zabbix
# servers against the installed files (daemons started by hand, no systemd),
# purge both packages and check that nothing of them is left.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
T0=$(date +%s)
say() { echo "[package-test $(($(date +%s) - T0))s] $*"; }
shopt -s nullglob
debs=(dist/vpoller_*.deb dist/zabbix-agent2-plugin-vpoller_*.deb)
[ ${#debs[@]} = 2 ] || { echo "package-test: want exactly two .debs in dist/ (make package), found: ${debs[*]}" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "package-test: needs root (apt-get install)" >&2; exit 1; }

purge() {
	apt-get purge -y -q -o DPkg::Lock::Timeout=600 vpoller zabbix-agent2-plugin-vpoller >/dev/null 2>&1 || true
}
trap purge EXIT

say "apt-get install ${debs[*]}"
apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${debs[@]/#/./}" >/dev/null
for f in /usr/bin/vpoller-proxy /usr/bin/vpoller-worker /usr/bin/vpoller-client \
	/usr/sbin/zabbix-agent2-plugin/zabbix-agent2-plugin-vpoller /etc/vpoller/vpoller.conf \
	/etc/zabbix/zabbix_agent2.d/plugins.d/vpoller.conf /lib/systemd/system/vpoller-proxy.service \
	/lib/systemd/system/vpoller-worker.service; do
	[ -e "$f" ] || { echo "package-test: $f not installed" >&2; exit 1; }
done
id vpoller >/dev/null || { echo "package-test: no vpoller user" >&2; exit 1; }
[ "$(stat -c '%U %a' /etc/vpoller/vsphere.d)" = "vpoller 700" ] || { echo "package-test: /etc/vpoller/vsphere.d is $(stat -c '%U %a' /etc/vpoller/vsphere.d)" >&2; exit 1; }
if command -v lintian >/dev/null; then
	say "lintian"
	lintian --fail-on error --tag-display-limit 0 "${debs[@]}" 2>&1 | grep -v "root privileges" || true
	lintian --fail-on error "${debs[@]}" >/dev/null 2>&1 || { echo "package-test: lintian errors" >&2; exit 1; }
fi

say "agent tests against the installed plugin, proxy and worker"
VPOLLER_INSTALLED=1 go test -count=1 -timeout 10m ./plugin/integration/

say "e2e against the installed packages"
E2E_INSTALLED=1 bash e2e/run.sh

say "apt-get purge"
trap - EXIT
purge
left=()
for f in /usr/bin/vpoller-proxy /usr/bin/vpoller-worker /usr/bin/vpoller-client /usr/sbin/zabbix-agent2-plugin \
	/etc/vpoller /etc/zabbix/zabbix_agent2.d/plugins.d/vpoller.conf /lib/systemd/system/vpoller-proxy.service \
	/lib/systemd/system/vpoller-worker.service /lib/systemd/system/zabbix-agent2.service.d/vpoller-restart.conf \
	/usr/share/doc/vpoller /usr/share/doc/zabbix-agent2-plugin-vpoller /run/vpoller; do
	[ -e "$f" ] && left+=("$f")
done
getent passwd vpoller >/dev/null && left+=("user vpoller")
getent group vpoller >/dev/null && left+=("group vpoller")
dpkg-query -W -f='${Status}\n' vpoller zabbix-agent2-plugin-vpoller 2>/dev/null | grep -qv "not-installed" && left+=("dpkg status")
if [ ${#left[@]} -gt 0 ]; then
	echo "package-test: left behind after purge: ${left[*]}" >&2
	exit 1
fi
say "installed, tested and purged: nothing left behind"
