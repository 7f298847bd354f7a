"""Runs one `monitor` command and reports its own wall time and peak memory (for tests.bench)."""

from __future__ import annotations

import json
import os
import resource
import sys
import time

from monitor.cli import main


def _own_peak_kib() -> float:
    """This process's own peak: VmHWM, which starts afresh at exec. ru_maxrss does not: Linux carries the
    forking parent's peak across exec, so every command measured after the benchmark grew read as big."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


if __name__ == "__main__":
    start = time.perf_counter()
    code = main(sys.argv[1:])
    seconds = time.perf_counter() - start
    peak_mb = _own_peak_kib() / 1024
    # The process's own CPU time beside the wall time: on a shared machine the wall time carries the
    # neighbours' load, the CPU time much less (a Postgres server's work is not in it).
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = round(used.ru_utime + used.ru_stime, 2)
    with open(os.environ["BENCH_OUT"], "w", encoding="utf-8") as handle:
        json.dump({"exit": code, "seconds": round(seconds, 2), "cpu_s": cpu_s, "peak_mb": round(peak_mb, 1)}, handle)
    sys.exit(code)
