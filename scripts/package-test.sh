#!/usr/bin/env bash
# The packages end to end, as root on a Debian machine without systemd as
# PID 1 (CI), from the .debs and .rpms of `make package` in dist/:
#
#  1. versions: scripts/deb-version-test.sh (every commit, dirty build and
#     tag orders after the one before, for dpkg and rpm);
#  2. lintian on the .debs: no error and no warning;
#  3. rpms: contents, config and owner flags, dependencies, scriptlets;
#     installed into a scratch --root (--noscripts: their useradd and
#     systemctl would act on this machine, not the root), upgraded to a
#     rebuilt higher version, erased: nothing of them left. The scriptlets
#     are run apart, with sh, in a mount namespace whose /run says "systemd
#     runs", against stubs of systemctl, useradd, userdel... that log their
#     arguments;
#  4. deb life cycle: apt-get install (the postinst enables the units with
#     deb-systemd-helper and starts the daemons through the init scripts),
#     the init scripts' status/stop/start/restart/reload, a by-hand start as
#     user vpoller as the README documents, an upgrade to a rebuilt higher
#     version while the daemons run (they must be restarted: new PID, new
#     binary, no "(deleted)"), then purge with the daemons and another
#     process of vpoller running: nothing left (files, /etc/vpoller,
#     /var/log/vpoller, /run/vpoller, rc.d and systemd links, user, group);
#  5. apt-get install again (policy-rc.d: no start), the agent tests and
#     the e2e on real Zabbix servers against the installed files, purge.
#
# PACKAGE_TEST_LIFECYCLE_ONLY=1 stops after 4, PACKAGE_TEST_NO_INSTALL=1
# after 3, PACKAGE_TEST_SKIP_RELOAD=1 leaves out the init scripts' reload
# (SIGHUP; for daemons that do not reload on it yet). All for work on the
# packaging; CI runs everything.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
T0=$(date +%s)
say() { echo "[package-test $(($(date +%s) - T0))s] $*"; }
fail() { echo "package-test: FAIL: $*" >&2; exit 1; }
shopt -s nullglob
debs=(dist/vpoller_*.deb dist/zabbix-agent2-plugin-vpoller_*.deb)
rpms=(dist/vpoller-[0-9]*.rpm dist/zabbix-agent2-plugin-vpoller-[0-9]*.rpm)
[ ${#debs[@]} = 2 ] || fail "want exactly two .debs in dist/ (make package), found: ${debs[*]}"
[ ${#rpms[@]} = 2 ] || fail "want exactly two .rpms in dist/ (make package), found: ${rpms[*]}"
[ "$(id -u)" = 0 ] || fail "needs root (apt-get install)"
command -v rpm >/dev/null || fail "rpm is not installed (scripts/install-test-deps.sh installs it)"
version=$(dpkg-deb -f "${debs[0]}" Version)
tmp=$(mktemp -d /tmp/package-test.XXXXXX)
chmod 0755 "$tmp"
handpids=()

installed=0 policy_saved=0
# policy ARG: /usr/sbin/policy-rc.d for the steps below. "vpoller" lets
# invoke-rc.d start, stop and restart vpoller-proxy and vpoller-worker only
# (the postinst's starts and restarts are under test; every other package's
# stay forbidden, as Docker images' own policy-rc.d does); "none" forbids
# all. The machine's own policy-rc.d is kept aside and put back by cleanup.
policy() {
	if [ "$policy_saved" = 0 ]; then
		if [ -e /usr/sbin/policy-rc.d ]; then mv /usr/sbin/policy-rc.d "$tmp/policy-rc.d.saved"; fi
		policy_saved=1
	fi
	case $1 in
	vpoller) printf '#!/bin/sh\n# package-test.sh\ncase "$1" in vpoller-proxy|vpoller-worker) exit 0 ;; esac\nexit 101\n' >/usr/sbin/policy-rc.d ;;
	none) printf '#!/bin/sh\n# package-test.sh\nexit 101\n' >/usr/sbin/policy-rc.d ;;
	esac
	chmod 0755 /usr/sbin/policy-rc.d
}
restore_policy() {
	[ "$policy_saved" = 1 ] || return 0
	rm -f /usr/sbin/policy-rc.d
	if [ -e "$tmp/policy-rc.d.saved" ]; then mv "$tmp/policy-rc.d.saved" /usr/sbin/policy-rc.d; fi
	policy_saved=0
}
purge() {
	for p in "${handpids[@]}"; do kill "$p" 2>/dev/null || true; done
	apt-get purge -y -q -o DPkg::Lock::Timeout=600 vpoller zabbix-agent2-plugin-vpoller >/dev/null 2>&1 || true
}
# cleanup purges only what this run installed, puts the policy-rc.d back.
cleanup() {
	[ "$installed" = 1 ] && purge
	restore_policy
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for WHAT SECONDS CMD...: run CMD until it succeeds, at most
# SECONDS; says what did not happen and returns 1 after that.
wait_for() {
	local what=$1 secs=$2 i=0
	shift 2
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt $((secs * 10)) ]; then
			echo "package-test: $what: not after ${secs}s ($*)" >&2
			return 1
		fi
		sleep 0.1
	done
}
pidfile_pid() { cat "/run/vpoller/$1.pid" 2>/dev/null; }
# exe_ok PID BIN: PID runs the file BIN is now (not a "(deleted)" one).
exe_ok() {
	local exe
	exe=$(readlink "/proc/$1/exe") || fail "no process $1"
	[ "$exe" = "$2" ] || fail "process $1 runs $exe, want $2"
	cmp -s "/proc/$1/exe" "$2" || fail "process $1 runs another $2 than the installed one"
}
# left_behind: everything of the packages still on the machine.
left_behind() {
	local left=() f
	for f in /usr/bin/vpoller-proxy /usr/bin/vpoller-worker /usr/bin/vpoller-client /usr/sbin/zabbix-agent2-plugin/zabbix-agent2-plugin-vpoller \
		/etc/vpoller /etc/init.d/vpoller-proxy /etc/init.d/vpoller-worker /etc/default/vpoller-proxy /etc/logrotate.d/vpoller \
		/etc/zabbix/zabbix_agent2.d/plugins.d/vpoller.conf /lib/systemd/system/vpoller-proxy.service \
		/lib/systemd/system/vpoller-worker.service /lib/systemd/system/zabbix-agent2.service.d/vpoller-restart.conf \
		/usr/share/doc/vpoller /usr/share/doc/zabbix-agent2-plugin-vpoller /usr/share/zabbix-vpoller \
		/usr/share/man/man8/vpoller-proxy.8.gz /usr/share/man/man1/vpoller-client.1.gz \
		/run/vpoller /var/log/vpoller /etc/rc*.d/*vpoller* /etc/systemd/system/*/vpoller-*.service \
		/var/lib/systemd/deb-systemd-helper-enabled/*vpoller* /var/lib/systemd/deb-systemd-helper-enabled/*/vpoller-* \
		/var/lib/systemd/deb-systemd-helper-masked/vpoller-*; do
		{ [ -e "$f" ] || [ -L "$f" ]; } && left+=("$f")
	done
	getent passwd vpoller >/dev/null && left+=("user vpoller")
	getent group vpoller >/dev/null && left+=("group vpoller")
	dpkg-query -W -f='${db:Status-Status}\n' vpoller zabbix-agent2-plugin-vpoller 2>/dev/null | grep -qv "^not-installed$" && left+=("dpkg status")
	echo "${left[*]}"
}

say "1. versions: scripts/deb-version-test.sh (this build: $version)"
bash scripts/deb-version-test.sh >"$tmp/version-test.log" || { cat "$tmp/version-test.log"; fail "deb-version-test"; }

say "2. lintian (errors and warnings fail)"
# Overrides are in packaging/lintian/, each with the reason. A dirty
# build's file name is longer than lintian's limit for archives (its
# version carries the build time); such a build never goes to one.
suppress=()
case $version in *dirty*) suppress=(--suppress-tags package-has-long-file-name) ;; esac
if ! lintian --fail-on error,warning --tag-display-limit 0 "${suppress[@]}" "${debs[@]}" >"$tmp/lintian.log" 2>&1; then
	cat "$tmp/lintian.log"
	fail "lintian"
fi
grep -v "root privileges" "$tmp/lintian.log" || true

# A second build with a higher version, for the upgrades (the rpm in 3, the
# deb in 4): the same tree, PKG_VERSION=$version.1, into $tmp.
say "building $version.1 for the upgrade tests"
make --no-print-directory package PKG_VERSION="$version.1" BIN="$tmp/bin" DIST="$tmp/dist" >"$tmp/build2.log" 2>&1 ||
	{ cat "$tmp/build2.log"; fail "make package PKG_VERSION=$version.1"; }
debs2=("$tmp"/dist/vpoller_*.deb "$tmp"/dist/zabbix-agent2-plugin-vpoller_*.deb)
rpms2=("$tmp"/dist/vpoller-[0-9]*.rpm "$tmp"/dist/zabbix-agent2-plugin-vpoller-[0-9]*.rpm)
[ ${#debs2[@]} = 2 ] && [ ${#rpms2[@]} = 2 ] || fail "second build: ${debs2[*]} ${rpms2[*]}"

say "3. rpms: ${rpms[*]}"
rpm_vpoller=${rpms[0]} rpm_plugin=${rpms[1]}
# Contents: the exact list.
rpm -qpl "$rpm_vpoller" >"$tmp/rpm-vpoller.list"
cat >"$tmp/rpm-vpoller.want" <<'EOF'
/etc/logrotate.d/vpoller
/etc/vpoller
/etc/vpoller/vpoller.conf
/etc/vpoller/vsphere.d
/usr/bin/vpoller-client
/usr/bin/vpoller-proxy
/usr/bin/vpoller-worker
/usr/lib/systemd/system/vpoller-proxy.service
/usr/lib/systemd/system/vpoller-worker.service
/usr/share/doc/vpoller
/usr/share/doc/vpoller/README.md
/usr/share/doc/vpoller/copyright
/usr/share/doc/vpoller/docs
EOF
for f in docs/*.md; do echo "/usr/share/doc/vpoller/docs/${f#docs/}"; done >>"$tmp/rpm-vpoller.want"
cat >>"$tmp/rpm-vpoller.want" <<'EOF'
/usr/share/doc/vpoller/examples
/usr/share/doc/vpoller/examples/vcenter.example.org.conf.example
/usr/share/man/man1/vpoller-client.1.gz
/usr/share/man/man8/vpoller-proxy.8.gz
/usr/share/man/man8/vpoller-worker.8.gz
/var/log/vpoller
EOF
rpm -qpl "$rpm_plugin" >"$tmp/rpm-plugin.list"
{
	cat <<'EOF'
/etc/zabbix/zabbix_agent2.d/plugins.d/vpoller.conf
/usr/lib/systemd/system/zabbix-agent2.service.d
/usr/lib/systemd/system/zabbix-agent2.service.d/vpoller-restart.conf
/usr/sbin/zabbix-agent2-plugin
/usr/sbin/zabbix-agent2-plugin/zabbix-agent2-plugin-vpoller
/usr/share/doc/zabbix-agent2-plugin-vpoller
/usr/share/doc/zabbix-agent2-plugin-vpoller/broker.md
/usr/share/doc/zabbix-agent2-plugin-vpoller/copyright
/usr/share/doc/zabbix-agent2-plugin-vpoller/methods.md
/usr/share/doc/zabbix-agent2-plugin-vpoller/plugin.md
/usr/share/doc/zabbix-agent2-plugin-vpoller/templates.md
/usr/share/doc/zabbix-agent2-plugin-vpoller/vsphere.md
/usr/share/man/man8/zabbix-agent2-plugin-vpoller.8.gz
/usr/share/zabbix-vpoller
/usr/share/zabbix-vpoller/templates
EOF
	for f in templates/vpoller_*.yaml; do echo "/usr/share/zabbix-vpoller/templates/${f#templates/}"; done
} >"$tmp/rpm-plugin.want"
for p in vpoller plugin; do
	sort -o "$tmp/rpm-$p.want" "$tmp/rpm-$p.want"
	sort -o "$tmp/rpm-$p.list" "$tmp/rpm-$p.list"
	diff -u "$tmp/rpm-$p.want" "$tmp/rpm-$p.list" || fail "rpm $p: contents differ from the expected list (- expected, + in the rpm)"
done
# Flags: config noreplace, owner and mode of the vCenter directory.
rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEMODES:perms}\n]' "$rpm_vpoller" "$rpm_plugin" >"$tmp/rpm-flags"
for want in "/etc/vpoller/vpoller.conf cn root:root -rw-r--r--" \
	"/etc/logrotate.d/vpoller cn root:root -rw-r--r--" \
	"/etc/vpoller/vsphere.d  vpoller:vpoller drwx------" \
	"/var/log/vpoller  vpoller:vpoller drwxr-x---" \
	"/usr/bin/vpoller-proxy  root:root -rwxr-xr-x" \
	"/etc/zabbix/zabbix_agent2.d/plugins.d/vpoller.conf cn root:root -rw-r--r--"; do
	grep -qxF "$want" "$tmp/rpm-flags" || { grep -F "${want%% *} " "$tmp/rpm-flags" >&2 || true; fail "rpm: no line \"$want\" in the file flags"; }
done
# Dependencies and version.
rpm -qpR "$rpm_vpoller" | grep -qx "shadow-utils" || fail "rpm vpoller does not require shadow-utils"
rpm -qpR "$rpm_plugin" | grep -qx "zabbix-agent2 >= 6.0" || fail "rpm plugin does not require zabbix-agent2 >= 6.0"
[ "$(rpm -qp --qf '%{VERSION}' "$rpm_vpoller")" = "$version" ] || fail "rpm version $(rpm -qp --qf '%{VERSION}' "$rpm_vpoller"), deb version $version"
[ "$(rpm --eval "%{lua: print(rpm.vercmp(\"$(rpm -qp --qf '%{VERSION}' "${rpms2[0]}")\", \"$version\"))}")" = 1 ] || fail "rpm does not order $version.1 after $version"
# Scriptlets: present...
rpm -qp --scripts "$rpm_vpoller" >"$tmp/rpm-scripts"
for want in "preinstall scriptlet" "useradd --system --gid vpoller" "postinstall scriptlet" "systemctl try-restart vpoller-proxy.service vpoller-worker.service" \
	"preuninstall scriptlet" "disable --now vpoller-worker.service vpoller-proxy.service" "postuninstall scriptlet" "userdel vpoller"; do
	grep -qF -- "$want" "$tmp/rpm-scripts" || fail "rpm vpoller scriptlets lack \"$want\""
done
rpm -qp --scripts "$rpm_plugin" | grep -qF "systemctl try-restart zabbix-agent2.service" || fail "rpm plugin scriptlets do not restart the agent"
# ... and doing the right thing for each $1, with systemd "running" (a
# private /run with /run/systemd/system; /var/lib/zabbix private too) and
# stubs logging their calls.
mkdir -p "$tmp/stub"
for c in systemctl useradd groupadd userdel groupdel; do
	printf '#!/bin/sh\necho "%s $*" >>"$STUB_LOG"\n' "$c" >"$tmp/stub/$c"
done
# getent: the user and group exist when STUB_USER=1; id: uid 4242 (no process has it).
printf '#!/bin/sh\n[ "${STUB_USER:-0}" = 1 ]\n' >"$tmp/stub/getent"
printf '#!/bin/sh\n[ "${STUB_USER:-0}" = 1 ] && echo 4242\n' >"$tmp/stub/id"
chmod +x "$tmp/stub"/*
# scriptlet PKG TAG ARG USER: run the rpm's scriptlet TAG with $1 = ARG, print the stub calls.
scriptlet() {
	local rpmf=$1 tag=$2 arg=$3 user=$4
	rpm -qp --qf "%{$tag}" "$rpmf" >"$tmp/scriptlet"
	: >"$tmp/stub.log"
	STUB_LOG=$tmp/stub.log STUB_USER=$user PATH="$tmp/stub:$PATH" unshare -m --propagation private \
		sh -c 'mount -t tmpfs none /run && mkdir -p /run/systemd/system &&
			{ [ ! -d /var/lib/zabbix ] || mount -t tmpfs none /var/lib/zabbix; } && sh "$1" "$2"' sh "$tmp/scriptlet" "$arg" ||
		fail "rpm scriptlet $tag $arg exited $?"
	tr '\n' ';' <"$tmp/stub.log"
}
check_scriptlet() { # RPM TAG ARG USER WANT
	local got
	got=$(scriptlet "$1" "$2" "$3" "$4")
	[ "$got" = "$5" ] || fail "rpm $(basename "$1") %$2 \$1=$3: calls \"$got\", want \"$5\""
}
check_scriptlet "$rpm_vpoller" PREIN 1 0 "groupadd --system vpoller;useradd --system --gid vpoller --home-dir /nonexistent --no-create-home --shell /sbin/nologin --comment vPoller daemons vpoller;"
check_scriptlet "$rpm_vpoller" PREIN 2 1 ""
check_scriptlet "$rpm_vpoller" POSTIN 1 1 "systemctl daemon-reload;systemctl --no-reload preset vpoller-proxy.service vpoller-worker.service;"
check_scriptlet "$rpm_vpoller" POSTIN 2 1 "systemctl daemon-reload;systemctl try-restart vpoller-proxy.service vpoller-worker.service;"
check_scriptlet "$rpm_vpoller" PREUN 0 1 "systemctl --no-reload disable --now vpoller-worker.service vpoller-proxy.service;"
check_scriptlet "$rpm_vpoller" PREUN 1 1 ""
check_scriptlet "$rpm_vpoller" POSTUN 0 1 "systemctl daemon-reload;userdel vpoller;groupdel vpoller;"
check_scriptlet "$rpm_vpoller" POSTUN 1 1 "systemctl daemon-reload;"
check_scriptlet "$rpm_plugin" POSTIN 1 0 "systemctl daemon-reload;systemctl try-restart zabbix-agent2.service;"
check_scriptlet "$rpm_plugin" POSTUN 0 0 "systemctl daemon-reload;systemctl try-restart zabbix-agent2.service;"
check_scriptlet "$rpm_plugin" POSTUN 1 0 ""
# Install into a scratch root, upgrade, erase.
root=$tmp/rpmroot
mkdir -p "$root"
# Debian's rpm keeps its database in ~/.rpmdb; the RHEL family's is /var/lib/rpm.
rpmr() { rpm --root "$root" --dbpath /var/lib/rpm "$@" 2> >(grep -v "use Alien instead\|assuming you know what you are doing" >&2); }
rpmr --initdb
find "$root" -mindepth 1 | sort >"$tmp/root-empty"
rpmr -i --nodeps --noscripts "${rpms[@]}" 2>"$tmp/rpm-i.log" || { cat "$tmp/rpm-i.log"; fail "rpm -i into $root"; }
grep -v "user vpoller does not exist\|group vpoller does not exist" "$tmp/rpm-i.log" >&2 || true
for f in $(cat "$tmp/rpm-vpoller.list" "$tmp/rpm-plugin.list"); do
	[ -e "$root$f" ] || fail "rpm -i: $f not in $root"
done
cmp -s "$root/usr/bin/vpoller-worker" bin/vpoller-worker || fail "rpm -i: $root/usr/bin/vpoller-worker is not bin/vpoller-worker"
[ "$(rpmr -q --qf '%{VERSION}\n' vpoller zabbix-agent2-plugin-vpoller | sort -u)" = "$version" ] || fail "rpm -q in $root"
rpmr -U --nodeps --noscripts "${rpms2[@]}" 2>/dev/null || fail "rpm -U to $version.1 in $root"
[ "$(rpmr -q --qf '%{VERSION}\n' vpoller zabbix-agent2-plugin-vpoller | sort -u)" = "$version.1" ] || fail "rpm -U did not upgrade to $version.1"
rpmr -e --nodeps --noscripts vpoller zabbix-agent2-plugin-vpoller || fail "rpm -e in $root"
rpmr -qa | grep -q vpoller && fail "rpm -e: still in the rpm database of $root"
for f in $(cat "$tmp/rpm-vpoller.list" "$tmp/rpm-plugin.list"); do
	[ -e "$root$f" ] && fail "rpm -e left $f in $root"
done
# Nothing else but the parent directories rpm made (/usr, /etc/zabbix, ...).
(cd "$root" && find . -mindepth 1 -not -type d | sed 's|^\.||' | grep -v '^/var/lib/rpm' || true) >"$tmp/root-files"
[ -s "$tmp/root-files" ] && fail "rpm -e left files in $root: $(tr '\n' ' ' <"$tmp/root-files")"
say "rpm: contents, flags, scriptlets, scratch-root install, upgrade and erase ok"

if [ "${PACKAGE_TEST_NO_INSTALL:-0}" = 1 ]; then
	say "PACKAGE_TEST_NO_INSTALL=1: stop before installing anything on this machine"
	exit 0
fi

say "4. deb life cycle: apt-get install ${debs[*]}"
dpkg-query -W -f='${db:Status-Status}\n' vpoller zabbix-agent2-plugin-vpoller 2>/dev/null | grep -qv "^not-installed$" &&
	fail "vpoller or zabbix-agent2-plugin-vpoller is installed already: purge them first"
installed=1
policy vpoller
apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${debs[@]/#/./}" >"$tmp/apt.log" 2>&1 ||
	{ cat "$tmp/apt.log"; fail "apt-get install"; }
for f in /usr/bin/vpoller-proxy /usr/bin/vpoller-worker /usr/bin/vpoller-client \
	/usr/sbin/zabbix-agent2-plugin/zabbix-agent2-plugin-vpoller /etc/vpoller/vpoller.conf \
	/etc/zabbix/zabbix_agent2.d/plugins.d/vpoller.conf /lib/systemd/system/vpoller-proxy.service \
	/lib/systemd/system/vpoller-worker.service /etc/init.d/vpoller-proxy /etc/init.d/vpoller-worker \
	/usr/share/man/man8/vpoller-proxy.8.gz /usr/share/man/man8/vpoller-worker.8.gz /usr/share/man/man1/vpoller-client.1.gz \
	/usr/share/man/man8/zabbix-agent2-plugin-vpoller.8.gz /usr/share/zabbix-vpoller/templates/vpoller_vm.yaml \
	/usr/share/doc/vpoller/docs/plugin.md /lib/systemd/system/zabbix-agent2.service.d/vpoller-restart.conf \
	/etc/logrotate.d/vpoller; do
	[ -e "$f" ] || fail "$f not installed"
done
id vpoller >/dev/null || fail "no vpoller user"
[ "$(stat -c '%U %a' /etc/vpoller/vsphere.d)" = "vpoller 700" ] || fail "/etc/vpoller/vsphere.d is $(stat -c '%U %a' /etc/vpoller/vsphere.d)"
[ "$(stat -c '%U %a' /var/log/vpoller)" = "vpoller 750" ] || fail "/var/log/vpoller is $(stat -c '%U %a' /var/log/vpoller)"
# Relative links of the installed docs resolve (README -> docs/*.md, plugin.md -> methods.md ...).
for md in /usr/share/doc/vpoller/README.md /usr/share/doc/vpoller/docs/*.md /usr/share/doc/zabbix-agent2-plugin-vpoller/*.md; do
	for l in $(grep -o '](\([^)#:]*\)\(#[^)]*\)\?)' "$md" | sed 's/^](\([^)#]*\).*/\1/' | sort -u); do
		[ -e "$(dirname "$md")/$l" ] || fail "$md links $l, which no package installs"
	done
done
# Every item key of the plugin is in the package description and the agent configuration's header.
keys=$(/usr/sbin/zabbix-agent2-plugin/zabbix-agent2-plugin-vpoller -h | sed -n 's/^  \(vpoller\.[a-z]*\) .*/\1/p')
[ "$(echo "$keys" | wc -w)" -ge 5 ] || fail "the plugin's -h lists the keys \"$keys\""
for k in $keys; do
	dpkg-query -W -f='${Description}' zabbix-agent2-plugin-vpoller | grep -q "$k" || fail "the plugin package's description lacks $k"
	dpkg-query -W -f='${Description}' vpoller | grep -q "$k" || fail "the vpoller package's description lacks $k"
	sed -n '1,/^### Option/p' /etc/zabbix/zabbix_agent2.d/plugins.d/vpoller.conf | grep -q "$k" || fail "the header of plugins.d/vpoller.conf lacks $k"
done
# The installed man pages name every flag the binaries' -h mention.
for b in /usr/bin/vpoller-proxy:8 /usr/bin/vpoller-worker:8 /usr/bin/vpoller-client:1 /usr/sbin/zabbix-agent2-plugin/zabbix-agent2-plugin-vpoller:8; do
	bin=${b%:*} page=/usr/share/man/man${b##*:}/$(basename "${b%:*}").${b##*:}.gz
	tagged=$(zcat "$page" | sed -n '/^\.TP$/{n;p}' | sed 's/\\f[BIR]//g; s/\\-/-/g')
	for f in $("$bin" -h 2>&1 | grep -oE '(^|[][ |,(])--?[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*' | sed 's/^[][ |,(]//' | sort -u); do
		# Go's flag package takes -x and --x alike (--version documented as -version).
		alt=$f
		case $f in --*) alt="--?${f#--}" ;; esac
		echo "$tagged" | grep -qE -- "(^|[ ,])$alt([ ,]|$)" || fail "$page has no entry for $f ($bin -h mentions it)"
	done
	man -l "$page" >/dev/null 2>&1 || fail "man -l $page"
done

say "4a. the postinst enabled the units and started the daemons through the init scripts"
for u in vpoller-proxy vpoller-worker; do
	[ -L "/etc/systemd/system/multi-user.target.wants/$u.service" ] || fail "$u.service not enabled (no multi-user.target.wants link)"
	ls /etc/rc2.d/S*"$u" >/dev/null 2>&1 || fail "$u: no /etc/rc2.d link (update-rc.d)"
	wait_for "$u started by the postinst" 10 /etc/init.d/$u status || fail "see above"
	pid=$(pidfile_pid $u)
	[ "$(stat -c %U "/proc/$pid")" = vpoller ] || fail "$u runs as $(stat -c %U "/proc/$pid"), want vpoller"
	exe_ok "$pid" /usr/bin/$u
done
[ "$(stat -c '%U %a' /run/vpoller)" = "vpoller 750" ] || fail "/run/vpoller is $(stat -c '%U %a' /run/vpoller)"
wait_for "proxy status over /run/vpoller/proxy-mgmt.sock" 10 vpoller-proxy status || fail "see above"
wait_for "worker status over /run/vpoller/worker-mgmt.sock" 10 vpoller-worker status || fail "see above"

say "4b. init scripts: stop, status, start, restart, reload"
for u in vpoller-worker vpoller-proxy; do
	pid=$(pidfile_pid $u)
	/etc/init.d/$u stop >/dev/null || fail "$u stop"
	[ -e "/proc/$pid" ] && fail "$u stop: process $pid still there"
	rc=0; /etc/init.d/$u status >/dev/null || rc=$?
	[ $rc = 3 ] || fail "$u status after stop exited $rc, want 3 (not running)"
	/etc/init.d/$u stop >/dev/null || fail "$u stop when stopped must succeed"
done
for u in vpoller-proxy vpoller-worker; do
	/etc/init.d/$u start >/dev/null || fail "$u start"
	/etc/init.d/$u status >/dev/null || fail "$u status after start"
	pid=$(pidfile_pid $u)
	/etc/init.d/$u start >/dev/null || fail "$u start when running must succeed"
	[ "$(pidfile_pid $u)" = "$pid" ] || fail "$u start when running started another"
	/etc/init.d/$u restart >/dev/null || fail "$u restart"
	pid2=$(pidfile_pid $u)
	[ "$pid2" != "$pid" ] && [ ! -e "/proc/$pid" ] && [ -e "/proc/$pid2" ] || fail "$u restart: pid $pid -> $pid2"
	wait_for "$u status after the restart" 10 $u status || fail "see above"
	if [ "${PACKAGE_TEST_SKIP_RELOAD:-0}" = 1 ]; then
		echo "package-test: PACKAGE_TEST_SKIP_RELOAD=1: $u reload not tested" >&2
		continue
	fi
	/etc/init.d/$u reload >/dev/null || fail "$u reload"
	# The management socket answers after the SIGHUP was handled: the same process.
	wait_for "$u status after reload" 5 $u status || fail "$u reload (SIGHUP) ended the daemon"
	[ "$(pidfile_pid $u)" = "$pid2" ] && [ -e "/proc/$pid2" ] || fail "$u reload (SIGHUP) ended the daemon (pid $pid2)"
done
grep -q . /var/log/vpoller/vpoller-proxy.log || fail "/var/log/vpoller/vpoller-proxy.log is empty: the init script's --output"

say "4c. a by-hand start as user vpoller (README: no systemd, no init script)"
for u in vpoller-worker vpoller-proxy; do /etc/init.d/$u stop >/dev/null; done
rm -rf /run/vpoller
install -m 0600 -o vpoller -g vpoller conf/vsphere.d/vcsim.local.conf /etc/vpoller/vsphere.d/vcsim.local.conf
# As the README says:
install -d -o vpoller -g vpoller -m 0750 /run/vpoller
setsid runuser -u vpoller -- vpoller-proxy -f /etc/vpoller/vpoller.conf start >"$tmp/proxy.log" 2>&1 &
handpids+=($!)
setsid runuser -u vpoller -- vpoller-worker -f /etc/vpoller/vpoller.conf start >"$tmp/worker.log" 2>&1 &
handpids+=($!)
wait_for "by-hand proxy status" 10 vpoller-proxy status || { cat "$tmp/proxy.log"; fail "by-hand proxy"; }
wait_for "by-hand worker status" 10 vpoller-worker status || { cat "$tmp/worker.log"; fail "by-hand worker"; }
about() { vpoller-client -m about -V vcsim.local -t 2000 -r 1 | grep -q '"success": *0'; }
wait_for "vpoller-client -m about -V vcsim.local through the by-hand daemons" 30 about ||
	{ cat "$tmp/proxy.log" "$tmp/worker.log"; fail "by-hand chain"; }
vpoller-worker stop >/dev/null || fail "vpoller-worker stop"
vpoller-proxy stop >/dev/null || fail "vpoller-proxy stop"
for p in "${handpids[@]}"; do wait "$p" || true; done
handpids=()
pgrep -u vpoller >/dev/null && fail "processes of vpoller left after the by-hand stop: $(pgrep -u vpoller -a)"

say "4d. upgrade to $version.1 while the init scripts' daemons run"
for u in vpoller-proxy vpoller-worker; do /etc/init.d/$u start >/dev/null || fail "$u start"; done
old_proxy=$(pidfile_pid vpoller-proxy) old_worker=$(pidfile_pid vpoller-worker)
echo "# an admin's change" >>/etc/vpoller/vpoller.conf
apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${debs2[@]}" >"$tmp/apt2.log" 2>&1 ||
	{ cat "$tmp/apt2.log"; fail "apt-get install $version.1"; }
[ "$(dpkg-query -W -f='${Version}' vpoller)" = "$version.1" ] || fail "vpoller is $(dpkg-query -W -f='${Version}' vpoller) after the upgrade"
for u in vpoller-proxy vpoller-worker; do
	old=$old_proxy; [ $u = vpoller-worker ] && old=$old_worker
	wait_for "$u running after the upgrade" 10 /etc/init.d/$u status || fail "see above"
	new=$(pidfile_pid $u)
	[ "$new" != "$old" ] && [ ! -e "/proc/$old" ] || fail "$u was not restarted by the upgrade (pid $old, now $new)"
	exe_ok "$new" /usr/bin/$u
	cmp -s "/proc/$new/exe" "$tmp/bin/$u" || fail "$u: the running binary is not the one of $version.1"
done
grep -q "^# an admin's change" /etc/vpoller/vpoller.conf || fail "the upgrade replaced the changed conffile /etc/vpoller/vpoller.conf"
[ -e /etc/vpoller/vsphere.d/vcsim.local.conf ] || fail "the upgrade removed a vCenter file"
[ -L /etc/systemd/system/multi-user.target.wants/vpoller-proxy.service ] || fail "the upgrade lost the enablement"

say "4e. purge with the daemons running, a link made as systemctl enable does, another process of vpoller"
# The admin disabled the worker through deb-systemd-helper, then enabled
# it with systemctl (a link deb-systemd-helper has not recorded).
DPKG_MAINTSCRIPT_PACKAGE=vpoller deb-systemd-helper disable vpoller-worker.service
[ -L /etc/systemd/system/multi-user.target.wants/vpoller-worker.service ] && fail "deb-systemd-helper disable left the link"
systemctl enable vpoller-worker.service >/dev/null 2>&1 ||
	ln -s /lib/systemd/system/vpoller-worker.service /etc/systemd/system/multi-user.target.wants/vpoller-worker.service
[ -L /etc/systemd/system/multi-user.target.wants/vpoller-worker.service ] || fail "systemctl enable made no link"
setsid runuser -u vpoller -- sleep 600 >/dev/null 2>&1 &
handpids+=($!)
wait_for "a process of vpoller" 5 pgrep -u vpoller -x sleep || fail "see above"
vuid=$(id -u vpoller)
# apt-get purge itself, not purge(): that would end the runuser first.
apt-get purge -y -q -o DPkg::Lock::Timeout=600 vpoller zabbix-agent2-plugin-vpoller >"$tmp/purge.log" 2>&1 ||
	{ cat "$tmp/purge.log"; fail "apt-get purge"; }
grep -q "stopping the processes of the user vpoller" "$tmp/purge.log" || fail "the purge did not say it stopped the processes of vpoller"
left=$(left_behind)
[ -z "$left" ] || fail "left behind after purge: $left"
pgrep -U "$vuid" >/dev/null && fail "processes of the purged user vpoller ($vuid) still run: $(pgrep -a -U "$vuid")"
for p in "${handpids[@]}"; do wait "$p" 2>/dev/null || true; done
handpids=()
restore_policy
say "deb life cycle ok: installed, started, restarted, upgraded, purged; nothing left"

if [ "${PACKAGE_TEST_LIFECYCLE_ONLY:-0}" = 1 ]; then
	say "PACKAGE_TEST_LIFECYCLE_ONLY=1: no agent tests, no e2e"
	exit 0
fi

say "5. apt-get install (policy-rc.d: no start), agent tests and e2e against the installed files"
policy none
installed=1
apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${debs[@]/#/./}" >"$tmp/apt3.log" 2>&1 ||
	{ cat "$tmp/apt3.log"; fail "apt-get install"; }
restore_policy
/etc/init.d/vpoller-proxy status >/dev/null 2>&1 && fail "the postinst started vpoller-proxy although policy-rc.d forbids it"

say "agent tests against the installed plugin, proxy and worker"
VPOLLER_INSTALLED=1 go test -count=1 -timeout 10m ./plugin/integration/

say "e2e against the installed packages"
E2E_INSTALLED=1 bash e2e/run.sh

say "apt-get purge"
purge
left=$(left_behind)
[ -z "$left" ] || fail "left behind after purge: $left"
say "installed, tested and purged: nothing left behind"
