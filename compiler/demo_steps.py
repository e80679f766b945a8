"""The steps of `irforge demo` (driver layer: imports passes and backends lazily).

Each step takes the shared `DemoState`, does one thing, and returns a `StepResult` (one line of
text, pass/fail, JSON-ready details). Steps that need TensorRT are skipped, not failed, when
neither `tensorrt` nor `tensorrt_rtx` is importable. See `compiler.demo` for the order.
"""

from __future__ import annotations

import importlib.util
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import CompilerError
from compiler.graph import Graph


@dataclass
class StepResult:
    """What one step did: a line of text, whether its check passed (None: skipped), details."""

    text: str
    ok: bool | None = True
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoState:
    """The model, its data and what earlier steps produced."""

    path: Path
    graph: Graph
    calib: np.ndarray  # calibration inputs (int8)
    score: np.ndarray  # held-out inputs every backend is scored on
    labels: np.ndarray | None  # labels of `score` (bundled digits only)
    save: Path | None = None  # where to write the artifacts, or None
    onnx_nodes: int = 0  # nodes of the source ONNX model
    original: Graph | None = None
    optimized: Graph | None = None
    quantized: Graph | None = None
    pass_rows: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, np.ndarray] = field(default_factory=dict)  # by accuracy row label

    @property
    def feeds(self) -> dict[str, np.ndarray]:
        return {self.graph.inputs[0].name: self.score}


def ops(graph: Graph) -> int:
    """Nodes that compute (constants not counted)."""
    return sum(1 for n in graph.nodes if n.op != "const")


def import_model(state: DemoState) -> StepResult:
    import onnx

    from compiler.driver import parameter_count
    from compiler.verifier import verify

    verify(state.graph)
    state.original = state.graph.clone()
    onnx_nodes = state.onnx_nodes = len(onnx.load(state.path, load_external_data=False).graph.node)
    params = parameter_count(state.graph)
    text = f"{onnx_nodes} ONNX nodes -> {ops(state.graph)} ops, {params:,} parameters"
    return StepResult(text, True, {"onnx_nodes": onnx_nodes, "ops": ops(state.graph),
                                   "parameters": params})  # fmt: skip


def text_round_trip(state: DemoState) -> StepResult:
    from compiler.text import parse_graph, print_graph_with_resources

    text, resources = print_graph_with_resources(state.graph)
    same = print_graph_with_resources(parse_graph(text, resources=resources))[0] == text
    lines = len(text.splitlines())
    return StepResult(f"{'exact' if same else 'CHANGED'} ({lines} lines of IR)", same,
                      {"lines": lines, "exact": same})  # fmt: skip


def optimize_default(state: DemoState) -> StepResult:
    from compiler.optimizer import optimize

    graph = state.graph
    before = ops(graph)
    inputs = {graph.inputs[0].name: state.score[:8]}
    report = optimize(graph, "default", check_numerics=True, inputs=inputs)
    state.optimized = graph
    state.pass_rows = pass_rows(report.records)
    changed = sum(1 for r in state.pass_rows if r["changed"])
    text = f"{before} -> {ops(graph)} ops; {len(state.pass_rows)} passes checked, {changed} changed"
    details = {"ops_before": before, "ops_after": ops(graph), "passes": state.pass_rows,
               "pipeline": report.pipeline}  # fmt: skip
    return StepResult(text, True, details)


def pass_rows(records: list[Any]) -> list[dict[str, Any]]:
    """Per pass (by name, options dropped): runs, changes, seconds, node delta; in the order
    the pipeline first ran them."""
    rows: dict[str, dict[str, Any]] = {}
    for r in records:
        row = rows.setdefault(r.spec.split("{")[0], {"runs": 0, "changed": 0, "seconds": 0.0,
                                                     "nodes_delta": 0})  # fmt: skip
        row["runs"] += 1
        row["changed"] += int(r.changed)
        row["seconds"] += r.seconds
        row["nodes_delta"] += r.nodes_after - r.nodes_before
    return [{"pass": k, **v} for k, v in rows.items()]


def reference_vs_ort(state: DemoState) -> StepResult:
    from backends.numpy import run
    from backends.numpy.tolerance import derive_tolerances, max_abs_error
    from backends.onnx import run_onnxruntime

    assert state.original is not None
    ours = run(state.original, state.feeds).outputs
    ref = run_onnxruntime(state.path, state.feeds)
    name = next(iter(ref))
    tol = derive_tolerances(state.original, ref)[name].atol
    err = max_abs_error(ours[name], ref[name])
    state.outputs["float, ONNX Runtime (original model)"] = ref[name]
    state.outputs["optimized, reference backend"] = run(state.graph, state.feeds).outputs[name]
    return StepResult(f"{name} max |err| {err:.1e} <= {tol:.1e} (derived)",
                      err <= tol, {"output": name, "max_abs_error": err, "atol": tol})  # fmt: skip


def export_optimized(state: DemoState) -> StepResult:
    assert state.optimized is not None
    reference = state.outputs["float, ONNX Runtime (original model)"]
    nodes, names, outputs = _export_and_run(state, state.optimized, "optimized.onnx")
    got, before = outputs[names[0]], state.onnx_nodes
    err = float(np.max(np.abs(got - reference)))
    same = bool(np.array_equal(got.argmax(-1), reference.argmax(-1)))
    state.outputs["optimized, ONNX Runtime"] = got
    text = f"{before} -> {nodes} ONNX nodes; max |err| {err:.1e}; same top-1 {_yes(same)}"
    return StepResult(text, same, {"onnx_nodes": nodes, "max_abs_error": err, "same_top1": same})


def _export_and_run(
    state: DemoState, graph: Graph, name: str, *, int8_tensors: bool = False
) -> tuple[int, list[str], dict[str, Any]]:
    """Export `graph` (into `state.save`, else a temporary folder) and run the written model in
    ONNX Runtime once: (its node count, the graph's output names, every output by name).

    With `int8_tensors`, every QuantizeLinear output is fetched too (extra outputs of the run;
    the written file is left as exported).
    """
    import onnx
    from onnx import helper

    from backends.onnx import run_onnxruntime, save_onnx

    with tempfile.TemporaryDirectory() as tmp:
        out = (state.save or Path(tmp)) / name
        save_onnx(graph, out, pipeline="demo")
        model = onnx.load(out)
    nodes, names = len(model.graph.node), [o.name for o in model.graph.output]
    if int8_tensors:
        types = {t.name: t.data_type for t in model.graph.initializer}
        for n in (n for n in model.graph.node if n.op_type == "QuantizeLinear"):
            # the zero point's type is the output's
            model.graph.output.append(
                helper.make_tensor_value_info(n.output[0], types[n.input[2]], None)
            )
    return nodes, names, run_onnxruntime(model, state.feeds)


def quantize_int8(state: DemoState) -> StepResult:
    from backends.numpy import run
    from compiler.quantize import quantize

    assert state.optimized is not None
    graph = state.optimized.clone()
    result = quantize(graph, [{graph.inputs[0].name: state.calib}], method="mse",
                      show_progress=False)  # fmt: skip
    state.quantized = graph
    got = next(iter(run(graph, state.feeds).outputs.values()))
    state.outputs["int8, reference backend"] = got
    what = "digits" if state.labels is not None else "inputs"
    text = (
        f"{len(state.calib)} {what} calibrate {result.activation_pairs} Q/DQ pairs; "
        f"{result.weight_layers} int8 weight layers"
    )
    details = {"calibration_inputs": len(state.calib), "activation_pairs": result.activation_pairs,
               "weight_layers": result.weight_layers}  # fmt: skip
    return StepResult(text, True, details)


def export_int8(state: DemoState) -> StepResult:
    """Run the int8 ONNX export in ONNX Runtime and compare its int8 tensors with the reference.

    Float accumulation order may flip a rounding; in a deep graph one flip moves later layers
    too. The check passes when every int8 tensor is within one step (at most 0.1 % of values
    off), or else when the two backends' outputs differ less than quantization itself moved
    them (max |ORT - reference| <= max |int8 - float|) with the same top-1.
    """
    from backends.numpy import run

    assert state.quantized is not None
    nodes, outs, theirs = _export_and_run(state, state.quantized, "int8.onnx", int8_tensors=True)
    got = state.outputs["int8, ONNX Runtime"] = theirs[outs[0]]
    names = [n for n in theirs if n not in outs]
    ours = run(state.quantized, state.feeds, capture=names).captured
    steps = [np.abs(ours[n].astype(np.int32) - theirs[n].astype(np.int32)) for n in names]
    worst = max((int(d.max()) for d in steps), default=0)
    off = sum(int(np.count_nonzero(d)) for d in steps) / max(sum(d.size for d in steps), 1)
    ref = state.outputs["int8, reference backend"]
    backend_err = float(np.max(np.abs(got - ref)))
    quant_err = float(np.max(np.abs(ref - state.outputs["optimized, reference backend"])))
    same = bool(np.array_equal(got.argmax(-1), ref.argmax(-1)))
    ok = (worst <= 1 and off <= 1e-3) or (backend_err <= quant_err and same)
    agree = "all equal" if worst == 0 else f"{off:.2%} differ, by <= {worst} steps"
    text = f"{nodes} ONNX nodes; {len(names)} int8 tensors vs reference: {agree}"
    if worst > 1:
        text += f"; outputs {backend_err:.1e} apart (int8 vs float {quant_err:.1e})"
    details = {"onnx_nodes": nodes, "int8_tensors": len(names), "max_step": worst,
               "fraction_off": off, "max_abs_error": backend_err,
               "quantization_error": quant_err, "same_top1": same}  # fmt: skip
    return StepResult(text, ok, details)


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def have_tensorrt() -> str | None:
    """The importable TensorRT module name, or None."""
    return next((m for m in ("tensorrt", "tensorrt_rtx") if importlib.util.find_spec(m)), None)


def tensorrt_build(state: DemoState, precision: str) -> StepResult:
    """Build an engine of the optimized (fp32) or quantized (int8) graph; check the network."""
    module = have_tensorrt()
    if module is None:
        return StepResult("no tensorrt / tensorrt_rtx (pip install 'irforge[tensorrt]')", None)
    from backends.tensorrt import BuildOptions, build_plan
    from backends.tensorrt.interpreter import interpret
    from backends.tensorrt.layer_compare import compare_boundaries
    from backends.tensorrt.layer_map import layer_map

    graph = state.optimized if precision == "fp32" else state.quantized
    assert graph is not None
    n = len(state.score)
    name = graph.inputs[0].name
    dims = tuple(d if isinstance(d, int) else n for d in graph.inputs[0].type.shape or ())
    small = (1, *dims[1:])
    result = build_plan(graph, BuildOptions(verbose=True, shapes={name: (small, dims, dims)}))
    provenance = layer_map(result)
    network = result.emission.network
    values = interpret(network, state.feeds, capture=True)  # once, for both uses below
    bounds = compare_boundaries(result, state.feeds, values)
    got = values[network.get_output(0).name]
    state.outputs[f"{precision}, TensorRT network (interpreted)"] = got
    _save_plan(state, precision, result.plan, provenance)
    good = sum(b.ok for b in bounds)
    text = (
        f"{provenance['network_layers']} -> {provenance['engine_layers']} layers, "
        f"{len(result.plan) / 1e6:.1f} MB; {good}/{len(bounds)} fused outputs match"
    )
    details = {"module": module, "network_layers": provenance["network_layers"],
               "engine_layers": provenance["engine_layers"], "plan_bytes": len(result.plan),
               "build_seconds": result.seconds, "boundaries": len(bounds),
               "boundaries_ok": good}  # fmt: skip
    return StepResult(text, good == len(bounds), details)


def _save_plan(state: DemoState, precision: str, plan: bytes, provenance: dict[str, Any]) -> None:
    if state.save is None:
        return
    import json

    from compiler.fileio import atomic_write

    atomic_write(state.save / f"{precision}.plan", plan)
    text = json.dumps(provenance, indent=1, default=str).encode()
    atomic_write(state.save / f"{precision}.layers.json", text)


def accuracy_rows(state: DemoState) -> list[dict[str, Any]]:
    """Top-1 on the labelled inputs (if any) and agreement with the float model, per row."""
    base = state.outputs.get("float, ONNX Runtime (original model)")
    rows = []
    for label, logits in state.outputs.items():
        row: dict[str, Any] = {"run": label}
        if state.labels is not None:
            row["top1"] = float(np.mean(logits.argmax(-1) == state.labels))
        if base is not None:
            row["agrees_with_float"] = float(np.mean(logits.argmax(-1) == base.argmax(-1)))
        rows.append(row)
    return rows


def check_inputs(graph: Graph) -> None:
    """The demo feeds one float input; say so clearly for other models."""
    if len(graph.inputs) != 1 or graph.inputs[0].type.dtype.to_numpy().kind != "f":
        raise CompilerError("irforge demo needs a model with one float input "
                            f"(this one has {len(graph.inputs)})")  # fmt: skip
