#!/bin/sh
# fetch-zabbix70.sh: download Debian's Zabbix 7.0 server (PostgreSQL) and
# frontend from bookworm-backports and unpack them into CACHE/zabbix70/root
# WITHOUT installing them, so that 7.0 runs beside the installed 6.0 packages.
# The mirror URI is read from the machine's apt source; no host name is written
# into the repository. Idempotent. Prints the unpacked root on the last line.
# Usage: e2e/fetch-zabbix70.sh CACHE_DIR
set -eu
cache=${1:?usage: fetch-zabbix70.sh CACHE_DIR}
base=$cache/zabbix70
root=$base/root
if [ -x "$root/usr/sbin/zabbix_server" ] && [ -f "$root/usr/share/zabbix/api_jsonrpc.php" ]; then
	echo "$root"
	exit 0
fi
uri=""
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
	uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
	uri=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
fi
[ -n "$uri" ] || { echo "fetch-zabbix70: no Debian apt source found" >&2; exit 1; }
mkdir -p "$base/lists/partial" "$base/cache/archives/partial" "$base/debs"
printf 'deb %s bookworm main\ndeb %s bookworm-backports main\n' "$uri" "$uri" >"$base/sources.list"
APT="-o Dir::Etc::sourcelist=$base/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::lists=$base/lists -o Dir::Cache=$base/cache -o APT::Sandbox::User=root"
if ! ls "$base"/debs/zabbix-server-pgsql_*bpo12*.deb >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	apt-get $APT update -qq >&2
	# shellcheck disable=SC2086
	(cd "$base/debs" && apt-get $APT download zabbix-server-pgsql/bookworm-backports \
		zabbix-frontend-php/bookworm-backports libevent-extra-2.1-7 libevent-pthreads-2.1-7 >&2)
fi
rm -rf "$root.tmp"
mkdir -p "$root.tmp"
for d in "$base"/debs/*.deb; do dpkg -x "$d" "$root.tmp"; done
rm -rf "$root"
mv "$root.tmp" "$root"
echo "$root"
