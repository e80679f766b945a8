"""Overlay values that need nothing but the graph: op kind and precision.

Keys are printed value names of each non-constant node's first output (see `diagram`).

Precision is what the node computes in, as TensorRT sees explicit precision:
- `quantize_linear` / `dequantize_linear`: "int8 Q/DQ" (or the quantized dtype's name);
- a node reading a dequantized value: "int8 compute" (TensorRT fuses DQ -> layer -> Q into an
  int8 kernel; ONNX Runtime's QDQ transformer does the same);
- `cast`: "cast";
- otherwise the float type of its first output (fp32, fp16, bf16, fp64), or "integer / bool"
  for shape arithmetic and indices.
"""

from __future__ import annotations

from compiler.graph import Graph
from compiler.ir import Node
from compiler.text.printer import Namer, graph_values
from compiler.types import DType

FLOATS = {DType.FLOAT32: "fp32", DType.FLOAT16: "fp16", DType.BFLOAT16: "bf16",
          DType.FLOAT64: "fp64"}  # fmt: skip
PRECISIONS = ("fp32", "fp16", "bf16", "fp64", "int8 Q/DQ", "int8 compute", "int4 Q/DQ",
              "int4 compute", "cast", "integer / bool")  # fmt: skip
QDQ = ("quantize_linear", "dequantize_linear")


def node_names(graph: Graph) -> dict[Node, str]:
    """Printed name of each non-constant node's first output."""
    namer = Namer(graph_values(graph))
    return {n: namer.name(n.outputs[0]) for n in graph.nodes if n.op != "const"}


def op_values(graph: Graph) -> dict[str, str]:
    """Op kind by node name."""
    return {name: node.op for node, name in node_names(graph).items()}


def _quantized(node: Node) -> str:
    """The integer side of a Q or DQ node: "int8" or "int4"."""
    value = node.outputs[0] if node.op == "quantize_linear" else node.inputs[0]
    dtype = value.type.dtype if value is not None else DType.INT8
    return "int4" if dtype in (DType.INT4, DType.UINT4) else "int8"


def precision_of(node: Node) -> str:
    """The precision `node` computes in (see the module docstring)."""
    if node.op in QDQ:
        return f"{_quantized(node)} Q/DQ"
    sources = [v.producer for v in node.inputs if v is not None and v.producer is not None]
    dq = [p for p in sources if p.op == "dequantize_linear"]
    if dq:
        return f"{_quantized(dq[0])} compute"
    if node.op == "cast":
        return "cast"
    return FLOATS.get(node.outputs[0].type.dtype, "integer / bool")


def precision_values(graph: Graph) -> dict[str, str]:
    """Precision by node name."""
    return {name: precision_of(node) for node, name in node_names(graph).items()}
