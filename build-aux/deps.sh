#!/bin/sh
# Installs the Debian packages that the build and tests need, only when one is missing.
# Needs root (or sudo) the first time on a fresh machine; a no-op afterwards.
set -e
pkgs="libarchive-dev libxxhash-dev libjansson-dev libpcre2-dev libutf8proc-dev libopenblas-dev
      libopenmpi-dev openmpi-bin
      mandoc python3-jieba gnuplot-nox zstd xz-utils zip unzip python3-venv python3-pip
      xxhash jq clang time"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
# libFuzzer (make fuzz) is in clang's runtime package, only recommended by clang: named by
# clang's major version once clang is there.
rt() {
	v=$(clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1)
	[ -n "$v" ] && ! dpkg-query -W -f='${Status}' "libclang-rt-$v-dev" 2>/dev/null |
		grep -q 'install ok installed' && echo "libclang-rt-$v-dev"
	return 0
}
missing="$missing $(rt)"
[ -z "$(echo $missing)" ] && exit 0
echo "deps: installing$missing"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
missing=$(rt)
[ -z "$missing" ] || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
