#!/usr/bin/env bash
# Writes a Debian changelog for package $1, version $2 (native package),
# gzipped, to stdout: one entry for this version listing the commits since
# the previous tag (at most 50).
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=$1 version=$2
range=HEAD
if prev=$(git describe --tags --abbrev=0 --match 'v[0-9]*' HEAD^ 2>/dev/null); then range="$prev..HEAD"; fi
{
	echo "$pkg ($version) unstable; urgency=medium"
	echo
	git log --no-merges -n 50 --format='%s' "$range" | cut -c1-76 | sed 's/^/  * /'
	echo
	echo " -- vPoller for Zabbix maintainers <maintainers@vpoller-zabbix.invalid>  $(git log -1 --format=%cd --date=format:'%a, %d %b %Y %H:%M:%S %z')"
} | gzip -9n
