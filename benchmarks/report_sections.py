"""The sections of `benchmarks/RESULTS.md`: per benchmark, its title, how to read it, its
headline (a template over the record's summary) and its tables (record keys and formats).

Only words live here; every figure comes from the JSON records (see `report.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Table:
    """Rows from `rows` (a record key holding a list, or "summary" for one row); columns are
    (header, dotted key, format name)."""

    rows: str
    columns: list[tuple[str, str, str]]
    caption: str = ""


@dataclass
class Section:
    """One benchmark: its record name, title, how to read it, a headline template over its
    summary and settings, which way is better, and its tables."""

    name: str
    title: str
    script: str
    reading: str
    headline: str
    better: str
    tables: list[Table] = field(default_factory=list)
    gpu: bool = False


STAT = "median (min–max)"

SECTIONS = [
    Section(
        "load", "Import: irforge load vs onnx.load + infer_shapes", "load_bench.py",
        "ratio = irforge's `compiler.load` time / (`onnx.load` + `infer_shapes`) on the same file, "
        f"medians of alternating runs, ms as {STAT}; lower is better (< 1: irforge faster).",
        "irforge/peer time {ratio_min:.2f}–{ratio_max:.2f}", "lower",
        [Table("cases", [("model", "model", "text"), ("nodes", "nodes", "int"),
                         ("peer ms", "peer_ms", "ms"), ("irforge ms", "ours_ms", "ms"),
                         ("ratio", "ratio", "ratio")])],
    ),
    Section(
        "reference", "NumPy reference backend vs ONNX Runtime and ReferenceEvaluator",
        "reference_bench.py",
        "per-call ms, one thread for every engine, engines alternating; ours/ORT lower is better "
        "(issue-3 target ≤ 3); RefEval/ours higher is better (target ≥ 10); maxdiff = max |ours − "
        "ORT| on output 0.",
        "ours/ORT ≤ {ours_over_ort_max:.2f}; RefEval/ours ≥ {refeval_over_ours_min:.1f}",
        "ours/ORT lower, RefEval/ours higher",
        [Table("cases", [("model", "model", "text"), ("batch", "batch", "int"),
                         ("ours ms", "ours_ms", "ms"), ("ORT ms", "ort_ms", "ms"),
                         ("RefEval ms", "refeval_ms", "ms"), ("ours/ORT", "ours_over_ort", "ratio"),
                         ("RefEval/ours", "refeval_over_ours", "ratio1"),
                         ("maxdiff", "maxdiff", "g2")])],
    ),
    Section(
        "conv_floor", "GEMM floor of resnet200's convolutions", "conv_floor.py",
        "floor = the summed best bare GEMM of every dense conv (no padding, copies or interpreter)"
        ", next to whole-model medians in the same run; floor / (RefEval/10) ≥ 1 would mean the "
        "10× RefEval target is out of reach of any NumPy conv design (lower floor share is "
        "better for the target).",
        "floor ≤ {floor_over_refeval10_max:.2f}× RefEval/10", "lower",
        [Table("cases", [("model", "model", "text"), ("batch", "batch", "int"),
                         ("dense convs", "dense_convs", "int"), ("floor ms", "floor_ms", "f1"),
                         ("ours ms", "ours_ms", "f1"), ("ORT ms", "ort_ms", "f1"),
                         ("RefEval ms", "refeval_ms", "f1"),
                         ("floor / (RefEval/10)", "floor_over_refeval10", "f2")])],
    ),
    Section(
        "memory", "Interpreter memory: allocated peak vs largest live set", "memory.py",
        "ratio = tracemalloc peak during a run / the largest set of live tensors; lower is better "
        "(issue-3 target ≤ 2).",
        "peak / live set {ratio:.2f}", "lower",
        [Table("cases", [("model", "model", "text"), ("batch", "batch", "int"),
                         ("nodes", "nodes", "int"), ("live set MB", "live_set_mb", "f2"),
                         ("tracemalloc peak MB", "traced_peak_mb", "f2"),
                         ("ratio", "ratio", "ratio"), ("RSS growth MB", "rss_growth_mb", "f2")])],
    ),
    Section(
        "optimizer", "Optimizer: `default` vs onnxsim, onnxscript, onnxoptimizer, ORT basic",
        "optimizer_bench.py",
        "node counts of the exported model: lower is better (target: ours ≤ the fewest of any "
        "peer); ratio = our optimize / `onnxsim.simplify` time, alternating, lower is better "
        "(target ≤ 0.5); peak/weights = optimize's tracemalloc peak / weight bytes, lower is "
        "better (target < 2); numerics = max error / tolerance of our export vs the original in "
        f"ORT. Times in ms as {STAT}.",
        "nodes ≤ best peer on {models_le_best}/{models} models; time/onnxsim ≤ {ratio_max:.2f};"
        " per-node time {scaling_min:.2f}–{scaling_max:.2f}× from 1k nodes; ORT latency "
        "{latency_ratio_min:.2f}–{latency_ratio_max:.2f}× the original",
        "lower",
        [Table("cases", [("model", "model", "text"), ("nodes", "original", "int"),
                         ("ours", "ours_nodes", "int"), ("IR", "ir_nodes", "int"),
                         ("onnxsim", "peer_nodes.onnxsim", "text"),
                         ("onnxscript", "peer_nodes.onnxscript", "text"),
                         ("onnxopt", "peer_nodes.onnxopt", "text"),
                         ("ORT basic", "peer_nodes.ort_basic", "text"),
                         ("≤ best", "ours_le_best", "yes"), ("ours ms", "ours_ms", "ms"),
                         ("onnxsim ms", "onnxsim_ms", "ms"), ("ratio", "ratio", "ratio"),
                         ("e2e ms", "e2e_ms", "ms"),
                         ("peak/weights", "optimize_peak_over_weights", "f2"),
                         ("numerics", "numerics", "text")]),
         Table("scaling", [("nodes", "nodes", "int"), ("after", "after", "int"),
                           ("ms", "ms", "ms"), ("ms/node", "ms_per_node", "f3"),
                           ("vs smallest", "vs_smallest", "ratio")],
               "Scaling on generated ladders: time per node vs the smallest (target within 1.5×)."),
         Table("latency", [("model", "model", "text"), ("original ms", "original_ms", "ms2"),
                           ("ours ms", "ours_ms", "ms2"), ("ours/original", "ratio", "ratio")],
               "ORT latency (ENABLE_ALL, 1 thread, batch 1) of our export vs the original: "
               "lower is better, ≤ 1 is no slower.")],
    ),
    Section(
        "quantization", "Symmetric int8 quantization vs ONNX Runtime's quantize_static",
        "quant_bench.py",
        "`ort sym`/`ort asym` = ORT's `quantize_static` (the peer), `ours trt`/`ours ort` = "
        "`irforge quantize` in the TensorRT / ORT Q/DQ layout (+bc: bias correction). SQNR (dB, "
        "vs the float model) and accuracy (1000 held-out MNIST digits): higher is better; "
        "vs float = float / int8 latency in ORT, batch 1: higher is better (> 1: int8 faster). "
        "The `--disjoint` table: EfficientNet-Lite0 calibrated and tuned only on images disjoint "
        "from its 10 test photos, top-1 on the photos higher is better. The `--budget` run "
        "(tuned on the photos themselves) is not part of `make bench`; it is in "
        "results/quantization.md.",
        "MNIST accuracy float {mnist_accuracy_float:.1f} %, ours int8 "
        "{mnist_accuracy_ours_trt:.1f} % (trt) / {mnist_accuracy_ours_ort:.1f} % (ort), ORT "
        "quantize_static {mnist_accuracy_ort_sym:.1f} %; ORT int8 speed-up (ort layout) "
        "{ort_int8_speedup_effnet_lite0:.2f}× effnet, {ort_int8_speedup_resnet200:.2f}× resnet200;"
        " EfficientNet-Lite0 int8 (disjoint calibration) {disjoint_photos_sqnr:.2f} dB on the "
        "photos",
        "higher",
        [Table("cases", [("model", "model", "text"), ("variant", "variant", "text"),
                         ("nodes", "nodes", "int"), ("MB", "MB", "f2"), ("SQNR dB", "SQNR", "f2"),
                         ("ref SQNR dB", "ref_SQNR", "f2"), ("rel-L2", "rel_L2", "f3"),
                         ("top-1 agree", "top_1_agree", "frac"), ("accuracy %", "accuracy", "f1"),
                         ("ms", "ms", "f3"), ("vs float", "vs_float", "ratio"),
                         ("quantize s", "quantize_s", "f2")])],
    ),
    Section(
        "tensorrt", "TensorRT network build: irforge's emitter vs TensorRT's ONNX parser",
        "trt_build_bench.py",
        "the same model through irforge (`default`, then our layer emitter) and through "
        "TensorRT's own `OnnxParser`, built by the CPU-side TensorRT-RTX builder: network layers "
        "(fewer is less for the builder to fuse: lower is better), engine layers after fusion, "
        "build seconds (lower is better).",
        "{built_fp32}/{models} models built; TensorRT's parser parsed {parser_parsed}/{models}",
        "lower",
        [Table("cases", [("model", "model", "text"), ("IR nodes", "fp32.nodes", "int"),
                         ("layers", "fp32.layers", "int"), ("engine layers", "fp32.engine", "int"),
                         ("build s", "fp32.build", "f2"), ("fp16 build s", "fp16.build", "f2"),
                         ("parser parsed", "parser.parsed", "text"),
                         ("parser layers", "parser.layers", "int"),
                         ("parser engine layers", "parser.engine", "int"),
                         ("parser build s", "parser.build", "f2")])],
    ),
    Section(
        "large_model", "Very large model: load → optimize → export > 2 GB", "large_model.py",
        "peak RSS of a fresh process that loads, optimizes and exports the model with external "
        "weights, over the weight bytes: lower is better (target < 50 %).",
        "peak RSS {peak_over_weights:.1%} of the weights", "lower",
        [Table("cases", [("weights GB", "weights_gb", "f2"), ("peak RSS GiB", "peak_rss_gib", "f3"),
                         ("peak / weights", "peak_over_weights", "pct"),
                         ("load s", "load_s", "f1"), ("optimize s", "optimize_s", "f1"),
                         ("export s", "export_s", "f1"), ("nodes before", "nodes_before", "int"),
                         ("nodes after", "nodes_after", "int")])],
    ),
    Section(
        "fuzz", "Fuzz campaign", "fuzz_campaign.py",
        "mutated models and textual IR through the compiler; `uncaught` counts anything other "
        "than ok or a CompilerError (other exceptions, timeouts, hangs, crashes): lower is better, "
        "must be 0. `make bench` runs a shorter campaign than the issue-9 one "
        "(`--cases 20000`, in results/fuzz.md) to keep within its time budget.",
        "{cases} cases, {uncaught} uncaught, {campaign_s:.0f} s", "lower (uncaught)",
        [Table("summary", [("cases", "cases", "int"), ("uncaught", "uncaught", "int"),
                           ("seconds", "campaign_s", "f1"), ("cases/s", "cases_per_s", "f1"),
                           ("slowest case s", "slowest_case_s", "f1"),
                           ("ok", "outcomes.ok", "int")]),
         Table("summary", [("outcomes", "outcomes", "dict")]),
         Table("uncaught_cases", [("case", "case", "text"), ("outcome", "outcome", "text"),
                                  ("seconds", "seconds", "f1")],
               "Cases counted as uncaught (the first 50; details in the record):")],
    ),
    Section(
        "conformance", "ONNX node tests through the NumPy reference backend", "conformance.py",
        "covered = cases whose ops and value types the IR has; pass rate over covered cases: "
        "higher is better.",
        "{passed}/{covered} covered pass ({covered}/{total} covered)", "higher",
        [Table("summary", [("op types", "op_types", "int"), ("total", "total", "int"),
                           ("covered", "covered", "int"), ("passed", "passed", "int"),
                           ("failed", "failed", "int"), ("pass rate", "pass_rate", "pct"),
                           ("seconds", "sweep_s", "f1")])],
    ),
    Section(
        "node_roundtrip", "ONNX node tests: ONNX → IR → ONNX round trip", "node_roundtrip.py",
        "every covered node case imported and exported, then compared bitwise in ORT (or against "
        "the stored outputs where ORT cannot run the original); pass rate: higher is better.",
        "{passed}/{covered} covered pass ({covered}/{total} covered)", "higher",
        [Table("summary", [("total", "total", "int"), ("covered", "covered", "int"),
                           ("passed", "passed", "int"), ("failed", "failed", "int"),
                           ("pass rate", "pass_rate", "pct"), ("oracles", "oracles", "dict"),
                           ("seconds", "sweep_s", "f1")])],
    ),
    Section(
        "cuda", "CUDA device layer: host ↔ device copy bandwidth", "cuda_bandwidth.py",
        "GB/s (10⁹ B/s) of our copies, median of runs, with CuPy's and torch's interleaved; "
        "GB/s higher is better; ours/peer ≈ 1 means no overhead over the peers.",
        "pinned {pinned_H2D_gbps:.1f} (H2D) / {pinned_D2H_gbps:.1f} (D2H) GB/s at "
        "{largest_mib} MiB, {pinned_over_pageable_H2D:.1f}× pageable; ours/CuPy pinned "
        "{ours_over_cupy_pinned_min:.2f}–{ours_over_cupy_pinned_max:.2f} from 4 MiB",
        "higher",
        [Table("cases", [("MiB", "mib", "int"), ("host memory", "memory", "text"),
                         ("dir", "dir", "text"), ("ours GB/s", "ours_gbps", "f2"),
                         ("events GB/s", "events_gbps", "f2"), ("CuPy GB/s", "cupy_gbps", "f2"),
                         ("ours/CuPy", "ours_over_cupy", "f3"), ("torch GB/s", "torch_gbps", "f2"),
                         ("ours/torch", "ours_over_torch", "f3")])],
        gpu=True,
    ),
]  # fmt: skip
