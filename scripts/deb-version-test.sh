#!/usr/bin/env bash
# Tests scripts/deb-version.sh (or the script given as $1) on temporary git
# repositories: every commit, dirty build and tag must give a version that
# dpkg and (when installed) rpm order after the one before it. Commits have
# fixed dates, so their hashes, and so this test, are deterministic: with
# the earlier scheme (0.0~gitYYYYMMDD.SHA, commits of one day ordered by
# hash) the ten commits of one day below come out of order and it fails.
# No root needed; about a second.
set -euo pipefail
script=$(realpath "${1:-$(dirname "$0")/deb-version.sh}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
have_rpm=0
command -v rpm >/dev/null && rpm --eval '%{lua: print(rpm.vercmp("1", "2"))}' 2>/dev/null | grep -qx -- -1 && have_rpm=1

export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org
git init -q -b main "$tmp/r"
cd "$tmp/r"
n=0
commit() { # commit with a fixed date: $1 = "YYYY-MM-DD HH:MM:SS"
	n=$((n + 1))
	echo "$n" > file
	git add file
	GIT_AUTHOR_DATE="$1 +0000" GIT_COMMITTER_DATE="$1 +0000" git commit -q -m "commit $n"
}
version() { VERSION_BUILD_TIME=${stamp:-1800000000} bash "$script" "$tmp/r"; }

prev="" prevwhat=""
# next WHAT: the version now must be newer than the one before.
next() {
	local v what=$1
	v=$(version)
	if [ -n "$prev" ]; then
		if ! dpkg --compare-versions "$v" gt "$prev"; then
			echo "FAIL dpkg: $what ($v) is not newer than $prevwhat ($prev)" >&2
			fail=1
		fi
		if [ "$have_rpm" = 1 ] && [ "$(rpm --eval "%{lua: print(rpm.vercmp(\"$v\", \"$prev\"))}")" != 1 ]; then
			echo "FAIL rpm: $what ($v) is not newer than $prevwhat ($prev)" >&2
			fail=1
		fi
	fi
	# Legal for both formats: no '-' (the Debian revision separator,
	# illegal in an rpm Version), nothing but [A-Za-z0-9.+~].
	case $v in *[!A-Za-z0-9.+~]*) echo "FAIL: $what gave $v, characters outside [A-Za-z0-9.+~]" >&2; fail=1 ;; esac
	echo "  $v  $what"
	prev=$v prevwhat=$what
}

# A version of the earlier scheme must upgrade to this one.
commit "2026-12-07 08:00:00"
prev="0.0~git20261207.$(git rev-parse --short=7 HEAD)" prevwhat="the earlier scheme's version of this commit"
next "first commit, no tag"
for h in 09 10 11 12 13 14 15 16 17; do
	commit "2026-12-07 $h:00:00"
	next "commit at $h:00 of the same day"
done
echo dirty >> file
stamp=1800000000 next "uncommitted change"
stamp=1800000060 next "a later build of the uncommitted change"
git checkout -q file
commit "2026-12-08 08:00:00"
next "next day's commit"
git tag v0.1.0
next "tag v0.1.0"
echo dirty >> file
stamp=1800000000 next "uncommitted change on the tag"
git checkout -q file
commit "2026-12-08 09:00:00"
next "commit after the tag"
commit "2026-12-08 09:00:01"
next "second commit after the tag"
echo dirty >> file
stamp=1800000000 next "uncommitted change after the tag"
git checkout -q file
commit "2026-12-08 10:00:00"
git tag v0.1.1
next "tag v0.1.1"
[ "$prev" = 0.1.1 ] || { echo "FAIL: tag v0.1.1 gave $prev, want 0.1.1" >&2; fail=1; }

if [ "$fail" != 0 ]; then
	echo "deb-version-test: FAILED" >&2
	exit 1
fi
echo "deb-version-test: every version newer than the one before (dpkg$([ "$have_rpm" = 1 ] && echo " and rpm"))"
