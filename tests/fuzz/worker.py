"""A fuzz worker process: reads `seed_name<TAB>kind<TAB>seed` lines, runs each case under a deadline
and a memory limit, writes one JSON line per case (`outcome`, `detail`, `seconds`).

Run by `benchmarks/fuzz_campaign.py`, which kills and restarts a worker that hangs or dies.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings

from tests.fuzz.oracle import Case, run_case


def main() -> None:
    limit_gb = float(sys.argv[1]) if len(sys.argv) > 1 else 6.0
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    limit = int(limit_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    warnings.simplefilter("ignore")
    for line in sys.stdin:
        name, kind, seed = line.rstrip("\n").split("\t")
        start = time.perf_counter()
        result = run_case(Case(name, kind, int(seed)), seconds)
        out = {"outcome": result.outcome, "detail": result.detail[-4000:],
               "seconds": time.perf_counter() - start}  # fmt: skip
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
