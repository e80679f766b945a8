"""Long fuzz campaign: mutated MATERIAL / node-test models and textual IR through the compiler.

    python benchmarks/fuzz_campaign.py --cases 20000 [--seed S] [--jobs 2] [--record]

Every case runs in a worker subprocess (`tests/fuzz/worker.py`) under an address-space limit and a
per-case deadline; the parent kills and restarts a worker that runs past the hard timeout (a hang
in C code) or dies (a crash), and counts those. Outcomes: `ok`, `CompilerError:<class>`,
`BUG:<exception>` (anything else escaped), `BUG:no-location`, `timeout`, `hang`, `crash`.
`--record` writes the command, machine and counts to `benchmarks/results/fuzz.md` (newest first)
and stores the run as `benchmarks/results/fuzz.json`.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import queue
import selectors
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.benchinfo import Record, machine_line  # noqa: E402
from tests.fuzz.cases import make_cases  # noqa: E402
from tests.fuzz.oracle import Case  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "fuzz.md"
BUGS_FIXED = (
    "Constant whose `value` attribute has the wrong kind (e.g. INTS): AttributeError in "
    "`dtype_of_array` -> `onnx_attrs.constant_array` checks the attribute kind ONNX defines "
    "for each `value*` key; FrontendError at the node.",
    "Invalid UTF-8 in a graph, node, tensor or dim name (protobuf returns `bytes`): "
    "UnicodeDecodeError/TypeError later (export, printing) -> `onnx_model.check_names` refuses "
    "the file at load, naming the node.",
    "Empty input name where an upgrade rule needs the input's type (`BatchNormalization` "
    "opset < 14 with input 0 = ''): the internal `_Irregular` signal escaped `load` -> "
    "`type_of` raises a FrontendError at the node; the checked second pass converts any "
    "`_Irregular` to a plain FrontendError.",
    "NaN float attribute (`epsilon = nan`): the verifier called the imported attributes "
    "non-canonical (NaN != NaN) -> `verifier._same_value` treats NaN as equal to NaN.",
    "BatchNormalization/InstanceNormalization/GroupNormalization with non-float scale/bias/"
    "statistics (a string Constant): ValueError in the conv+BN fusion -> the ops' inference "
    "requires float inputs (`nn_norm._check_vector`); FrontendError at the node.",
    "Upgrade rules of old opsets (BatchNormalization, Reduce*, Softmax family) on nodes with "
    "missing inputs or attributes of the wrong kind: IndexError/ValueError -> "
    "`_import_node` turns any non-CompilerError from an upgrade rule into a FrontendError "
    "naming the node and opset (as `_run_inference` does for inference).",
    "Textual IR with `strides = [0, ...]` (or 0 dilations): ZeroDivisionError in the verifier's "
    "re-inference -> `nn._out_dim` raises an InferError for non-positive strides/dilations; the "
    "verifier reports any other exception from inference as a VerifyError at the node.",
)


class Worker:
    """One worker subprocess; `run` returns the case's result dict, or a hang/crash outcome."""

    def __init__(self, mem_gb: float, seconds: float) -> None:
        self.args = [sys.executable, "-m", "tests.fuzz.worker", str(mem_gb), str(seconds)]
        self.hard = seconds * 3 + 20  # seed loading on first use, slow interpreter exit
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(self.args, cwd=REPO, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         text=True, bufsize=1)  # fmt: skip
        return self.proc

    def run(self, case: Case) -> dict[str, object]:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        start = time.perf_counter()
        try:
            proc.stdin.write(f"{case.seed_name}\t{case.kind}\t{case.seed}\n")
            proc.stdin.flush()
        except BrokenPipeError:
            return self._lost("crash", start)
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(self.hard)
        sel.close()
        if not ready:
            return self._lost("hang", start)
        line = proc.stdout.readline()
        if not line:
            return self._lost("crash", start)
        return json.loads(line)  # type: ignore[no-any-return]

    def _lost(self, outcome: str, start: float) -> dict[str, object]:
        code = None
        if self.proc is not None:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return {"outcome": outcome, "detail": f"worker exit code {code}",
                "seconds": time.perf_counter() - start}  # fmt: skip

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


def run_campaign(cases: list[Case], jobs: int, mem_gb: float, seconds: float,
                 progress: bool) -> list[tuple[Case, dict[str, object]]]:  # fmt: skip
    todo: queue.Queue[tuple[int, Case]] = queue.Queue()
    for item in enumerate(cases):
        todo.put(item)
    results: list[tuple[Case, dict[str, object]] | None] = [None] * len(cases)
    done = [0]
    lock = threading.Lock()

    def loop() -> None:
        worker = Worker(mem_gb, seconds)
        try:
            while True:
                try:
                    i, case = todo.get_nowait()
                except queue.Empty:
                    return
                results[i] = (case, worker.run(case))
                with lock:
                    done[0] += 1
                    if progress and done[0] % 500 == 0:
                        print(f"  {done[0]}/{len(cases)}", file=sys.stderr, flush=True)
        finally:
            worker.close()

    threads = [threading.Thread(target=loop) for _ in range(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]


def _group(case: Case) -> str:
    return "node tests" if case.seed_name.startswith("node:") else case.seed_name


def report(results: list[tuple[Case, dict[str, object]]], command: str, wall: float) -> str:
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    totals: collections.Counter[str] = collections.Counter()
    seeds: collections.Counter[str] = collections.Counter()
    bugs: dict[str, tuple[Case, str]] = {}
    for case, res in results:
        outcome = str(res["outcome"])
        by_kind[case.kind][outcome] += 1
        totals[outcome] += 1
        seeds[_group(case)] += 1
        if outcome.startswith("BUG") or outcome in ("timeout", "hang", "crash"):
            bugs.setdefault(outcome + str(res["detail"]).strip()[-200:], (case, str(res["detail"])))
    outcomes = sorted(totals)
    slow = max((float(r["seconds"]), str(c)) for c, r in results)
    lines = [
        f"## {datetime.date.today()} — `{command}`", "",
        f"Machine: {machine_line()}.  ",
        f"{len(results)} cases in {wall:.0f} s wall; slowest case {slow[0]:.1f} s ({slow[1]}).",
        "", "Outcomes: " + ", ".join(f"{o} {totals[o]}" for o in outcomes) + ".", "",
        "Cases per seed: " + ", ".join(f"{s} {n}" for s, n in sorted(seeds.items())) + ".", "",
        "| mutation | cases | " + " | ".join(outcomes) + " |",
        "|---|---:|" + "---:|" * len(outcomes),
    ]  # fmt: skip
    for kind in sorted(by_kind):
        row = by_kind[kind]
        cells = " | ".join(str(row.get(o, 0)) for o in outcomes)
        lines.append(f"| {kind} | {sum(row.values())} | {cells} |")
    bad = sum(n for o, n in totals.items() if not (o == "ok" or o.startswith("CompilerError")))
    lines += ["", f"Uncaught non-CompilerError exceptions, timeouts, hangs and crashes: **{bad}**."]
    for case, detail in bugs.values():
        lines += ["", f"- `{case}`:", "```", detail.strip()[-1500:], "```"]
    return "\n".join(lines) + "\n"


def _record(section: str) -> None:
    head = "# Fuzz campaigns\n\nBugs found by the fuzzer and fixed:\n\n"
    head += "".join(f"{i}. {b}\n" for i, b in enumerate(BUGS_FIXED, 1)) + "\n"
    old = RESULTS.read_text() if RESULTS.exists() else ""
    runs = old[old.index("## ") :] if "## " in old else ""
    tmp = RESULTS.with_suffix(".md.tmp")
    tmp.write_text(head + section + ("\n" + runs if runs else ""))
    os.replace(tmp, RESULTS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=10.0, help="per-case deadline, seconds")
    ap.add_argument("--mem-gb", type=float, default=6.0, help="address-space limit per worker")
    ap.add_argument("--record", action="store_true", help="write benchmarks/results/fuzz.md")
    args = ap.parse_args()
    command = "python benchmarks/fuzz_campaign.py " + " ".join(sys.argv[1:])
    run = Record("fuzz")
    cases = make_cases(args.cases, args.seed)
    start = time.perf_counter()
    results = run_campaign(cases, args.jobs, args.mem_gb, args.timeout, progress=True)
    wall = time.perf_counter() - start
    section = report(results, command.strip(), wall)
    print(section)
    if args.record:
        _record(section)
        write_record(run, results, wall, args)


def write_record(run: Record, results: list[tuple[Case, dict[str, object]]], wall: float,
                 args: argparse.Namespace) -> None:  # fmt: skip
    """Store the run as benchmarks/results/fuzz.json: outcome counts per mutation kind."""
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for case, res in results:
        by_kind[case.kind][str(res["outcome"])] += 1
    totals: collections.Counter[str] = sum(by_kind.values(), collections.Counter())
    bad = sum(n for o, n in totals.items() if not (o == "ok" or o.startswith("CompilerError")))
    seconds = [float(r["seconds"]) for _, r in results]  # type: ignore[arg-type]
    cases = [{"mutation": kind, "cases": sum(c.values()), "outcomes": dict(sorted(c.items()))}
             for kind, c in sorted(by_kind.items())]  # fmt: skip
    summary = {"cases": len(results), "uncaught": bad, "outcomes": dict(totals.most_common()),
               "campaign_s": wall, "slowest_case_s": max(seconds, default=0.0),
               "cases_per_s": len(results) / wall if wall else 0.0}  # fmt: skip
    settings = {"cases": args.cases, "seed": args.seed, "jobs": args.jobs,
                "timeout_s": args.timeout, "mem_gb": args.mem_gb}  # fmt: skip
    caught = ("ok", "CompilerError")
    uncaught = [{"case": str(case), "outcome": res["outcome"], "seconds": res["seconds"],
                 "detail": str(res.get("detail", "")).strip()[-300:]} for case, res in results
                if not str(res["outcome"]).startswith(caught)]  # fmt: skip
    run.write(cases, summary, settings, uncaught_cases=uncaught[:50])


if __name__ == "__main__":
    main()
