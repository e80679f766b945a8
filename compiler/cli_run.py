"""`irforge run`: execute a model on the NumPy reference backend, in ONNX Runtime or as a
TensorRT engine (`--backend tensorrt`, built here or read with `--plan`; `--iterations N` adds a
latency/throughput report; without NVIDIA's tensorrt and a CUDA GPU it exits 2 with the reason).

Driver layer: backends are imported lazily inside functions. Inputs come from an `.npz` keyed by
graph input names, or are drawn at random (seeded); `--shape name=1x3x224x224` fixes symbolic dims.
Outputs are summarized on stdout and optionally saved to an `.npz` keyed by graph output names.
"""

from __future__ import annotations

import argparse
import logging
import time
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from compiler.errors import CompilerError
from compiler.graph import Graph
from compiler.ir import Value
from compiler.types import DType

BACKENDS = ("numpy", "onnxruntime", "tensorrt")

EXAMPLES = """examples:
  irforge run m.onnx --random --shape x=1x3x224x224            reference outputs (numpy backend)
  irforge run m.onnx --inputs in.npz --backend onnxruntime --save out.npz
  irforge run m.onnx --random --backend tensorrt --plan m.plan --iterations 100   latency report
"""

log = logging.getLogger("irforge.run")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the `run` subcommand."""
    p = sub.add_parser(
        "run", help="run a model (numpy reference, ONNX Runtime or TensorRT)", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("model", type=Path, help="the model: .onnx or textual IR (.ir)")
    p.add_argument("--backend", choices=BACKENDS, default="numpy",
                   help=f"where to run it: {', '.join(BACKENDS)} (default: %(default)s, "
                   "the reference)")  # fmt: skip
    source = p.add_mutually_exclusive_group()
    source.add_argument("--inputs", type=Path, metavar="FILE.npz", help="inputs by graph name")
    source.add_argument("--random", action="store_true", help="random-normal inputs")
    p.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS",
                   help="dims of an input for --random, e.g. x=1x3x224x224")  # fmt: skip
    p.add_argument("--float64", action="store_true", help="compute in float64 (numpy backend)")
    p.add_argument("--memory-budget", type=parse_size, metavar="SIZE", default=None,
                   help="numpy backend: refuse a node whose output would exceed SIZE bytes "
                   "(suffix K, M, G; default: half the physical memory)")  # fmt: skip
    p.add_argument("--save", type=Path, metavar="OUT.npz", help="save the outputs by name")
    p.add_argument("--force", action="store_true", help="overwrite an existing --save file")
    p.add_argument("--plan", type=Path, metavar="MODEL.plan",
                   help="tensorrt: a serialized engine (default: build one, fp32)")  # fmt: skip
    p.add_argument("--iterations", type=int, metavar="N",
                   help="tensorrt: time N runs; report p50/p90/p99, throughput")  # fmt: skip
    p.add_argument("--warmup", type=int, default=10, metavar="N",
                   help="tensorrt: untimed runs before --iterations (default 10)")  # fmt: skip


def run_command(args: argparse.Namespace) -> int:
    """The body of `irforge run`; raises CompilerError on bad input (exit status 2)."""
    from compiler.driver import describe_nodes, load_model

    _check_options(args)
    start = time.perf_counter()
    graph = load_model(args.model)
    log.info("loaded %s (%s) in %.3fs", args.model, describe_nodes(graph),
             time.perf_counter() - start)  # fmt: skip
    if args.inputs is not None:
        inputs = load_inputs(args.inputs)
        log.info("inputs from %s: %s", args.inputs, _shapes(inputs))
    else:
        inputs = random_inputs(graph, parse_shapes(args.shape), args.seed)
        log.info("random inputs (seed %d): %s", args.seed, _shapes(inputs))
    start = time.perf_counter()
    if args.backend == "tensorrt":
        outputs = run_tensorrt(args, graph, inputs)
    else:
        outputs = execute(graph, inputs, backend=args.backend, float64=args.float64,
                          memory_budget=args.memory_budget)  # fmt: skip
        print(summarize_outputs(outputs))
    log.info("backend %s%s: ran in %.3fs", args.backend, " (float64)" if args.float64 else "",
             time.perf_counter() - start)  # fmt: skip
    if args.save is not None:
        save_outputs(outputs, args.save)
        print(f"wrote {args.save} ({len(outputs)} output{'' if len(outputs) == 1 else 's'})")
    return 0


def _shapes(arrays: Mapping[str, np.ndarray]) -> str:
    return ", ".join(f"%{n} {a.dtype}{list(a.shape)}" for n, a in arrays.items()) or "none"


def _check_options(args: argparse.Namespace) -> None:
    if args.inputs is None and not args.random:
        raise CompilerError("give the inputs: --inputs FILE.npz or --random")
    if args.shape and not args.random:
        raise CompilerError("--shape applies to --random inputs only")
    if args.float64 and args.backend != "numpy":
        raise CompilerError("--float64 needs --backend numpy")
    if args.memory_budget is not None and args.backend != "numpy":
        raise CompilerError("--memory-budget needs --backend numpy")
    _check_tensorrt_options(args)
    if args.save is None:
        return
    if args.save.suffix != ".npz":
        raise CompilerError(f"--save needs a .npz file name, not {args.save}")
    from compiler.driver import check_outputs

    check_outputs([args.model, args.inputs], [args.save], force=args.force)


def _check_tensorrt_options(args: argparse.Namespace) -> None:
    given = [f for f in ("plan", "iterations") if getattr(args, f) is not None]
    if args.backend != "tensorrt":
        if given:
            raise CompilerError(f"--{given[0]} needs --backend tensorrt")
        return
    if args.iterations is not None and args.iterations < 1:
        raise CompilerError(f"--iterations must be at least 1, got {args.iterations}")
    if args.warmup < 0:
        raise CompilerError(f"--warmup must be at least 0, got {args.warmup}")
    if args.plan is not None and not args.plan.is_file():
        raise CompilerError(f"no such file: {args.plan}")
    from backends.tensorrt.runtime import engine_execution_skip

    reason = engine_execution_skip()
    if reason is not None:
        raise CompilerError(f"cannot run --backend tensorrt: {reason}")


def run_tensorrt(
    args: argparse.Namespace, graph: Graph, inputs: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Run `inputs` through the engine of `--plan` (else one built from the model with a profile
    fixed at the inputs' shapes); prints the outputs and, with `--iterations`, the report."""
    from backends.numpy.checks import bind_inputs
    from backends.tensorrt.runtime import EngineRunner

    bind_inputs(graph.inputs, {v: v.name for v in graph.inputs}, inputs, False)  # fail early
    if args.plan is not None:
        plan: bytes = args.plan.read_bytes()
    else:
        from compiler.cli_build import build_model

        shapes = [f"{n}:" + "x".join(map(str, np.shape(a))) for n, a in inputs.items()]
        plan = build_model(args.model, shapes=shapes).plan
    with EngineRunner(plan) as runner:
        outputs = runner(inputs)
        print(summarize_outputs(outputs))
        if args.iterations is not None:
            print(runner.benchmark(inputs, args.warmup, args.iterations).format())
    return outputs


def load_inputs(path: Path) -> dict[str, np.ndarray]:
    """Arrays of an `.npz` file by key (no pickled objects)."""
    if not path.exists():
        raise CompilerError(f"no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CompilerError(f"cannot read inputs from {path}: {exc}") from exc


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """`"512M"` -> 536870912: a byte count with an optional K/M/G/T suffix (powers of 1024)."""
    spec = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = (spec[:-1], spec[-1]) if spec and spec[-1] in _UNITS else (spec, "")
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: expected e.g. 512M or 8G") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"bad size {text!r}: must be positive")
    return int(value)


def parse_shapes(specs: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """`["x=1x3x224x224", "mask=1x64"]` -> `{"x": (1, 3, 224, 224), "mask": (1, 64)}`."""
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, sep, dims = spec.rpartition("=")
        try:
            shape = tuple(int(d) for d in dims.split("x")) if dims else ()
        except ValueError:
            shape = (-1,)
        if not sep or not name or any(d < 0 for d in shape):
            raise CompilerError(f"bad --shape {spec!r}: expected NAME=DIMS such as x=1x3x224x224")
        shapes[name] = shape
    return shapes


def random_inputs(
    graph: Graph, shapes: Mapping[str, tuple[int, ...]], seed: int
) -> dict[str, np.ndarray]:
    """Seeded random inputs: normal floats, small non-negative ints, random booleans."""
    names = [v.name for v in graph.inputs]
    unknown = sorted(set(shapes) - set(names))
    if unknown:
        raise CompilerError(f"--shape names unknown inputs {unknown} (the graph takes {names})")
    rng = np.random.default_rng(seed)
    return {
        v.name: _random_array(v, _input_shape(v, shapes.get(v.name)), rng) for v in graph.inputs
    }


def _input_shape(value: Value, given: tuple[int, ...] | None) -> tuple[int, ...]:
    declared = value.type.shape or ()
    if given is None:
        symbols = [d for d in declared if not isinstance(d, int)]
        if symbols:
            raise CompilerError(
                f"input %{value.name} ({value.type}) has symbolic dims {symbols}: "
                f"give --shape {value.name}=DIMS"
            )
        return tuple(int(d) for d in declared)
    if len(given) != len(declared) or any(
        isinstance(d, int) and d != g for d, g in zip(declared, given, strict=True)
    ):
        shape = "x".join(map(str, given))
        raise CompilerError(f"--shape {value.name}={shape} does not fit {value.type}")
    return given


def _random_array(value: Value, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    dtype = value.type.dtype
    if dtype == DType.BOOL:
        return rng.random(shape) < 0.5
    if dtype.is_int:
        return rng.integers(0, 10, shape).astype(dtype.to_numpy())
    if dtype.is_float:
        return rng.standard_normal(shape).astype(dtype.to_numpy())
    raise CompilerError(f"cannot draw random values for input %{value.name} of type {value.type}")


def execute(
    graph: Graph,
    inputs: Mapping[str, np.ndarray],
    *,
    backend: str,
    float64: bool = False,
    memory_budget: int | None = None,
) -> dict[str, np.ndarray]:
    """Run `graph` on `inputs` with the named backend; outputs by graph output name.

    `memory_budget` (numpy backend) caps the bytes of one node's outputs (default: the backend's).
    """
    from backends.numpy.checks import bind_inputs

    bind_inputs(graph.inputs, {v: v.name for v in graph.inputs}, inputs, float64)  # fail early
    if backend == "numpy":
        from backends.numpy import run

        return run(graph, inputs, float64=float64, memory_budget=memory_budget).outputs
    from backends.onnx import run_onnxruntime, to_onnx

    return run_onnxruntime(to_onnx(graph), dict(inputs))


def summarize_outputs(outputs: Mapping[str, np.ndarray]) -> str:
    """One line per output: name, dtype, shape, and min/max/mean for numeric tensors."""
    lines = []
    for name, array in outputs.items():
        head = f"%{name}: {array.dtype}{list(array.shape)}"
        if array.size and array.dtype.kind in "biuf":
            data = array.astype(np.float64)
            head += f"  min {data.min():.6g}  max {data.max():.6g}  mean {data.mean():.6g}"
        lines.append(head)
    return "\n".join(lines)


def save_outputs(outputs: Mapping[str, np.ndarray], path: Path) -> None:
    """Write `outputs` to `path` atomically (a temporary file in the same folder, then rename)."""
    from compiler.fileio import atomic_write, write_npz

    atomic_write(path, lambda handle: write_npz(handle, outputs))
