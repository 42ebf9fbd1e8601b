#!/bin/sh
# fetch-agent70.sh: download Debian's zabbix-agent2 7.0 (bookworm-backports)
# and unpack it BESIDE the system's 6.0 agent, without installing it: the
# plugin's integration tests run both agent generations on one machine.
#
# Usage: scripts/fetch-agent70.sh [CACHE_DIR]
#   CACHE_DIR defaults to $VPOLLER_CI_CACHE, else /var/cache/vpoller-ci when
#   writable, else ${TMPDIR:-/tmp}/vpoller-ci.
# Prints the path of the unpacked agent binary on stdout (last line), e.g.
#   /var/cache/vpoller-ci/agent70/root/usr/sbin/zabbix_agent2
# Idempotent: a second run reuses the downloaded .deb and the unpacked tree.
# Needs: apt-get, dpkg-deb, and the machine's Debian apt source
# (/etc/apt/sources.list.d/debian.sources) whose URI is reused, so no mirror
# host name is written into the repository.
set -eu

cache=${1:-${VPOLLER_CI_CACHE:-}}
if [ -z "$cache" ]; then
	if mkdir -p /var/cache/vpoller-ci 2>/dev/null && [ -w /var/cache/vpoller-ci ]; then
		cache=/var/cache/vpoller-ci
	else
		cache=${TMPDIR:-/tmp}/vpoller-ci
	fi
fi
base=$cache/agent70
root=$base/root
agent=$root/usr/sbin/zabbix_agent2

if [ -x "$agent" ] && "$agent" -V >/dev/null 2>&1; then
	echo "$agent"
	exit 0
fi

src=/etc/apt/sources.list.d/debian.sources
uri=""
if [ -r "$src" ]; then
	uri=$(awk '/^URIs:/{print $2; exit}' "$src")
fi
if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
	uri=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
fi
if [ -z "$uri" ]; then
	echo "fetch-agent70: cannot find the Debian mirror URI in $src or /etc/apt/sources.list" >&2
	exit 1
fi

mkdir -p "$base/lists/partial" "$base/cache/archives/partial" "$base/debs"
cat >"$base/sources.list" <<EOC
deb $uri bookworm main
deb $uri bookworm-backports main
EOC
apt_opts="-o Dir::Etc::sourcelist=$base/sources.list -o Dir::Etc::sourceparts=- \
 -o Dir::State::lists=$base/lists -o Dir::Cache=$base/cache -o APT::Sandbox::User=root \
 -o Debug::NoLocking=1"

if ! ls "$base"/debs/zabbix-agent2_*bpo12*.deb >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	apt-get $apt_opts -qq update >&2
	# shellcheck disable=SC2086
	(cd "$base/debs" && apt-get $apt_opts -qq download zabbix-agent2/bookworm-backports >&2)
fi

rm -rf "$root"
mkdir -p "$root"
for deb in "$base"/debs/*.deb; do
	dpkg-deb -x "$deb" "$root"
done
if ! "$agent" -V >/dev/null 2>&1; then
	echo "fetch-agent70: $agent does not run:" >&2
	"$agent" -V >&2 || true
	exit 1
fi
echo "$agent"
