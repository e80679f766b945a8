"""PyTorch frontend: `nn.Module` -> `torch.export` -> core ATen -> IR `Graph`.

The module is exported with `torch.export.export`, decomposed to the core ATen op set with
`run_decompositions` (keeping `hardswish`, `hardsigmoid`, `linear` and
`scaled_dot_product_attention`, which lower to fewer IR ops), and each ATen
call is lowered by the table in `torch_ops` / `torch_ops_tensor`. Lifted parameters, buffers and
tensor constants become `const` nodes named by their state_dict names; symbolic dims become IR
symbols (a `Dim("batch")` of `dynamic_shapes` is the symbol `batch`); every node's location is a
`TorchLoc` with the module path (`nn_module_stack`) and the innermost source line outside torch
itself (`stack_trace`). Types come from the irforge registry, as in the ONNX frontend; a dim it
cannot know is taken from torch's own shape of the value.

torch is imported only inside functions: the core works without it.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import warnings
from typing import Any

import numpy as np

from compiler.errors import CompilerError, FrontendError, UnsupportedOpError
from compiler.frontend.torch_ops import IGNORED, LOWERINGS, target_name
from compiler.frontend.torch_values import TorchValues
from compiler.graph import Graph
from compiler.ir import Value
from compiler.location import UNKNOWN, Location, TorchLoc
from compiler.types import TensorType

_FRAME = re.compile(r'File "([^"]+)", line (\d+)')
_KEPT_OPS = (
    "hardswish.default", "hardsigmoid.default", "linear.default",
    "scaled_dot_product_attention.default",
)  # fmt: skip


def from_torch(
    module: Any, example_args: Any, dynamic_shapes: Any = None, *, name: str | None = None
) -> Graph:
    """Export a PyTorch module and lower it to an IR graph.

    Args:
        module: An `nn.Module` (put it in eval mode first: training-mode batch norm mutates
            buffers and is refused).
        example_args: Example positional inputs, as for `torch.export.export` (a single tensor
            is taken as the one input).
        dynamic_shapes: As for `torch.export.export`, e.g. `({0: Dim("batch")},)`; each named
            `Dim` becomes an IR symbol of that name. Use an example batch of 2 or more: torch
            specialises size-1 dims.
        name: The graph name (default: the module's class name).

    Returns:
        The graph in program order, types inferred by the irforge registry.

    Raises:
        FrontendError: torch is missing, the export fails, or an op's arguments cannot be
            lowered (naming the node and its torch location).
        UnsupportedOpError: listing every ATen op without a lowering, at once.
    """
    torch = _import_torch()
    try:
        args = tuple(example_args) if isinstance(example_args, (tuple, list)) else (example_args,)
        with warnings.catch_warnings():  # torch's own internals warn about their pytree API
            warnings.filterwarnings("ignore", r".*LeafSpec.* is deprecated", FutureWarning)
            program = torch.export.export(module, args, dynamic_shapes=dynamic_shapes)
            program = program.run_decompositions(_decomposition_table(torch))
    except Exception as exc:  # noqa: BLE001  torch raises many types; report one clear error
        raise FrontendError(f"torch.export failed: {type(exc).__name__}: {exc}") from exc
    return lower_exported(program, module, dynamic_shapes, name=name or type(module).__name__)


def lower_exported(
    program: Any, module: Any = None, dynamic_shapes: Any = None, *, name: str = "main"
) -> Graph:
    """Lower an already decomposed `torch.export.ExportedProgram` (core ATen) to a graph;
    `module` and `dynamic_shapes` (as exported) only name the symbolic dims."""
    _check_no_mutation(program)
    _check_supported(program)
    return _Lowerer(program, module, dynamic_shapes, name).run()


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise FrontendError("the PyTorch frontend needs torch: pip install irforge[torch]") from exc
    return torch


def _decomposition_table(torch: Any) -> Any:
    table = torch.export.default_decompositions()
    for op in _KEPT_OPS:
        packet, overload = op.split(".")
        table.pop(getattr(getattr(torch.ops.aten, packet), overload), None)
    return table


def torch_loc(fx_node: Any) -> Location:
    """The module path and the innermost source line outside torch of an FX node."""
    stack = fx_node.meta.get("nn_module_stack") or {}
    module = module_path(list(stack.values())[-1][0]) if stack else ""
    if module.startswith("_empty_nn_module_stack"):  # torch's placeholder for "no module"
        module = ""
    file, line = _user_frame(fx_node.meta.get("stack_trace") or "")
    if not module and not file:
        return UNKNOWN
    return TorchLoc(module, file, line)


def module_path(raw: str) -> str:
    """`L['self'].layer1[0].conv1` or `layer1.0.conv1` -> `layer1.0.conv1`."""
    path = re.sub(r"^L\['self'\]\.?", "", raw)
    path = re.sub(r"\[['\"]?([^\]'\"]+)['\"]?\]", r".\1", path)
    return path.lstrip(".")


def _user_frame(stack_trace: str) -> tuple[str, int]:
    frames = _FRAME.findall(stack_trace)
    torch_dir = _torch_dir()
    for file, line in reversed(frames):
        if not file.startswith(torch_dir):
            return file, int(line)
    return (frames[-1][0], int(frames[-1][1])) if frames else ("", 0)


def _check_no_mutation(program: Any) -> None:
    kinds = {spec.kind.name for spec in program.graph_signature.output_specs}
    if kinds - {"USER_OUTPUT"}:
        raise FrontendError(
            f"the exported program mutates state ({', '.join(sorted(kinds - {'USER_OUTPUT'}))}): "
            "is the module in training mode? Call module.eval() first"
        )


@functools.cache
def _torch_dir() -> str:
    """torch's package folder: frames inside it are torch's, not the model's."""
    return os.path.dirname(_import_torch().__file__) + os.sep


def _check_supported(program: Any) -> None:
    bad: list[tuple[str, str, Location | None]] = []
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        op = target_name(node.target)
        if op not in LOWERINGS and op not in IGNORED:
            bad.append((op, node.name, torch_loc(node)))
    if not bad:
        return
    types = sorted({op for op, _, _ in bad})
    raise UnsupportedOpError(
        f"{len(bad)} node(s) use ATen ops irforge cannot lower: {', '.join(types)}",
        notes=[f"  {op} (node {label!r}) at {loc.describe() if loc else '?'}"
               for op, label, loc in bad],
        ops=bad,
    )  # fmt: skip


class _Lowerer(TorchValues):
    def __init__(self, program: Any, module: Any, dynamic_shapes: Any, name: str) -> None:
        super().__init__(Graph(name))
        self.program = program
        self.dim_names = _dim_names(program, module, dynamic_shapes)

    def run(self) -> Graph:
        sig = self.program.graph_signature
        specs = {spec.arg.name: spec for spec in sig.input_specs if hasattr(spec.arg, "name")}
        for node in self.program.graph.nodes:
            if node.op == "placeholder":
                self._placeholder(node, specs.get(node.name))
            elif node.op == "call_function":
                self._call(node)
            elif node.op == "output":
                self._outputs(node, sig)
        return self.graph

    def _placeholder(self, node: Any, spec: Any) -> None:
        kind = getattr(getattr(spec, "kind", None), "name", "USER_INPUT")
        if kind == "USER_INPUT":
            self.values[node] = self.graph.add_input(node.name, self._input_type(node))
            return
        if not node.users:  # e.g. `num_batches_tracked`: never read in inference
            return
        self.loc = TorchLoc(spec.target.rpartition(".")[0], "", 0)
        array = self._lifted_array(kind, spec.target, node.name)
        self.values[node] = self.const(array, spec.target)

    def _lifted_array(self, kind: str, target: str, label: str) -> np.ndarray:
        prog = self.program
        tensor = prog.state_dict.get(target) if kind in ("PARAMETER", "BUFFER") else None
        if tensor is None:
            tensor = prog.constants.get(target)
        if tensor is None:
            raise FrontendError(f"lifted input {label!r} ({kind} {target!r}) has no value")
        tensor = tensor.detach().cpu().contiguous()
        if str(tensor.dtype) == "torch.bfloat16":  # numpy has no bfloat16: reinterpret the bits
            bits = tensor.view(_import_torch().uint16).numpy()
            return bits.view(self.dtype_of(tensor.dtype).to_numpy()).copy()
        return tensor.numpy().copy()

    def _input_type(self, node: Any) -> TensorType:
        val = node.meta.get("val")
        if val is None or not hasattr(val, "shape"):
            raise FrontendError(f"input {node.name!r} is not a tensor (only tensor inputs)")
        return TensorType(self.dtype_of(val.dtype, node.name), self.torch_dims(val.shape))

    def _call(self, node: Any) -> None:
        op = target_name(node.target)
        if op in IGNORED:
            return
        self.loc = torch_loc(node)
        self.fx_node = node
        try:
            result = LOWERINGS[op](self, node, node.args, node.kwargs)
        except CompilerError as exc:
            raise FrontendError(f"node {node.name!r} ({op}): {exc.message}", self.loc) from exc
        except Exception as exc:  # noqa: BLE001  a lowering meeting unexpected arguments
            raise FrontendError(
                f"node {node.name!r} ({op}): cannot lower: {type(exc).__name__}: {exc}", self.loc
            ) from exc
        if isinstance(result, Value) and not result.name:
            result.name = node.name
        self.values[node] = result
        self.fx_node = None

    def _outputs(self, node: Any, sig: Any) -> None:
        outs = node.args[0]
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        self.graph.outputs = [self.value(out) for out in outs]


def _dim_names(program: Any, module: Any, dynamic_shapes: Any) -> dict[str, str]:
    """torch symbol (`s77`) -> the `Dim` name the user gave it (`batch`)."""
    if not dynamic_shapes:
        return {}
    specs = program.graph_signature.input_specs
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder"]
    inputs = [n for n, s in zip(placeholders, specs, strict=False) if s.kind.name == "USER_INPUT"]
    per_tensor: list[Any] = []
    _flatten_specs(_by_signature(module, dynamic_shapes), per_tensor)
    if len(per_tensor) != len(inputs):
        return {}  # an unusual structure: torch's own symbol names are kept
    names: dict[str, str] = {}
    for node, spec in zip(inputs, per_tensor, strict=True):
        shape = getattr(node.meta.get("val"), "shape", ())
        items = spec.items() if isinstance(spec, dict) else enumerate(spec or ())
        for axis, dim in items:
            name = getattr(dim, "__name__", None)
            if name and axis < len(shape) and _is_symbol(shape[axis]):
                names.setdefault(str(shape[axis]), name)
    return names


def _by_signature(module: Any, dynamic_shapes: Any) -> Any:
    """A top-level dict of specs keyed by argument name, in `forward`'s parameter order."""
    if not isinstance(dynamic_shapes, dict):
        return dynamic_shapes
    if not hasattr(module, "forward"):
        return list(dynamic_shapes.values())
    order = list(inspect.signature(module.forward).parameters)
    return [dynamic_shapes.get(p) for p in order if p in dynamic_shapes]


def _flatten_specs(spec: Any, out: list[Any]) -> None:
    """One entry per tensor input: a `{axis: Dim}` dict, a per-axis tuple, or None."""
    if spec is None or _is_tensor_spec(spec):
        out.append(spec)
        return
    for item in spec.values() if isinstance(spec, dict) else spec:
        _flatten_specs(item, out)


def _is_tensor_spec(spec: Any) -> bool:
    if isinstance(spec, dict):
        return all(isinstance(k, int) for k in spec)
    return all(item is None or isinstance(item, int) or hasattr(item, "__name__") for item in spec)


def _is_symbol(dim: Any) -> bool:
    expr = getattr(getattr(dim, "node", None), "expr", None)
    return expr is not None and getattr(expr, "is_Symbol", False)
