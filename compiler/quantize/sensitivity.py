"""Per-layer sensitivity and the accuracy-budget loop (`irforge quantize --report/--max-drop`).

Sensitivity: quantize one unit at a time (its weights and its input activations; everything else
float), run on the evaluation batches and compare with the float outputs: SQNR (dB), KL and
top-1 agreement (`compiler.quantize.metrics`). Units are ranked most sensitive first (lowest
SQNR).

Budget: starting from the fully quantized model, keep the k most sensitive units in float for
k = 0, 1, 2, ... and stop at the first k whose metric is within budget, so the fewest units (in
ranking order) stay float. Metrics are losses (smaller is better):

- `top1`: 100 · (1 − top-1 agreement with float), in points; budget `max_drop` points;
- `sqnr`: −SQNR; the budget `max_drop` is read as "SQNR at least max_drop dB";
- a Python callable `(float outputs, quantized outputs) -> loss`, budget `max_drop`.

The graph work is injected (`run_with_float`): this module imports neither passes nor backends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from compiler.quantize.metrics import Outputs, kl_divergence, sqnr_db, top1_agreement

log = logging.getLogger("irforge.quantize")
LossFn = Callable[[Outputs, Outputs], float]
RunFn = Callable[[Sequence[str]], Outputs]  # units kept float -> outputs


@dataclass(frozen=True)
class LayerScore:
    """One unit quantized alone: its metrics against float."""

    unit: str
    sqnr: float
    kl: float
    top1: float


@dataclass
class BudgetResult:
    """The units kept in float, the final loss, and the loss after each step."""

    keep: list[str]
    loss: float
    within: bool
    trace: list[tuple[int, float]] = field(default_factory=list)


def score(unit: str, ref: Outputs, out: Outputs) -> LayerScore:
    """The metrics of one configuration against float."""
    return LayerScore(unit, sqnr_db(ref, out), kl_divergence(ref, out), top1_agreement(ref, out))


def rank_layers(
    units: Sequence[str],
    ref: Outputs,
    run_only: Callable[[str], Outputs],
    progress: Callable[[Sequence[str]], Sequence[str]] = list,
) -> list[LayerScore]:
    """Quantize each unit alone (`run_only(unit)`) and rank them, most sensitive first."""
    scores = [score(u, ref, run_only(u)) for u in progress(units)]
    return sorted(scores, key=lambda s: (s.sqnr, -s.kl))


def loss_function(metric: str | LossFn) -> LossFn:
    """The loss of a metric name (`top1`, `sqnr`) or a user function."""
    if callable(metric):
        return metric
    if metric == "top1":
        return lambda ref, out: 100.0 * (1.0 - top1_agreement(ref, out))
    if metric == "sqnr":
        return lambda ref, out: -sqnr_db(ref, out)
    raise ValueError(f"unknown metric {metric!r} (valid: top1, sqnr, or a function)")


def budget_of(metric: str | LossFn, max_drop: float) -> float:
    """The loss bound of `max_drop` for a metric (see the module docstring)."""
    return -max_drop if metric == "sqnr" else max_drop


def keep_within_budget(ranked: Sequence[str], ref: Outputs, run_keep: RunFn,
                       metric: str | LossFn, max_drop: float) -> BudgetResult:  # fmt: skip
    """Keep the fewest most-sensitive units in float so the loss is within budget."""
    loss_of, bound = loss_function(metric), budget_of(metric, max_drop)
    trace: list[tuple[int, float]] = []
    loss = float("inf")
    for k in range(len(ranked) + 1):
        loss = loss_of(ref, run_keep(list(ranked[:k])))
        trace.append((k, loss))
        log.info("keeping %d unit(s) in float: loss %.4g (budget %.4g)", k, loss, bound)
        if loss <= bound:
            return BudgetResult(list(ranked[:k]), loss, True, trace)
    return BudgetResult(list(ranked), loss, False, trace)


def table(scores: Sequence[LayerScore], keep: Sequence[str] = ()) -> str:
    """The ranking as a markdown table."""
    rows = ["| rank | unit | SQNR (dB) | KL | top-1 agreement | float |",
            "|---:|---|---:|---:|---:|---|"]  # fmt: skip
    for k, s in enumerate(scores, start=1):
        kept = "kept" if s.unit in keep else ""
        rows.append(f"| {k} | {s.unit} | {s.sqnr:.2f} | {s.kl:.3g} | {100 * s.top1:.1f} % | "
                    f"{kept} |")  # fmt: skip
    return "\n".join(rows)


def chart(scores: Sequence[LayerScore], path: str, keep: Sequence[str] = ()) -> None:
    """A horizontal bar chart of per-unit SQNR (kept units highlighted) written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s.unit for s in scores][::-1]
    values = [min(s.sqnr, 120.0) for s in scores][::-1]
    colors = ["tab:red" if n in keep else "tab:blue" for n in names]
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.22 * len(names) + 1)))
    ax.barh(range(len(names)), values, color=colors)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("output SQNR with only this unit quantized (dB; lower = more sensitive)")
    ax.set_title("per-layer quantization sensitivity (red: kept in float)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["BudgetResult", "LayerScore", "budget_of", "chart", "keep_within_budget",
           "loss_function", "rank_layers", "score", "table"]  # fmt: skip
