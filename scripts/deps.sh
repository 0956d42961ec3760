#!/bin/sh
# Installs the Debian 12 packages quanta needs to build and test, if any is
# missing. As root it uses apt-get; otherwise it prints the command to run
# and fails when a required package is missing.
#
# dataset-fashion-mnist (30 MB) gives the demo and the tests the full
# 10,000-image test set. It is required: without it the full-test-set
# checks would be skipped, and a skip is not a pass (tests/README.md).
# libonnx-testdata holds ONNX's backend test data, which the onnx_backend
# suite imports and runs. chromium (headless) loads quanta report's page in
# the cli_report_browser suite.
# Extra package names may be given as arguments; they count as required.
#
# `scripts/deps.sh arm64` (make test-arm64) adds what the AArch64 cross
# build and its test run need: the cross compiler, qemu-user (the tests
# run under qemu-aarch64; no binfmt_misc needed) and the arm64 builds of
# the libraries. Those are Debian multiarch packages (libcjson-dev,
# zlib1g-dev, check are all "Multi-Arch: same", so the :arm64 and :amd64
# ones install side by side); dpkg must first know the architecture
# (dpkg --add-architecture arm64, done here as root).
set -u
arch_pkgs=""
if [ "${1:-}" = arm64 ]; then
    shift
    arch_pkgs="gcc-aarch64-linux-gnu qemu-user libcjson-dev:arm64 zlib1g-dev:arm64 check:arm64"
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        if [ "$(id -u)" = 0 ]; then
            dpkg --add-architecture arm64 || exit 1
        else
            echo "deps: run as root: dpkg --add-architecture arm64" >&2
        fi
    fi
fi
required="gcc binutils make pkg-config libcjson-dev zlib1g-dev check dataset-fashion-mnist libonnx-testdata chromium $arch_pkgs $*"
optional=""

missing_from() {
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf ' %s' "$p"
    done
}
need=$(missing_from $required)
want=$(missing_from $optional)
[ -z "$need$want" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing$need$want"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $need $want >/dev/null; then
        exit 0
    fi
    echo "deps: apt-get failed for:$need$want" >&2
    need=$(missing_from $required)
    [ -z "$need" ] && exit 0
    exit 1
fi
if [ -n "$need" ]; then
    echo "deps: missing packages:$need" >&2
    echo "deps: run as root: apt-get install$need$want" >&2
    exit 1
fi
echo "deps: optional package missing:$want (apt-get install$want)" >&2
exit 0
