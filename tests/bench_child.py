"""Runs one `monitor` command and reports its own wall time and peak memory (for tests.bench)."""

from __future__ import annotations

import json
import os
import resource
import sys
import time

from monitor.cli import main

if __name__ == "__main__":
    start = time.perf_counter()
    code = main(sys.argv[1:])
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    with open(os.environ["BENCH_OUT"], "w", encoding="utf-8") as handle:
        json.dump({"exit": code, "seconds": round(seconds, 2), "peak_mb": round(peak_mb, 1)}, handle)
    sys.exit(code)
