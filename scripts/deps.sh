#!/bin/sh
# Installs the Debian 12 packages quanta needs to build and test, if any is
# missing. As root it uses apt-get; otherwise it prints the command to run.
# Extra package names may be given as arguments (e.g. dataset-fashion-mnist).
set -u
need="gcc make pkg-config libcjson-dev zlib1g-dev check $*"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $missing >/dev/null && exit 0
    echo "deps: apt-get failed; install these packages:$missing" >&2
    exit 1
fi
echo "deps: missing packages:$missing" >&2
echo "deps: run as root: apt-get install$missing" >&2
exit 1
