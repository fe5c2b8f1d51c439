#!/bin/sh
# `go tool pprof` reads what the pprof builder writes. $1 is test_pprof, whose `--write FILE`
# writes the sample profile that test_pprof.c checks field by field; here the real consumer
# must name the same functions, values, labels and sample types.
# Exits 77 (skipped) when go is not installed.
set -eu
# Absolute, because we cd away below and meson passes it relative to the build directory.
test_pprof=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")

if ! command -v go >/dev/null 2>&1; then
	echo "SKIP go tool pprof: go not installed"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# go wants a home and a cache even for `go tool`; keep both out of the user's. GOTOOLCHAIN=local
# stops a newer go from downloading a toolchain; the cd keeps any go.mod around us out of it.
export HOME="$tmp" GOCACHE="$tmp/cache" GOPATH="$tmp/gopath" GOENV=off GOFLAGS= \
	GOTOOLCHAIN=local PPROF_TMPDIR="$tmp"
cd "$tmp"

"$test_pprof" --write "$tmp/sample.pb.gz"

status=0
run() {
	name=$1
	shift
	if ! go tool pprof "$@" "$tmp/sample.pb.gz" >"$tmp/$name" 2>"$tmp/$name.err"; then
		echo "go tool pprof $* failed:"
		cat "$tmp/$name.err"
		exit 1
	fi
}
# expect FILE -E|-F PATTERN: the output has a line matching PATTERN.
expect() {
	if ! grep -q "$2" -e "$3" "$tmp/$1"; then
		echo "go tool pprof output $1 lacks: $3"
		status=1
	fi
}
reject() {
	if grep -q "$2" -e "$3" "$tmp/$1"; then
		echo "go tool pprof output $1 has: $3"
		status=1
	fi
}

run raw -raw
expect raw -F 'Comment: ctrace test profile'
expect raw -F 'PeriodType: contentions count'
expect raw -F 'Period: 1'
expect raw -F 'Duration: 2s'
expect raw -F 'contentions/count delay/nanoseconds'
expect raw -E '^ +4 +400: [0-9]+ [0-9]+ [0-9]+ *$'
expect raw -F 'thread:[worker-1]'
expect raw -E '^ +4 +4000: '
expect raw -E '^ +-1 +-20: '
expect raw -E '^ +5 +50: [0-9]+ *$'
expect raw -E ': 0x401010 M=1 worker_lock lock.c:10 '
expect raw -E ': 0x7f0000001abc M=2 0x7f0000001abc '
expect raw -F ' [no stack] '
expect raw -F '/opt/ctrace-test/demo deadbeef01 [FN][FL][LN]'
# The symbolized mapping is left alone; the other one pprof tries to symbolize from disk.
reject raw.err -F 'symbolization failed for demo'
expect raw.err -F 'symbolization failed for libanon.so'

run top_delay -top -nodefraction=0 -unit=ns
expect top_delay -F 'Type: delay'
expect top_delay -E '^ +7000ns .* \[blocked\]$'
expect top_delay -E '^ +4400ns .* worker_lock$'
expect top_delay -E '^ +900ns .* deep_0$'
expect top_delay -E '^ +230ns .* worker_wait$'
expect top_delay -E '^ +50ns .* \[no stack\]$'
expect top_delay -E '^ +0 .* 12530ns .* main$'

run top_count -top -sample_index=contentions
expect top_count -F 'Type: contentions'
expect top_count -E '^ +8 .* worker_lock$'
expect top_count -E '^ +5 .* \[no stack\]$'

if [ $status -ne 0 ]; then
	for f in raw top_delay top_count; do
		echo "---- go tool pprof output $f"
		head -n 40 "$tmp/$f" "$tmp/$f.err"
	done
fi
exit $status
