"""The one table of named pipelines, usable by name in any pipeline string (`default,my-pass`).

A value is pipeline text and may use other names (`"trt-fp16": "default,convert-fp16"`); names
must differ from pass names. Add an entry here to add a named pipeline.
"""

from __future__ import annotations

# Clean-ups run to a fixed point: folding exposes no-ops and shape constants, which expose
# merges and duplicates, which expose more folding. Pattern fusions come after the no-op and
# reshape clean-ups so they see canonical operands; prune last so each round starts small.
CLEANUP = (
    "fold-constants,eliminate-no-ops,fold-strided-gather,simplify-reshapes,merge-transposes,"
    "fold-bn-scale,fuse-pad-conv,fuse-layer-norm,fuse-gelu,fuse-matmul-add,cse{constants=false},"
    "prune-dead-nodes"
)

# Fusions run after the clean-ups (BN scale layers are merged, conv weights are constants) and
# before the final `cse` (constants are deduplicated only after it: the fusion refuses shared
# weights).
FUSIONS = "fuse-conv-bn-relu"

PIPELINES: dict[str, str] = {
    "O0": "",
    "cleanup": f"repeat({CLEANUP}; max-iterations=8)",
    "default": ",".join(p for p in ("cleanup", FUSIONS, "cse,prune-dead-nodes") if p),
    "trt-fp16": "default,convert-fp16,cse,prune-dead-nodes",
    # Weights only: activation ranges need calibration data (`irforge quantize`).
    "trt-int8": "default,quantize-symmetric{bits=8,per-channel=true}",
}
