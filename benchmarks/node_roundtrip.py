"""Round-trip every ONNX backend node case through irforge and report coverage.

Run: `python benchmarks/node_roundtrip.py [--pattern REGEX] [--verbose]`. Prints `covered/total`,
passes, and failures grouped by op type (ONNX -> IR -> ONNX, compared bitwise in ONNX Runtime, or
against stored outputs with onnx.reference where ORT cannot run the original). `--record` stores
the run as `benchmarks/results/node_roundtrip.json`.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchinfo import Record  # noqa: E402

from backends.onnx.roundtrip import node_cases, sweep  # noqa: E402

log = logging.getLogger("node_roundtrip")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pattern", default="", help="only cases whose name matches this regex")
    parser.add_argument("--verbose", action="store_true", help="list every failing case")
    parser.add_argument("--record", action="store_true", help="write results/node_roundtrip.json")
    args = parser.parse_args()
    run = Record("node_roundtrip")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("compiler.frontend.onnx_import").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = [c for c in node_cases() if re.search(args.pattern, c.name)]
    start = time.perf_counter()
    report = sweep(cases)
    elapsed = time.perf_counter() - start
    log.info("covered/total: %d/%d", report.covered, report.total)
    log.info("pass: %d  fail: %d  (%.1f s)", report.count("pass"), report.count("fail"),
             elapsed)  # fmt: skip
    for op, failures in report.failures_by_op().items():
        log.info("  %-24s %d failing", op, len(failures))
        for result in failures if args.verbose else failures[:2]:
            log.info("      %s: %s", result.name, result.detail[:160])
    if args.record:
        oracles = Counter(r.oracle for r in report.results if r.status == "pass")
        failed = [{"op": op, "case": r.name, "detail": r.detail[:300]}
                  for op, rs in report.failures_by_op().items() for r in rs]  # fmt: skip
        summary = {"total": report.total, "covered": report.covered,
                   "passed": report.count("pass"), "failed": report.count("fail"),
                   "pass_rate": report.count("pass") / max(report.covered, 1),
                   "oracles": dict(oracles.most_common()), "sweep_s": elapsed}  # fmt: skip
        run.write(failed, summary, {"pattern": args.pattern})
    return 0


if __name__ == "__main__":
    sys.exit(main())
