#!/usr/bin/env bash
# packaging/copyright lists the licence of every Go module compiled into
# the shipped binaries (go version -m), in the machine-readable format of
# Debian (DEP-5): one Files paragraph per module, then the licence texts.
#
#   scripts/copyright.sh generate [BIN]   print packaging/copyright from the
#                                         binaries in BIN (default bin) and
#                                         the licence files in the module cache
#   scripts/copyright.sh check [BIN]      fail, naming them, when a module of
#                                         the binaries has no paragraph in
#                                         packaging/copyright (make package
#                                         runs this)
#
# A licence it cannot classify stops generate: add its text to the cases.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
bin=${2:-bin}
binaries=("$bin/vpoller-proxy" "$bin/vpoller-worker" "$bin/vpoller-client" "$bin/zabbix-agent2-plugin-vpoller")

# modules prints "PATH VERSION" of every module compiled in (a replacement's
# target where one is given).
modules() {
	go version -m "${binaries[@]}" | awk '
		$1 == "dep" { path = $2; ver = $3; mods[path] = ver }
		$1 == "=>"  { delete mods[path]; mods[$2] = $3 }
		END { for (m in mods) print m, mods[m] }' | sort -u
}

if [ "$mode" = check ]; then
	missing=()
	while read -r path _; do
		grep -qxF "Files: $path/*" packaging/copyright || missing+=("$path")
	done < <(modules)
	if [ ${#missing[@]} -gt 0 ]; then
		echo "packaging/copyright has no paragraph for: ${missing[*]}" >&2
		echo "regenerate it: scripts/copyright.sh generate > packaging/copyright.new && mv packaging/copyright.new packaging/copyright" >&2
		exit 1
	fi
	exit 0
fi
[ "$mode" = generate ] || { echo "usage: $0 generate|check [BIN]" >&2; exit 2; }

modcache=$(go env GOMODCACHE)
# escape: the module cache writes upper-case letters as !lower-case.
escape() { sed 's/[A-Z]/!\L&/g' <<<"$1"; }

# classify FILE: the SPDX names of the licence texts in FILE, joined by
# " and " when it holds several (gopkg.in/yaml.v3: MIT and Apache-2.0).
classify() {
	local t found=()
	t=$(tr -s '[:space:]' ' ' <"$1")
	case $t in *"Apache License"*"Version 2.0"*) found+=(Apache-2.0) ;; esac
	case $t in *"Mozilla Public License"*"2.0"*) found+=(MPL-2.0) ;; esac
	case $t in *"Permission is hereby granted, free of charge"*) found+=(MIT) ;; esac
	case $t in *"Permission to use, copy, modify, and"*"distribute this software for any"*) found+=(ISC) ;; esac
	case $t in
	*"Neither the name"*|*"names of its contributors may be used"*) found+=(BSD-3-Clause) ;;
	*"Redistributions of source code must retain"*) found+=(BSD-2-Clause) ;;
	esac
	[ ${#found[@]} -gt 0 ] || return 1
	local IFS=' '
	echo "${found[*]}" | sed 's/ / and /g'
}

cat <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: vPoller for Zabbix
Source: https://github.com/vpoller/zabbix-vpoller
Comment: The binaries are statically linked Go programs: besides the code
 of this project (Files: *) they contain the Go modules below, each in
 the paragraph of its import path. scripts/copyright.sh generates the
 module paragraphs from `go version -m` of the binaries, and `make
 package` fails when a module is missing here.

Files: *
Copyright: 2026 the vPoller for Zabbix authors
License: BSD-2-Clause
Comment: A Go implementation of vPoller (py-vpoller, BSD-2-Clause, Marin
 Atanasov Nikolov); no code of it is included.

Files: golang.org/toolchain/*
Copyright: 2009 The Go Authors
License: BSD-3-Clause
Comment: The Go standard library and runtime, compiled into every binary.
EOF

used=" BSD-2-Clause BSD-3-Clause "
while read -r path ver; do
	dir="$modcache/$(escape "$path")@$(escape "$ver")"
	[ -d "$dir" ] || go mod download "$path@$ver" >/dev/null 2>&1 || true
	lic=""
	for f in "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING* "$dir"/license*; do
		[ -f "$f" ] && { lic=$f; break; }
	done
	[ -n "$lic" ] || { echo "copyright.sh: no licence file for $path@$ver in $dir" >&2; exit 1; }
	spdx=$(classify "$lic") || { echo "copyright.sh: unknown licence in $lic" >&2; exit 1; }
	for l in ${spdx// and / }; do
		case $used in *" $l "*) ;; *) used="$used$l " ;; esac
	done
	holders=$(grep -hiE '^[[:space:]]*copyright[[:space:]]+(\(c\)|©|[0-9])' "$lic" | grep -viE 'notice|\[yyyy\]|\{yyyy\}' |
		sed -E 's/^[[:space:]]*[Cc]opyright[[:space:]]+(\([cC]\)[[:space:]]*|©[[:space:]]*)?//; s/[[:space:]]+$//; s/\.$//' | sort -u | head -5 || true)
	[ -n "$holders" ] || holders="the authors of $path"
	echo
	echo "Files: $path/*"
	echo "Copyright: $(sed '2,$s/^/ /' <<<"$holders")"
	echo "License: $spdx"
done < <(modules)

text() { # the licence paragraphs
	case $1 in
	Apache-2.0) cat <<'EOF'
License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the "License"); you may
 not use this file except in compliance with the License. You may obtain
 a copy of the License at https://www.apache.org/licenses/LICENSE-2.0
 .
 Unless required by applicable law or agreed to in writing, software
 distributed under the License is distributed on an "AS IS" BASIS,
 WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 See the License for the specific language governing permissions and
 limitations under the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0
 is in /usr/share/common-licenses/Apache-2.0.
EOF
	;;
	MPL-2.0) cat <<'EOF'
License: MPL-2.0
 This Source Code Form is subject to the terms of the Mozilla Public
 License, v. 2.0. If a copy of the MPL was not distributed with this
 file, You can obtain one at https://mozilla.org/MPL/2.0/.
 .
 On Debian systems, the complete text of the Mozilla Public License,
 Version 2.0 is in /usr/share/common-licenses/MPL-2.0.
EOF
	;;
	MIT) cat <<'EOF'
License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a
 copy of this software and associated documentation files (the
 "Software"), to deal in the Software without restriction, including
 without limitation the rights to use, copy, modify, merge, publish,
 distribute, sublicense, and/or sell copies of the Software, and to
 permit persons to whom the Software is furnished to do so, subject to
 the following conditions:
 .
 The above copyright notice and this permission notice shall be included
 in all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
 OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
 MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
 IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY
 CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT,
 TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
 SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
EOF
	;;
	ISC) cat <<'EOF'
License: ISC
 Permission to use, copy, modify, and/or distribute this software for any
 purpose with or without fee is hereby granted, provided that the above
 copyright notice and this permission notice appear in all copies.
 .
 THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
EOF
	;;
	BSD-2-Clause|BSD-3-Clause) cat <<EOF
License: $1
 Redistribution and use in source and binary forms, with or without
 modification, are permitted provided that the following conditions are
 met:
 .
 1. Redistributions of source code must retain the above copyright notice,
    this list of conditions and the following disclaimer.
 2. Redistributions in binary form must reproduce the above copyright
    notice, this list of conditions and the following disclaimer in the
    documentation and/or other materials provided with the distribution.
EOF
		[ "$1" = BSD-3-Clause ] && cat <<'EOF'
 3. Neither the name of the copyright holder nor the names of its
    contributors may be used to endorse or promote products derived from
    this software without specific prior written permission.
EOF
		cat <<'EOF'
 .
 THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS
 IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO,
 THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR
 PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR
 CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL,
 EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO,
 PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR
 PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF
 LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING
 NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
 SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
EOF
	;;
	esac
}
for l in $used; do
	echo
	text "$l"
done
