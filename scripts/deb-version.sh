#!/usr/bin/env bash
# Prints the Debian version of this checkout: the last tag vX.Y.Z gives
# X.Y.Z, commits after it +gitN.SHA, no tag at all 0.0~gitYYYYMMDD.SHA.
set -euo pipefail
cd "$(dirname "$0")/.."
if d=$(git describe --tags --long --match 'v[0-9]*' 2>/dev/null); then
	# v1.2.3-4-gabcdef0
	n=${d%-g*}; n=${n##*-}
	tag=${d%-*-g*}; tag=${tag#v}
	sha=${d##*-g}
	if [ "$n" = 0 ]; then echo "$tag"; else echo "$tag+git$n.$sha"; fi
else
	echo "0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d).$(git rev-parse --short=7 HEAD)"
fi
