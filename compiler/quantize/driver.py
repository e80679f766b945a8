"""`compiler.quantize`: calibrate a graph and rewrite it to explicit symmetric Q/DQ form.

Driver layer (listed in tests/compiler/test_layering.py): it imports `passes` and the NumPy
reference backend lazily, inside functions. Steps of `quantize`:

1. run a clean-up pipeline (`default`: folds BN into convs, fuses activations) so that layers and
   their inputs look as TensorRT will see them;
2. find the activation sites (`passes.quantize_activations`) and run the reference backend over
   the calibration batches, feeding every site's values to an `Observer`;
3. pick each site's range with the calibration method, insert int8 Q/DQ pairs at the sites and
   quantize the weights with `quantize-symmetric` (verified like any pipeline).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compiler.graph import Graph
from compiler.quantize.data import Batch, ImageOptions, InputSpec, batches, check_spread
from compiler.quantize.observer import METHODS, Observer
from compiler.quantize.progress import progress

log = logging.getLogger("irforge.quantize")


@dataclass
class Calibration:
    """Calibration results: observers and ranges by site name, and the batches seen."""

    observers: dict[str, Observer]
    amax: dict[str, float]
    method: str
    batches: list[Batch] = field(default_factory=list)
    means: dict[str, np.ndarray] = field(default_factory=dict)  # layer inputs, per channel

    def ranges(self) -> dict[str, float]:
        """amax by site name (a JSON-friendly copy)."""
        return dict(self.amax)


@dataclass
class QuantizeResult:
    """What `quantize` did: the calibration, units kept in float, Q/DQ pairs and weights."""

    calibration: Calibration
    keep: list[str]
    activation_pairs: int
    weight_layers: int
    pipeline: str


def specs(graph: Graph) -> list[InputSpec]:
    """The calibration input specs of a graph (one per graph input)."""
    return [InputSpec(v.name, v.type) for v in graph.inputs]


def load_batches(
    graph: Graph,
    data: Any,
    *,
    batch_size: int = 8,
    limit: int | None = None,
    images: ImageOptions | None = None,
) -> list[Batch]:
    """All calibration batches of `data` for `graph`'s inputs, in memory."""
    return list(batches(data, specs(graph), batch_size=batch_size, limit=limit, images=images))


def calibrate(
    graph: Graph,
    data: Sequence[Batch],
    *,
    method: str = "mse",
    bits: int = 8,
    percentile: float = 99.99,
    layout: str = "trt",
    show_progress: bool = True,
    backend: str = "numpy",
) -> Calibration:
    """Observe every activation site of `graph` over `data` and pick ranges with `method`.

    `backend` runs the float graph: "numpy" (the reference) or "onnxruntime" (faster; float
    results agree with the reference to rounding).
    """
    from passes.quantize_activations import activation_sites

    if method not in METHODS:
        from compiler.errors import CompilerError

        raise CompilerError(f"unknown calibration method {method!r} (valid: {', '.join(METHODS)})")
    check_spread(data)
    sites = activation_sites(graph, layout)
    names = list(dict.fromkeys(n for s in sites for n in (s.name, s.range_name)))
    channel_axes = _channel_axes(graph)
    observers = {name: Observer() for name in names}
    sums: dict[str, tuple[np.ndarray, int]] = {}
    capture = capturer(graph, list(dict.fromkeys([*names, *channel_axes])), backend)
    for batch in progress(data, len(data), "calibrating", show_progress):
        captured = capture(batch)
        for name in names:
            observers[name].update(captured[name])
        for name, axis in channel_axes.items():
            _accumulate(sums, name, captured[name], axis)
    amax = {n: o.compute_amax(method, 8, percentile) for n, o in observers.items()}
    means = {n: total / max(count, 1) for n, (total, count) in sums.items()}
    log.info("calibrated %d sites on %d batches (%s)", len(names), len(data), method)
    return Calibration(observers, amax, method, list(data), means)


def _channel_axes(graph: Graph) -> dict[str, int]:
    """The printed names of conv / gemm data inputs and the axis their mean is taken over (the
    batch: conv inputs keep a mean map `[C, H, W]`, gemm inputs a mean row)."""
    from compiler.text.printer import Namer, graph_values

    namer = Namer(graph_values(graph))
    axes: dict[str, int] = {}
    for node in graph.nodes:
        x = node.inputs[0] if node.inputs else None
        if x is None or node.op not in ("conv", "gemm") or x.const_value() is not None:
            continue
        axes[namer.name(x)] = 1 if node.op == "gemm" and node.attrs["transA"] else 0
    return axes


def _accumulate(sums: dict[str, tuple[np.ndarray, int]], name: str, x: np.ndarray,
                axis: int) -> None:  # fmt: skip
    """Sum `x` over `axis` (the batch axis, or the rows of a transposed gemm input)."""
    total = np.asarray(x).sum(axis=axis, dtype=np.float64)
    count = x.shape[axis]
    old, seen = sums.get(name, (np.zeros_like(total), 0))
    sums[name] = (old + total, seen + count)


def apply_quantization(
    graph: Graph,
    amax: dict[str, float],
    *,
    bits: int = 8,
    per_channel: bool = True,
    keep: Collection[str] = (),
    layout: str = "trt",
    means: dict[str, np.ndarray] | None = None,
) -> tuple[int, int]:
    """Insert activation Q/DQ and quantize weights in place, leaving `keep` units in float.

    `means` (layer input means from `calibrate`) turns on bias correction
    (`passes.quantize_bias_correction`) before the weights are quantized.

    Returns:
        (activation Q/DQ pairs, layers whose weights were quantized).
    """
    from compiler.optimizer import optimize
    from passes.quantize_activations import activation_sites, insert_activation_qdq
    from passes.quantize_bias_correction import correct_biases
    from passes.quantize_symmetric import QuantizeSymmetricPass

    if means:
        correct_biases(graph, means, bits=bits, per_channel=per_channel, skip=keep)
    sites = activation_sites(graph, layout)
    pairs = insert_activation_qdq(graph, sites, amax, keep, per_use=layout == "ort")
    spec = QuantizeSymmetricPass(bits=bits, per_channel=per_channel, skip=",".join(keep)).spec()
    report = optimize(graph, spec)
    layers = sum(1 for r in report.records for n in r.notes if "weights" in n)
    return pairs, layers


def quantize(
    graph: Graph,
    data: Any,
    *,
    bits: int = 8,
    per_channel: bool = True,
    method: str = "mse",
    percentile: float = 99.99,
    pipeline: str = "default",
    keep: Collection[str] = (),
    layout: str = "trt",
    bias_correction: bool = False,
    backend: str = "numpy",
    batch_size: int = 8,
    limit: int | None = None,
    images: ImageOptions | None = None,
    show_progress: bool = True,
) -> QuantizeResult:
    """Quantize `graph` in place: int8 activations from calibration, `bits`-bit weights.

    Args:
        graph: The float graph; optimized with `pipeline` first, then rewritten to Q/DQ form.
        data: Calibration data: a `.npz` path, a folder, or an iterable (`compiler.quantize.data`),
            or a `Calibration` from an earlier `calibrate` on this graph after `pipeline`.
        bits: Weight bits (8 or 4); activations are always int8.
        per_channel: Per-output-channel weight scales (else one per tensor).
        method: Activation range method: minmax, percentile, entropy or mse.
        percentile: The percentile for `method="percentile"`.
        pipeline: The clean-up pipeline run first ("O0" for none).
        keep: Printed output names of layers (and residual adds) to leave in float.
        layout: "trt" (Q/DQ where TensorRT fuses them) or "ort" (also on layer outputs, with
            relu / clip(0, ·) split out, so ONNX Runtime runs integer kernels).
        bias_correction: Correct conv / gemm biases for the mean weight-rounding error
            (`passes.quantize_bias_correction`), from the calibration means.
        backend: What runs the float graph for calibration: "numpy" or "onnxruntime".
        batch_size: Samples per calibration batch.
        limit: Most calibration samples used.
        images: Image pre-processing for image folders.
        show_progress: Show a progress bar (or log lines) while calibrating.

    Returns:
        The calibration and what was rewritten.

    Raises:
        CompilerError: bad calibration data, an unknown method, or a failing pass.
    """
    prepare(graph, pipeline, layout)
    if isinstance(data, Calibration):
        calib = data
    else:
        loaded = load_batches(graph, data, batch_size=batch_size, limit=limit, images=images)
        calib = calibrate(graph, loaded, method=method, percentile=percentile, layout=layout,
                          show_progress=show_progress, backend=backend)  # fmt: skip
    means = calib.means if bias_correction else None
    pairs, layers = apply_quantization(graph, calib.amax, bits=bits, per_channel=per_channel,
                                       keep=keep, layout=layout, means=means)  # fmt: skip
    return QuantizeResult(calib, list(keep), pairs, layers, pipeline)


def prepare(graph: Graph, pipeline: str = "default", layout: str = "trt") -> None:
    """The float graph calibration sees: `pipeline` run, epilogues split for the "ort" layout."""
    from compiler.optimizer import optimize
    from passes.quantize_activations import LAYOUTS, split_epilogues

    if layout not in LAYOUTS:
        from compiler.errors import CompilerError

        raise CompilerError(f"unknown Q/DQ layout {layout!r} (valid: {', '.join(LAYOUTS)})")
    optimize(graph, pipeline)
    if layout == "ort":
        split_epilogues(graph)


def run_batches(
    graph: Graph, data: Sequence[Batch], backend: str = "numpy"
) -> list[list[np.ndarray]]:
    """The outputs of `graph` on each batch: the reference backend, or ONNX Runtime without graph
    optimizations (the same Q/DQ arithmetic; float accumulation order may flip a rounding)."""
    if backend == "onnxruntime":
        from backends.onnx import to_onnx
        from backends.onnx.runtime import session

        sess = session(to_onnx(graph), threads=2, optimization="disable")
        return [list(sess.run(None, batch)) for batch in data]
    from backends.numpy import compile as compile_program

    program = compile_program(graph)
    return [list(program(batch).values) for batch in data]


Capture = Callable[[Batch], dict[str, np.ndarray]]


def capturer(graph: Graph, names: Sequence[str], backend: str = "numpy") -> Capture:
    """A function returning the values of `graph` named `names` (printed names) for a batch."""
    if backend == "numpy":
        from backends.numpy import compile as compile_program

        program = compile_program(graph)
        return lambda batch: program(batch, capture=names).captured
    if backend != "onnxruntime":
        from compiler.errors import CompilerError

        raise CompilerError(f"unknown backend {backend!r} (valid: numpy, onnxruntime)")
    return _ort_capturer(graph, names)


def _ort_capturer(graph: Graph, names: Sequence[str]) -> Capture:
    """Export a copy whose values carry their printed names, with `names` as extra outputs."""
    from onnx import helper

    from backends.onnx import to_onnx
    from backends.onnx.runtime import session
    from compiler.frontend.onnx_data import DTYPE_TO_ONNX
    from compiler.text.printer import Namer, graph_values

    copy = graph.clone()
    namer = Namer(graph_values(copy))
    for value in namer.values:
        value.name = namer.name(value)
    inputs = {v.name for v in copy.inputs}
    wanted = [n for n in names if n not in inputs]
    model = to_onnx(copy)
    present = {o.name for o in model.graph.output}
    types = {namer.name(v): v.type.dtype for v in namer.values}
    for name in wanted:
        if name not in present:
            info = helper.make_tensor_value_info(name, DTYPE_TO_ONNX[types[name]], None)
            model.graph.output.append(info)
    sess = session(model, threads=2, optimization="basic")

    def capture(batch: Batch) -> dict[str, np.ndarray]:
        got = dict(zip(wanted, sess.run(wanted, batch), strict=True))
        got.update({n: batch[n] for n in names if n in inputs})
        return got

    return capture


def sensitivity(graph: Graph, calib: Calibration, data: Sequence[Batch], *, bits: int = 8,
                per_channel: bool = True, layout: str = "trt", bias_correction: bool = False,
                show_progress: bool = True, backend: str = "numpy") -> list[Any]:  # fmt: skip
    """Rank the units of the `prepare`d float `graph` by sensitivity on `data`."""
    from compiler.quantize.sensitivity import rank_layers
    from passes.quantize_activations import activation_sites, units_of

    units = units_of(activation_sites(graph, layout)) + _weight_only_units(graph)
    ref = run_batches(graph, data, backend)

    def run_only(unit: str) -> list[list[np.ndarray]]:
        q = graph.clone()
        apply_quantization(q, calib.amax, bits=bits, per_channel=per_channel, layout=layout,
                           keep=[u for u in units if u != unit],
                           means=calib.means if bias_correction else None)  # fmt: skip
        return run_batches(q, data, backend)

    def bar(items: Sequence[str]) -> Sequence[str]:
        return list(progress(items, len(items), "sensitivity", show_progress))

    return rank_layers(list(dict.fromkeys(units)), ref, run_only, bar)


def _weight_only_units(graph: Graph) -> list[str]:
    """Layers with constant weights but no quantized activation input (named like units)."""
    from compiler.text.printer import Namer, graph_values
    from passes.quantize_symmetric import LAYER_OPS

    namer = Namer(graph_values(graph))
    return [namer.name(n.outputs[0]) for n in graph.nodes if n.op in LAYER_OPS]


def keep_for_budget(
    graph: Graph,
    calib: Calibration,
    data: Sequence[Batch],
    ranked: Sequence[str],
    *,
    metric: Any = "top1",
    max_drop: float = 0.0,
    bits: int = 8,
    per_channel: bool = True,
    layout: str = "trt",
    bias_correction: bool = False,
    backend: str = "numpy",
) -> Any:
    """The fewest most-sensitive units (in `ranked` order) to keep in float so the metric on
    `data` is within budget (`compiler.quantize.sensitivity.keep_within_budget`)."""
    from compiler.quantize.sensitivity import keep_within_budget

    ref = run_batches(graph, data, backend)

    def run_keep(keep: Sequence[str]) -> list[list[np.ndarray]]:
        q = graph.clone()
        apply_quantization(q, calib.amax, bits=bits, per_channel=per_channel, keep=keep,
                           layout=layout,
                           means=calib.means if bias_correction else None)  # fmt: skip
        return run_batches(q, data, backend)

    return keep_within_budget(ranked, ref, run_keep, metric, max_drop)


def first_samples(data: Sequence[Batch], count: int) -> list[Batch]:
    """The first `count` samples of `data`, as batches."""
    out: list[Batch] = []
    left = count
    for batch in data:
        if left <= 0:
            break
        n = len(next(iter(batch.values())))
        out.append({k: v[:left] for k, v in batch.items()})
        left -= n
    return out


__all__ = [
    "Calibration", "QuantizeResult", "apply_quantization", "calibrate", "capturer",
    "first_samples", "keep_for_budget", "load_batches", "prepare", "quantize", "run_batches",
    "sensitivity", "specs",
]  # fmt: skip
