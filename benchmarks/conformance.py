"""ONNX backend node tests through the NumPy interpreter: coverage and pass rate.

Run: `python benchmarks/conformance.py [--pattern REGEX]`. Prints the number of op types the
registry supports, covered cases / total, passes, every failure with its reason, and the reasons
cases are not covered (unsupported op types, or values the IR cannot hold), most frequent first.
`--record` stores the run as `benchmarks/results/conformance.json`.
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

from backends.numpy.conformance import check_case  # noqa: E402
from compiler.registry import all_ops  # noqa: E402

log = logging.getLogger("conformance")


def _uncovered_reasons(reasons: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for reason in reasons:
        for gap in reason.removeprefix("not covered: ").split("; "):
            counts[gap] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pattern", default="", help="only cases whose name matches this regex")
    parser.add_argument("--top", type=int, default=25, help="uncovered reasons to list")
    parser.add_argument("--record", action="store_true", help="write results/conformance.json")
    args = parser.parse_args()
    run = Record("conformance")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("compiler").setLevel(logging.ERROR)
    from onnx.backend.test.loader import load_node_model_tests

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = [c for c in load_node_model_tests() if re.search(args.pattern, c.name)]
        start = time.perf_counter()
        outcomes = [check_case(c) for c in cases]
    elapsed = time.perf_counter() - start
    status = Counter(o.status for o in outcomes)
    covered = len(outcomes) - status["uncovered"]
    log.info("op types supported by the registry: %d", sum(o.onnx is not None for o in all_ops()))
    log.info("covered/total: %d/%d", covered, len(outcomes))
    log.info("passed: %d/%d covered (%.2f %%), failed: %d  (%.1f s)", status["pass"], covered,
             100.0 * status["pass"] / max(covered, 1), status["fail"], elapsed)  # fmt: skip
    for outcome in outcomes:
        if outcome.status == "fail":
            log.info("  FAIL %s: %s", outcome.name, outcome.reason)
    reasons = _uncovered_reasons([o.reason for o in outcomes if o.status == "uncovered"])
    log.info("not covered, by reason (top %d of %d):", args.top, len(reasons))
    for reason, count in reasons.most_common(args.top):
        log.info("  %4d  %s", count, reason)
    if args.record:
        failures = [{"case": o.name, "reason": o.reason} for o in outcomes if o.status == "fail"]
        summary = {"op_types": sum(o.onnx is not None for o in all_ops()), "total": len(outcomes),
                   "covered": covered, "passed": status["pass"], "failed": status["fail"],
                   "pass_rate": status["pass"] / max(covered, 1), "sweep_s": elapsed}  # fmt: skip
        run.write(failures, summary, {"pattern": args.pattern},
                  uncovered_top=dict(reasons.most_common(args.top)))  # fmt: skip
    return 1 if status["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
