#!/usr/bin/env python3
"""Check a Chrome trace event JSON export against the model's intervals.

Usage: check_chrome.py EXPORT.json INTERVALS.txt
INTERVALS.txt has one line per state interval, as the model produced it:
    pid tid begin_ns_from_trace_start duration_ns state
Every one must appear as a complete event ("ph": "X") of that thread with that start and
duration (the export writes microseconds with three decimals: exact to the nanosecond).
"""
import json
import sys

STATES = ["user", "sys", "idle", "wait", "unknown"]


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)  # fails loudly if the export is not JSON
    events = doc["traceEvents"]
    have = {}
    for e in events:
        if e.get("ph") != "X":
            continue
        key = (e["pid"], e["tid"], round(e["ts"] * 1000), round(e["dur"] * 1000))
        have.setdefault(key, []).append(e["args"]["state"])
    want = 0
    with open(sys.argv[2]) as f:
        for line in f:
            pid, tid, begin, dur, state = line.split()
            key = (int(pid), int(tid), int(begin), int(dur))
            want += 1
            if state not in have.get(key, []):
                print("missing interval: %s" % line.strip())
                return 1
    xs = sum(len(v) for v in have.values())
    if xs != want:
        print("the export has %d state events, the model %d intervals" % (xs, want))
        return 1
    names = [e for e in events if e.get("ph") == "M" and e["name"] == "thread_name"]
    if not names:
        print("no thread names")
        return 1
    print("chrome export: %d events, all %d intervals present" % (len(events), want))
    return 0


sys.exit(main())
