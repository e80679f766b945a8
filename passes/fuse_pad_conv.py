"""`fuse-pad-conv`: a zero `Pad` of the spatial dims before a `Conv` becomes the conv's `pads`.

A convolution with `pads = [b_1..b_k, e_1..e_k]` reads x as if zero-padded by `b_i` before and
`e_i` after spatial dim i. So `Conv(Pad(x, p, 0))` with a constant, non-negative `p` that leaves
the batch and channel dims alone equals `Conv(x)` with

    pads'[i] = pads[i] + p[2 + i],   pads'[k + i] = pads[k + i] + p[r + 2 + i]

(`p` is `[begins over all r dims..., ends...]`). Only mode `constant` with value 0 (or absent)
qualifies, and the conv must use explicit pads (`auto_pad = NOTSET`). The pad stays while it has
other users.

Before:

```
%p = pad(%x, %pads, %zero) {mode = "constant"} : f32[N,3,225,225]   # pads [0,0,0,0, 0,0,1,1]
%y = conv(%p, %w) {pads = [0, 0, 0, 0], strides = [2, 2], ...} : f32[N,32,112,112]
```

After: `%y = conv(%x, %w) {pads = [0, 0, 1, 1], strides = [2, 2], ...}`.

Numerics: exact (the same products; the padded zeros contribute nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from compiler.graph import Graph
from compiler.ir import Node
from compiler.passmanager import Pass, register_pass
from passes.common import all_equal_to, erase_if_dead, refine_from


@register_pass
@dataclass(frozen=True)
class FusePadConvPass(Pass):
    """Fold constant zero padding of spatial dims into the following convolutions."""

    name: ClassVar[str] = "fuse-pad-conv"

    def run(self, graph: Graph) -> bool:
        changed = False
        for node in graph.nodes:
            if node.op == "conv" and _fuse(graph, node):
                changed = True
        return changed


def _spatial_pads(pad: Node, rank: int) -> list[int] | None:
    """The pad's spatial [begins..., ends...], or None when it cannot merge into a conv."""
    if pad.attrs.get("mode", "constant") != "constant" or pad.input(3) is not None:
        return None
    value = pad.input(2)
    if value is not None and not all_equal_to(value.const_value(), 0):
        return None
    pads_in = pad.input(1)
    array = None if pads_in is None else pads_in.const_value()
    if array is None or array.dtype.kind not in "iu" or array.size != 2 * rank:
        return None
    p = [int(v) for v in array.reshape(-1)]
    if any(v < 0 for v in p) or p[0] or p[1] or p[rank] or p[rank + 1]:
        return None
    return p[2:rank] + p[rank + 2 :]


def _fuse(graph: Graph, conv: Node) -> bool:
    x = conv.inputs[0]
    pad = x.producer if x is not None else None
    if pad is None or pad.op != "pad" or conv.attrs.get("auto_pad", "NOTSET") != "NOTSET":
        return False
    source = pad.inputs[0]
    if source is None or source.type.shape is None:
        return False
    extra = _spatial_pads(pad, len(source.type.shape))
    pads = conv.attrs.get("pads")
    if extra is None or pads is None or len(pads) != len(extra):
        return False
    conv.attrs = {**conv.attrs, "pads": tuple(a + b for a, b in zip(pads, extra, strict=True))}
    conv.set_input(0, source)
    erase_if_dead(graph, pad)
    # Inference may know more of the conv's output from the unpadded input than the stored type
    # did (a pad whose pads became constant only after import keeps symbolic dims).
    refine_from(conv)
    return True


__all__ = ["FusePadConvPass"]
