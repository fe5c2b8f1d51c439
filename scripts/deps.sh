#!/usr/bin/env bash
# Install what ctrace needs to build and test, from Debian's archive, only when missing.
# Debian 12 (bookworm); run as root, or with sudo available.
# Usage: deps.sh [--test] [--bench] [--missing]   (--test: also what the tests use; --bench:
# also what tests/bench/run compares with; --missing: only print the packages that are
# missing, install nothing)
set -euo pipefail
test_deps=0
bench_deps=0
list_only=0
for a in "$@"; do
	case "$a" in
	--test) test_deps=1 ;;
	--bench) bench_deps=1 ;;
	--missing) list_only=1 ;;
	*) echo "deps.sh: unknown option $a" >&2; exit 2 ;;
	esac
done

pkgs=(meson ninja-build pkg-config gcc libc6-dev libzstd-dev libunwind-dev libdw-dev
      libelf-dev zlib1g-dev zstd libmicrohttpd-dev libcurl4-openssl-dev libcjson-dev
      liblttng-ust-dev libbabeltrace2-dev)
# The tests also use real consumers of ctrace's output: go tool pprof reads the profiles,
# python3's json module the Chrome export.
# lttng-tools (lttng, lttng-sessiond) and babeltrace2 for the LTTng sink's tests.
[ $test_deps = 1 ] && pkgs+=(golang-go python3 curl chromium lttng-tools babeltrace2)
# libc's debug information, zlib-compressed as Debian ships it: the symbolizer's lines in
# libc and its debug cache are tested on it.
[ $test_deps = 1 ] && pkgs+=(libc6-dbg)
# clang (with LLVM's libFuzzer and sanitizer runtimes) for the fuzz targets.
[ $test_deps = 1 ] && pkgs+=(clang)
# The benchmark suite's peers: strace, LTTng's own wrappers and session daemon, redis.
[ $bench_deps = 1 ] && pkgs+=(strace lttng-tools liblttng-ust1 babeltrace2 redis-server redis-tools)
# node and npm for the browser tests, from Debian when the machine has none of its own
if [ $test_deps = 1 ] && ! command -v node >/dev/null 2>&1; then
	pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ $list_only = 1 ]; then
	echo "${missing[@]}"
	exit 0
fi
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
	sudo=sudo
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
