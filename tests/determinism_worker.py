"""Worker for tests/test_determinism.py: optimize models and print the SHA-256 of every output file.

Writes ONNX with external data and textual IR (+ resources) for every model, and ONNX with
inline data where the constants are small. Run as
`python tests/determinism_worker.py OUT_DIR PIPELINE MODEL...`, each model a path; prints one JSON
object `{model: {file: sha256}}` on stdout. Run it twice with different `PYTHONHASHSEED`s and
compare the digests: irforge's outputs must not depend on hashing or on the process.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

INLINE_LIMIT = 64 << 20
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def digests(model: Path, out_dir: Path, pipeline: str) -> dict[str, str]:
    """Load, optimize and write one model as ONNX (with external data) and as textual IR."""
    from backends.onnx import save_onnx
    from compiler.driver import load_model
    from compiler.optimizer import optimize
    from compiler.text import save_text

    graph = load_model(model)
    optimize(graph, pipeline)
    stem = out_dir / model.stem
    save_onnx(graph, f"{stem}.ext.onnx", pipeline=pipeline, external_data=True)
    if _const_bytes(graph) <= INLINE_LIMIT:  # the light models' folded splats are 0.5 GB inline
        save_onnx(graph, f"{stem}.onnx", pipeline=pipeline, external_data=False)
    save_text(graph, f"{stem}.ir")
    files = sorted(p for p in out_dir.iterdir() if p.name.startswith(f"{model.stem}."))
    result = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    for p in files:
        p.unlink()
    return result


def _const_bytes(graph: object) -> int:
    return sum(n.attrs["value"].nbytes for n in graph.nodes if n.op == "const")  # type: ignore[attr-defined]


def main(argv: list[str]) -> int:
    out_dir, pipeline, models = Path(argv[0]), argv[1], [Path(m) for m in argv[2:]]
    out_dir.mkdir(parents=True, exist_ok=True)
    print(json.dumps({m.stem: digests(m, out_dir, pipeline) for m in models}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
