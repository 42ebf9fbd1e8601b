#!/usr/bin/env bash
# Prints the package version of a checkout (this one, or the git work tree
# given as $1), one that apt and rpm order like the commits:
#
#   tag vX.Y.Z on HEAD           X.Y.Z
#   N commits after vX.Y.Z       X.Y.Z+gitN.SHA
#   no tag vX.Y.Z at all         0.0+gitC.SHA        C = git rev-list --count HEAD
#   uncommitted changes          any of these + "+dirtyYYYYMMDDHHMMSS" (UTC build
#                                time; ".dirty..." when the version has a "+")
#
# N and C grow with every commit, so two commits of one day are ordered
# (the earlier 0.0~gitYYYYMMDD.SHA ordered them by hash); a dirty build is
# newer than its clean commit and older than the next commit, and a later
# dirty build is newer than an earlier one. 0.0+git... is newer than every
# 0.0~git... version, so installed packages of the earlier scheme upgrade.
# VERSION_BUILD_TIME (seconds since the epoch) replaces the build time,
# for reproducible builds and for scripts/deb-version-test.sh.
set -euo pipefail
dir=${1:-"$(dirname "$0")/.."}
cd "$dir"
if d=$(git describe --tags --long --match 'v[0-9]*' 2>/dev/null); then
	# v1.2.3-4-gabcdef0
	n=${d%-g*}; n=${n##*-}
	tag=${d%-*-g*}; tag=${tag#v}
	sha=${d##*-g}
	if [ "$n" = 0 ]; then v=$tag; else v="$tag+git$n.$sha"; fi
else
	v="0.0+git$(git rev-list --count HEAD).$(git rev-parse --short=7 HEAD)"
fi
git update-index -q --refresh >/dev/null 2>&1 || true
if ! git diff-index --quiet HEAD -- 2>/dev/null; then
	stamp=$(date -u -d "@${VERSION_BUILD_TIME:-$(date +%s)}" +%Y%m%d%H%M%S)
	case $v in
	*+*) v="$v.dirty$stamp" ;;
	*) v="$v+dirty$stamp" ;;
	esac
fi
echo "$v"
