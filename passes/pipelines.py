"""The one table of named pipelines, usable by name in any pipeline string (`default,my-pass`).

A value is pipeline text and may use other names (`"trt-fp16": "default,convert-fp16"`); names
must differ from pass names. Add an entry here to add a named pipeline.
"""

from __future__ import annotations

PIPELINES: dict[str, str] = {
    "O0": "",
    # Filled in as the optimization passes land (fold-constants, fuse-conv-bn-relu, clean-ups).
    "default": "prune-dead-nodes",
}
