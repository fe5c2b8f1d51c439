#!/bin/sh
# Each library exports only ctrace_ names; libctrace.so also the libc functions it
# interposes (they must be visible to interpose), listed in tracer/interposed.txt.
set -eu
here=$(dirname "$0")
allow="$here/../../tracer/interposed.txt"
status=0
for lib in "$@"; do
	bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' |
		grep -v '^ctrace_' | grep -v -x -F -f "$allow" || true)
	if [ -n "$bad" ]; then
		echo "$lib exports names outside its API:" $bad
		status=1
	fi
done
exit $status
