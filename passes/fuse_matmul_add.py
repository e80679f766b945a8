"""`fuse-matmul-add`: `Add(MatMul(A, B), C)` with 2-D operands becomes `Gemm(A, B, C)`.

Gemm computes `alpha · A·B + beta · C` with C unidirectionally broadcast to `[M, N]`; with
`alpha = beta = 1` and no transposes that is exactly the matmul followed by the bias add. The
rule needs

* A and B of rank 2 (Gemm is 2-D only),
* C broadcasting to the product's shape without growing it (the add's output type equals the
  matmul's), e.g. a bias `[N]`, `[1, N]` or `[M, N]`,
* the matmul's result used only by the add (otherwise both would still be computed).

Before:

```
graph @main(%x: f32[N,64]) -> (f32[N,32]) {
  %w = const() {value = dense<f32[64,32]: ...>} : f32[64,32]
  %b = const() {value = dense<f32[32]: ...>} : f32[32]
  %m = matmul(%x, %w) : f32[N,32]
  %y = add(%m, %b) : f32[N,32]
  return %y
}
```

After: `%y = gemm(%x, %w, %b) {alpha = 1.0, beta = 1.0, transA = 0, transB = 0} : f32[N,32]`.

Numerics: the same products and sums; a backend may round `A·B + C` in one fused step, which
the derived tolerance (accumulation depth K + 1) covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from compiler.graph import Graph
from compiler.ir import Value
from compiler.passmanager import Pass, register_pass
from compiler.passmanager.rewrite import Match, P, RewriteBuilder, RewriteRule, apply_rules


class MatMulAddToGemm(RewriteRule):
    """add(matmul(a, b), c) or add(c, matmul(a, b)) -> gemm(a, b, c)."""

    name = "matmul-add-to-gemm"
    pattern = P("add")

    def check(self, match: Match) -> str | None:
        split = _split(match)
        if split is None:
            return "no 2-D matmul operand used only by this add, or the bias grows the shape"
        # part of the match before the rewrite builder is made: the gemm's location fuses both
        # nodes' origins, and the driver erases the matmul once unused
        if split[0].producer not in match.matched:
            match.matched.append(split[0].producer)  # type: ignore[arg-type]
        return None

    def rewrite(self, match: Match, b: RewriteBuilder) -> Value:
        split = _split(match)
        assert split is not None
        mm, bias = split
        assert mm.producer is not None
        a, w = mm.producer.inputs
        return b.op_like("gemm", a, w, bias, like=match.root.output)


def _split(match: Match) -> tuple[Value, Value] | None:
    """(matmul output, bias) when the add is a fusible bias add."""
    add = match.root
    for mm, bias in (add.inputs, tuple(reversed(add.inputs))):
        if mm is None or bias is None or mm.producer is None or mm.producer.op != "matmul":
            continue
        if mm.num_uses != 1 or mm.is_graph_output or bias.type.shape is None:
            continue
        a, w = mm.producer.inputs
        if a is None or w is None or a.type.rank != 2 or w.type.rank != 2:
            continue
        if len(bias.type.shape) <= 2 and add.output.type == mm.type:
            return mm, bias
    return None


@register_pass
@dataclass(frozen=True)
class FuseMatMulAddPass(Pass):
    """Turn 2-D MatMul + bias Add into Gemm."""

    name: ClassVar[str] = "fuse-matmul-add"

    def run(self, graph: Graph) -> bool:
        return apply_rules(graph, [MatMulAddToGemm()])


__all__ = ["FuseMatMulAddPass", "MatMulAddToGemm"]
