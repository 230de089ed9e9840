#!/bin/sh
# Installs the Debian packages that the build and tests need, only when one is missing.
# Needs root (or sudo) the first time on a fresh machine; a no-op afterwards.
set -e
pkgs="libarchive-dev libxxhash-dev libjansson-dev libpcre2-dev libutf8proc-dev libopenblas-dev
      mandoc python3-jieba gnuplot-nox zstd xz-utils zip unzip python3-venv python3-pip
      xxhash jq"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
