"""Where activation Q/DQ pairs go, and inserting them with calibrated scales.

Not a registered pass: the scales come from calibration (`compiler.quantize`), which runs the
graph first. `activation_sites` finds the values to quantize; `insert_activation_qdq` puts a
`quantize_linear → dequantize_linear` pair (int8, zero point 0, scale `amax / 127`) between
each site and the consumers that should read it quantized.

Placement follows TensorRT's explicit-quantization fusion rules:

- the data inputs of conv / conv_transpose (input 0) and of gemm / matmul (inputs 0 and 1 when
  they are not constants; constant weights are `quantize-symmetric`'s job);
- residual adds: an `add` of two non-constant tensors of the same shape. The input that is the
  single-use output of a conv/gemm/matmul stays float (TensorRT fuses the add into that layer's
  epilogue); every other input is quantized (input 1 when both are such outputs);
- concat: when a concat's output is quantized, each non-constant concat input is quantized too,
  with one shared scale for the whole group (the largest amax of its members), so the concat runs
  in int8 and its output Q/DQ is exact.

Before / after for one conv input:

```
%y = conv(%x, %w.dq) ...
  ==>
%x.q = quantize_linear(%x, %x.scale, %x.zp) {axis = 1, ...} : i8[...]
%x.dq = dequantize_linear(%x.q, %x.scale, %x.zp) {axis = 1, ...} : f32[...]
%y = conv(%x.dq, %w.dq) ...
```

Q/DQ arithmetic is ONNX's: `q = saturate(round_half_even(x / s))` to [−128, 127],
`x' = q · s` (float32). One site with several quantized consumers gets one pair. Units are the
layers (conv, conv_transpose, gemm, matmul) and residual adds, named by their printed output
name; `keep` leaves units in float (their sites' uses read the float value).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np

from compiler.graph import Graph
from compiler.ir import Node, Value
from compiler.text.printer import Namer, graph_values
from compiler.types import DType

LAYER_OPS = ("conv", "conv_transpose", "gemm", "matmul")
QDQ_OPS = ("quantize_linear", "dequantize_linear")
ACT_QMAX = 127
LAYOUTS = ("trt", "ort")


@dataclass
class Site:
    """One activation to quantize: its uses (node, input index, unit or None) and scale group."""

    value: Value
    name: str
    uses: list[tuple[Node, int, str | None]] = field(default_factory=list)
    group: int = -1
    follow: str | None = None  # take the scale of this value (a pre-activation site)
    unsigned: bool = False  # non-negative by construction: uint8, zero point 0 ("ort" layout)

    @property
    def range_name(self) -> str:
        """The value whose calibrated range gives this site's scale."""
        return self.follow or self.name


def _quantizable(value: Value | None) -> bool:
    if value is None or value.type.dtype != DType.FLOAT32 or value.const_value() is not None:
        return False
    return value.producer is None or value.producer.op not in QDQ_OPS


def _residual_inputs(node: Node) -> list[int]:
    a, b = node.inputs
    if not (_quantizable(a) and _quantizable(b)) or a is None or b is None:
        return []
    if a.type.shape is None or a.type.shape != b.type.shape:
        return []
    fused = [_is_layer_output(v) for v in (a, b)]
    if all(fused):
        return [1]
    return [i for i in (0, 1) if not fused[i]]


def _is_layer_output(value: Value) -> bool:
    return value.producer is not None and value.producer.op in LAYER_OPS and value.num_uses == 1


def quantized_inputs(node: Node) -> list[int]:
    """Indices of `node`'s inputs that TensorRT-style placement quantizes."""
    if node.op in ("conv", "conv_transpose"):
        return [0] if _quantizable(node.inputs[0]) else []
    if node.op in ("gemm", "matmul"):
        return [i for i in (0, 1) if _quantizable(node.inputs[i])]
    if node.op == "add" and len(node.inputs) == 2:
        return _residual_inputs(node)
    return []


def activation_sites(graph: Graph, layout: str = "trt") -> list[Site]:
    """The activation sites of `graph` in program order (see the module docstring)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown Q/DQ layout {layout!r} (valid: {', '.join(LAYOUTS)})")
    namer = Namer(graph_values(graph))
    sites: dict[Value, Site] = {}
    for node in graph.nodes:
        for i in quantized_inputs(node):
            value = node.inputs[i]
            assert value is not None
            site = sites.setdefault(value, Site(value, namer.name(value)))
            site.uses.append((node, i, namer.name(node.outputs[0])))
    if layout == "ort":
        _output_sites(graph, sites, namer)
        for value, site in sites.items():
            site.unsigned = site.follow is not None or (
                value.producer is not None and commutes(value.producer)
            )
    _share_concat_scales(graph, sites, namer)
    by_name = {site.name: site for site in sites.values()}
    for site in sites.values():
        followed = by_name.get(site.follow or "")
        if followed is not None:  # one scale and type for the pre- and post-activation pairs
            site.group = followed.group
    order = {v: k for k, v in enumerate(graph_values(graph))}
    return sorted(sites.values(), key=lambda s: order[s.value])


def _output_sites(graph: Graph, sites: dict[Value, Site], namer: Namer) -> None:
    """ONNX Runtime layout: every layer output that is not a graph output is quantized for all
    its users; an output whose only user is a commuting activation takes that activation's
    output range (`follow`), so the pair is exact (see `split_epilogues`)."""
    for node in graph.nodes:
        out = node.outputs[0]
        if node.op not in LAYER_OPS or out.is_graph_output or out.type.dtype != DType.FLOAT32:
            continue
        if any(user.op in QDQ_OPS for user in out.users):  # already quantized
            continue
        unit = namer.name(out)
        site = sites.setdefault(out, Site(out, unit))
        taken = {(n, i) for n, i, _ in site.uses}
        for use in out.uses:
            if (use.node, use.input_index) not in taken:
                site.uses.append((use.node, use.input_index, unit))
        users = out.users
        if len(users) == 1 and commutes(users[0]):
            site.follow = namer.name(users[0].outputs[0])


def commutes(node: Node) -> bool:
    """True for activations that commute with symmetric Q/DQ of their output's scale: relu and
    clip with a lower bound of 0 (`act(DQ(Q(x))) == DQ(Q(act(x)))` when amax ≤ the upper bound)."""
    if node.op == "relu":
        return True
    if node.op != "clip" or len(node.inputs) < 2 or node.inputs[1] is None:
        return False
    lo = node.inputs[1].const_value()
    return lo is not None and lo.size == 1 and float(lo.reshape(())) == 0.0


def split_epilogues(graph: Graph) -> int:
    """Write every relu / clip(0, ·) epilogue of a layer as its own node (ONNX Runtime layout,
    so a Q/DQ pair can sit between the layer and its activation). Returns how many."""
    count = 0
    for node in graph.nodes:
        name = node.attrs.get("activation")
        params = tuple(float(p) for p in node.attrs.get("activation_params") or ())  # type: ignore[union-attr]
        if node.op not in LAYER_OPS or name not in ("relu", "clip"):
            continue
        if name == "clip" and params[:1] != (0.0,):
            continue
        _split(graph, node, str(name), params)
        count += 1
    return count


def _split(graph: Graph, node: Node, act: str, params: tuple[float, ...]) -> None:
    attrs = {k: v for k, v in node.attrs.items() if k not in ("activation", "activation_params")}
    old = node.outputs[0]
    with graph.inserting_before(node) as b:
        plain = b.node(node.op, *node.inputs, loc=node.loc, **attrs).outputs[0]
        plain.name = f"{old.name}.pre" if old.name else ""
        if act == "relu":
            out = b.op("relu", plain, loc=node.loc)
        else:
            lo = b.const(np.asarray(params[0], np.float32), f"{plain.name}.min", loc=node.loc)
            hi = b.const(np.asarray(params[1], np.float32), f"{plain.name}.max", loc=node.loc)
            out = b.op("clip", plain, lo, hi, loc=node.loc)
    out.name = old.name
    old.replace_all_uses_with(out, include_graph_outputs=True)
    graph.erase(node)


def _share_concat_scales(graph: Graph, sites: dict[Value, Site], namer: Namer) -> None:
    groups = {v: k for k, v in enumerate(sites)}
    for node in graph.reversed_nodes():
        if node.op != "concat" or node.outputs[0] not in sites:
            continue
        group = groups[node.outputs[0]]
        for i, value in enumerate(node.inputs):
            if not _quantizable(value):
                continue
            assert value is not None
            site = sites.setdefault(value, Site(value, namer.name(value)))
            site.uses.append((node, i, None))
            old = groups.get(value)
            for v, g in groups.items():
                if old is not None and g == old:
                    groups[v] = group
            groups[value] = group
    for value, site in sites.items():
        site.group = groups[value]


def units_of(sites: Collection[Site]) -> list[str]:
    """The unit names of the sites' uses, in first-seen order."""
    seen: dict[str, None] = {}
    for site in sites:
        for _, _, unit in site.uses:
            if unit is not None:
                seen.setdefault(unit)
    return list(seen)


def active_uses(
    sites: Collection[Site], keep: Collection[str] = ()
) -> dict[int, list[tuple[Site, list[tuple[Node, int]]]]]:
    """Per scale group, the sites and uses that read a quantized value when `keep` stay float."""
    live_groups = {s.group for s in sites for _, _, u in s.uses if u is not None and u not in keep}
    out: dict[int, list[tuple[Site, list[tuple[Node, int]]]]] = {}
    for site in sites:
        if site.group not in live_groups:
            continue
        uses = [(n, i) for n, i, u in site.uses if (u is None or u not in keep)]
        if uses:
            out.setdefault(site.group, []).append((site, uses))
    return out


def insert_activation_qdq(
    graph: Graph,
    sites: Collection[Site],
    amax: Mapping[str, float],
    keep: Collection[str] = (),
    per_use: bool = False,
) -> int:
    """Insert Q/DQ pairs at the sites; `amax` by value name (`Site.range_name`). Returns the
    number of pairs.

    A group's scale is `max(amax of its members) / qmax` in float32 (1 when that is 0), qmax
    127 for int8 and 255 for uint8 (a group is unsigned only when every member is). `per_use`
    gives every use its own pair (ONNX Runtime converts int8 pairs to uint8 only for a Q with a
    single DQ).
    """
    pairs = 0
    for members in active_uses(sites, keep).values():
        unsigned = all(site.unsigned for site, _ in members)
        peak = max(float(amax[site.range_name]) for site, _ in members)
        scale = np.float32(peak) / np.float32(255 if unsigned else ACT_QMAX)
        scale = np.float32(1) if scale == 0 else scale
        zero = np.zeros((), np.uint8 if unsigned else np.int8)
        for site, uses in members:
            groups = [[u] for u in uses] if per_use else [uses]
            for k, part in enumerate(groups):
                dq = _pair(graph, site, scale, zero, f"_{k}" if k else "")
                for node, index in part:
                    node.set_input(index, dq)
                pairs += 1
    return pairs


def _pair(graph: Graph, site: Site, scale: np.float32, zero: np.ndarray, tag: str) -> Value:
    producer = site.value.producer
    first = graph.first
    assert first is not None
    if producer is not None:
        where, loc = graph.inserting_after(producer), producer.loc
    else:
        where, loc = graph.inserting_before(first), first.loc
    with where as b:
        s = b.const(np.asarray(scale, np.float32), f"{site.name}.scale{tag}", loc=loc)
        z = b.const(zero, f"{site.name}.zp{tag}", loc=loc)
        q = b.op("quantize_linear", site.value, s, z, loc=loc)
        q.name = f"{site.name}.q{tag}"
        dq: Value = b.op("dequantize_linear", q, s, z, loc=loc)
        dq.name = f"{site.name}.dq{tag}"
    return dq


__all__ = [
    "LAYOUTS", "Site", "activation_sites", "active_uses", "commutes", "insert_activation_qdq",
    "quantized_inputs", "split_epilogues", "units_of",
]  # fmt: skip
