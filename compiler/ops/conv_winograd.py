"""Winograd F(2x2, 3x3) convolution for dense 3x3 stride-1 convs (NumPy + OpenBLAS sgemm).

API
---
- `winograd_conv3x3(x, w, pads, out_hw)`: `x [N, C, H, W]` (float32 or float64; the math runs in
  that dtype), `w` either a `[M, C, 3, 3]` array or the `WinogradWeights` of one, explicit
  `pads = [top, left, bottom, right]` (any non-negative values), stride 1, dilation 1, one group.
  Returns a C-contiguous `[N, M, Ho, Wo]` array.
- `transform_weights(w, dtype)`: the weights in the Winograd domain, to compute once and pass
  instead of `w` (constants are reused on every run).
- `cached_weights(w, dtype)`: the same, computed once per read-only array and dtype (what
  `winograd_conv3x3` does with a raw array), through `compiler.ops.derived`: entries are keyed by
  the array's identity and hold a weakref to it, so an entry dies with its array and a later
  array that reuses the id is never served a stale transform. Only read-only arrays are cached
  (the IR freezes its constants): a writeable array is transformed afresh on every call, so
  mutating it is always seen. Not detected: writing to a read-only array through a writeable base
  or after flipping its flag back (that breaks the read-only promise). Transformed weights are
  read-only (shared by every later call) and take 16/9 of the weights' size (60-80 MB in float32
  for the 3x3 stride-1 convs of ResNet-50).
- `prefer_winograd(n, c, m, h, w)`: whether this kernel beats `conv_kernels.conv` for a batch of
  `n` `c`-to-`m`-channel maps whose output is `h x w` (the cost model below).

Algorithm
---------
Each 2x2 output tile is `A^T [(G g G^T) * (B^T d B)] A` for its 4x4 input window `d`, with
`B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]`, `G = [[1,0,0],[.5,.5,.5],[.5,-.5,.5],
[0,0,1]]`, `A^T = [[1,1,1,0],[0,1,-1,-1]]`: 16 multiplies per 4 outputs instead of 36, so the
GEMMs do 4/9 of direct conv's work. The 4x4 positions are stored in slot order (0, 3, 1, 2) of
the transform's rows and columns: the two same-phase differences first, then the two terms that
mix both phases (step 2).

1. *Phase planes.* The zero-padded input is split into its four (row parity a, column parity b)
   phases, one flat `(th+1) x (tw+1)` plane per image and channel (`th x tw` tiles). The 4x4
   window of tile (t, j) is phase (a, b) at plane positions (t, j), (t, j+1), (t+1, j),
   (t+1, j+1), so every transform step is an addition or subtraction of two *shifted flat views*:
   shift 1 is the next tile column, shift `tw+1` the next tile row. The extra plane row and
   column hold values no valid tile reads (the padding lands in them too, so there is no
   separate padded copy: one strided copy of x fills the planes, plus zeroed pad borders).
   NumPy needs this flatness: ufuncs over multi-dimensional strided views ran at 0.5-0.6 ns per
   float32 element vs 0.15-0.3 ns flat, unless the innermost run exceeds ~3000 elements.
2. *Input transform* `B^T d B`, separably: along columns `E - E', O - O', O + E', E' - O` (E, O
   the even/odd column phases, ' the next tile column), then the same along rows; 8 array ops in
   channel blocks of `_BLOCK` elements per plane (the column result stays in L2).
3. *GEMMs*, one per tile position: `Y[r, s] = U[r, s] @ V[r, s]`, `[M, C] @ [C, tiles]` (that
   orientation measured 1.0-1.8x faster than `V^T` operands). "Strided": per image, straight on
   the plane views (BLAS row stride = plane length; one garbage column per tile row is computed).
   "Compact": valid tiles of all images copied into `[C, images * tiles]` so they share one GEMM;
   used for tiny maps (<= 16 tiles: 7x7, 512 channels, 1 image: 1.95 vs 2.65 ms strided) and for
   batches whose weights outweigh the per-image tiles (`c*m >= 2*(c+m)*tiles`; 512 channels 7x7,
   8 images: 13.0 vs 20.5 ms). OpenBLAS runs GEMMs with M*N*K <= 1e6 on an unpacked small-matrix
   kernel: 512x512 weights times 16 tiles ran 1.48 ms in row chunks vs 1.78 ms whole, and
   64x64 times 812 tiles 0.86 vs 0.99 ms in 244-column chunks, hence `_SMALL_GEMM` chunking.
4. *Output transform* `A^T m A` is linear in the 16 positions: one `[4, 16] @ [16, cols]` GEMM in
   small-kernel column steps (0.18 vs 0.33 ms for eight in-place NumPy passes at 64 channels,
   56x56), then four strided copies into the output.
5. *Bands.* Large maps are cut into bands of output rows, each a sub-convolution with its own
   halo and pads, so that one band's V and Y (~`_BAND_BYTES`, and at least 4x the transformed
   weights, which each band re-reads) stay near the cache: 64 channels at 112x112 went 13.6 ->
   8.3 ms, at 56x56 2.3 -> 1.9 ms.

Tile size, by accuracy
----------------------
Max |error| / max |y| against a float64 reference, float32, 1 image, N(0, 1) data and weights
(interpolation points of each tile in brackets; x = multiple of direct float32 conv's error):

    C=M, map    direct  F(2x2)         F(3x3) [0,+-1,2]  F(4x4) [0,+-1,+-2]  [0,+-1,2,-1/2]
    64, 56x56   1.9e-7  3.3e-7 (1.7x)  2.4e-6 (13x)      5.8e-6 (31x)        2.6e-6 (14x)
    256, 14x14  5.7e-7  6.6e-7 (1.2x)  5.3e-6 (9x)       1.2e-5 (22x)        5.4e-6 (10x)
    512, 7x7    4.3e-7  7.3e-7 (1.7x)  3.7e-6 (9x)       7.7e-6 (18x)        3.9e-6 (9x)

ReLU'd inputs with He-scaled weights gave F(2x2) 1.6-1.8x, F(4x4) 29-44x and 10-11x. Only
F(2x2, 3x3) stays within 2-3x of direct float32 conv; even the rectangular F(2x4, 3x3) measured
3.5-4.1x. So tiles are 2x2 (the input and output transforms' constants are 0 and +-1, exact in
any dtype; the weights' 0.5 is applied in float64).

Measured against `conv_kernels.conv` as of d4c8792 (1 BLAS thread, 2-core Xeon VM, weights
transformed beforehand, heap kept mapped as below; medians of 81 / 16 interleaved runs, ms;
float32 error as max |error| / max |y| on ReLU'd inputs and He-scaled weights):

    C=M, map    direct 1  Winograd 1            direct 8  Winograd 8     error direct / Winograd
    64, 56x56   2.66      1.94 (1.37x)          22.49     16.97 (1.33x)  1.7e-7 / 3.0e-7
    128, 28x28  2.11      1.51 (1.40x)          17.82     12.83 (1.39x)  2.1e-7 / 4.1e-7
    256, 14x14  2.06      1.52 (1.35x)          16.41     12.32 (1.33x)  2.9e-7 / 4.0e-7
    512, 7x7    2.66      2.10-2.77 (1.0-1.25x) 21.13     14.58 (1.45x)  3.2e-7 / 8.0e-7

What bounds it: at 64 channels, 56x56 the GEMMs take ~1.0 ms and the transforms, copies and
Python ~0.9 ms (they scale with C + M, the GEMMs with C * M); at 512 channels, 7x7, one image,
the GEMMs stream 16 MB of transformed weights (vs 9.4 MB for direct conv) for 16 tiles each, so
that case depends on the memory bandwidth the other core leaves (hence the range).

Allocation: the temporaries (per band, V and Y are each about 4x the input) are fresh arrays,
shared by a call's bands. With glibc's default heap trimming they are faulted in page by page on
every call (1,237 faults, 3.4 instead of 1.9 ms at 64 channels, 56x56); the numbers above keep
freed heap mapped (`mallopt(M_TOP_PAD, 64 MiB)`, the NumPy backend's allocator tuning).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from compiler.ops.derived import derived

# -- transform matrices (rows and columns of the 4x4 tile domain in slot order) ------------------

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
_AT = np.array([[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]])
_SLOTS = (0, 3, 1, 2)  # slot k holds transform row _SLOTS[k]
# output pixel (a, b) of a tile = sum over positions (r, s) of A[a, r] A[b, s] Y[r, s]
_A4 = np.einsum("ar,bs->abrs", _AT[:, _SLOTS], _AT[:, _SLOTS]).reshape(4, 16)

# -- tuning (measured on this machine, see the module docstring) ---------------------------------

_SMALL_GEMM = 1_000_000  # OpenBLAS's small-matrix kernel takes GEMMs with M*N*K up to this
_BLOCK = 32 * 1024  # elements per input-transform block (its column result fits L2)
_STRIDED_CHUNK_BYTES = 4 * 1024 * 1024  # V + Y of one image chunk, strided layout
_COMPACT_CHUNK_BYTES = 32 * 1024 * 1024  # compact layout: more images per GEMM pays off
_BAND_BYTES = 4 * 1024 * 1024  # V + Y of one image's row band
_COMPACT_TILES = 16  # maps with at most this many tiles always run compact
_TINY_T = 32  # compact GEMMs this narrow go in output-channel chunks (small-matrix kernel)


@dataclass(frozen=True, eq=False)
class WinogradWeights:
    """Weights in the Winograd domain: `u[r, s, m, c] = (G w[m, c] G^T)[slot r, slot s]`."""

    u: np.ndarray  # [4, 4, M, C], C-contiguous

    @property
    def out_channels(self) -> int:
        return int(self.u.shape[2])

    @property
    def in_channels(self) -> int:
        return int(self.u.shape[3])

    @property
    def dtype(self) -> np.dtype:
        return self.u.dtype

    @property
    def nbytes(self) -> int:
        return int(self.u.nbytes)


def _float_dtype(dtype: np.dtype | type) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"Winograd conv computes in float32 or float64, not {dt}")
    return dt


def transform_weights(w: np.ndarray, dtype: np.dtype | type = np.float32) -> WinogradWeights:
    """`G w G^T` for every (output, input) channel pair, computed in float64, stored read-only
    in `dtype` (the dtype of the inputs it will be used with)."""
    dt = _float_dtype(dtype)
    if w.ndim != 4 or w.shape[2:] != (3, 3):
        raise ValueError(f"expected [M, C, 3, 3] weights, got shape {w.shape}")
    m, c = w.shape[0], w.shape[1]
    kron = np.kron(_G, _G).reshape(4, 4, 9)[np.ix_(_SLOTS, _SLOTS)].reshape(16, 9)
    u = np.matmul(kron, w.reshape(m * c, 9).astype(np.float64).T)
    u = np.ascontiguousarray(u.reshape(4, 4, m, c), dtype=dt)
    u.flags.writeable = False
    return WinogradWeights(u)


def cached_weights(w: np.ndarray, dtype: np.dtype | type = np.float32) -> WinogradWeights:
    """`transform_weights(w, dtype)`, computed once per read-only array and dtype; a writeable
    array is transformed on every call (see the module docstring for the guarantees)."""
    dt = _float_dtype(dtype)
    result: WinogradWeights = derived(
        (w,), ("winograd F(2x2, 3x3)", dt.str), lambda a: transform_weights(a, dt)
    )
    return result


# -- cost model ----------------------------------------------------------------------------------


def _compact(n: int, c: int, m: int, th: int, tw: int) -> bool:
    """Whether the GEMMs run on compacted tiles (all images in one GEMM) or on plane views."""
    return th * tw <= _COMPACT_TILES or (n > 1 and c * m >= 2 * (c + m) * th * (tw + 1))


def _winograd_seconds(n: int, c: int, m: int, h: int, w: int) -> float:
    th, tw = -(-h // 2), -(-w // 2)
    compact = _compact(n, c, m, th, tw)
    tiles = n * th * (tw if compact else tw + 1)
    gemm = 16 * c * m * tiles  # multiply-adds
    transformed = 16 * n * (c + m) * (th + 1) * (tw + 1)  # V and Y elements
    weights = 16 * c * m * (1 if compact else n)  # U elements streamed
    return 85.5e-6 + 1.774e-11 * gemm + 4.95e-10 * transformed + 1.53e-10 * weights


def _direct_seconds(n: int, c: int, m: int, h: int, w: int) -> float:
    gemm = 9 * c * m * n * h * (w + 2)  # shifted GEMMs run on the padded width
    return 30.6e-6 + 1.518e-11 * gemm + 1.313e-9 * n * (c + m) * h * w + 1.99e-10 * 9 * c * m


@functools.lru_cache(maxsize=4096)
def prefer_winograd(n: int, c: int, m: int, h: int, w: int) -> bool:
    """Whether `winograd_conv3x3` is expected to beat `conv_kernels.conv` on a batch of `n`
    3x3 stride-1 convs from `c` to `m` channels with an `h x w` output (float32, weights
    transformed beforehand).

    Both times are linear models fitted (least squares on relative error) to 113 measured
    shapes: 1 and 4 images, 8 to 512 channels, 4x4 to 112x112 maps, some with C != M. Winograd:
    85 us per call, 17.7 ps per GEMM multiply-add (16*C*M per tile, ~113 GFLOP/s), 0.50 ns per
    transformed element (V and Y) and 0.15 ns per weight element streamed (per image in the
    strided layout). Direct: 31 us, 15.2 ps per multiply-add over the padded width, 1.3 ns per
    activation element, 0.2 ns per weight element. Median error 9% for each model; the choice
    disagreed with the measurement on 8 shapes, measured at 0.98-1.39x: one 2% loss (8 images,
    64 channels, 14x14) and seven missed wins (largest: 16 channels at 112x112, 1.24x; 32 to 64
    channels at 30x17, 1.39x), costing 0.8% of the sweep's total time against an oracle that
    always picks the faster kernel. In short, for one image Winograd is picked from ~32 channels on
    56x56 maps, ~52 on 28x28, ~84 on 14x14 and ~176 on 7x7 (at 8 images: 28, 36, 52, 88), never
    below ~24 channels.
    """
    if min(n, c, m, h, w) <= 0:
        return False
    return _winograd_seconds(n, c, m, h, w) < _direct_seconds(n, c, m, h, w)


# -- the kernel ----------------------------------------------------------------------------------


def winograd_conv3x3(
    x: np.ndarray, w: np.ndarray | WinogradWeights, pads: Sequence[int], out_hw: Sequence[int]
) -> np.ndarray:
    """Dense 3x3 stride-1 convolution of `x [N, C, H, W]` with `w` (`[M, C, 3, 3]` or its
    `WinogradWeights`) and explicit `pads = [top, left, bottom, right]`: `[N, M, *out_hw]`."""
    if x.ndim != 4:
        raise ValueError(f"expected an [N, C, H, W] input, got shape {x.shape}")
    n, c, h, wd = x.shape
    dt = _float_dtype(x.dtype)
    ww = w if isinstance(w, WinogradWeights) else cached_weights(w, dt)
    if ww.dtype != dt:
        raise TypeError(f"weights were transformed for {ww.dtype}, the input is {dt}")
    if ww.in_channels != c:
        raise ValueError(f"input has {c} channels, the weights expect {ww.in_channels}")
    top, left, bottom, right = (int(v) for v in pads)
    if min(top, left, bottom, right) < 0:
        raise ValueError(f"pads must be non-negative, got {list(pads)}")
    ho, wo = int(out_hw[0]), int(out_hw[1])
    if (ho, wo) != (h + top + bottom - 2, wd + left + right - 2):
        raise ValueError(f"output {ho}x{wo} does not match a 3x3 conv of {h}x{wd} with {pads}")
    m = ww.out_channels
    if min(n, m, ho, wo) <= 0 or c == 0:
        return np.zeros((n, m, max(ho, 0), max(wo, 0)), dt)
    y = np.empty((n, m, ho, wo), dt)
    rows = _band_rows(c, m, wo, dt.itemsize, ho)
    scratch: dict[str, np.ndarray] = {}  # the first (largest) band's buffers serve them all
    for r0 in range(0, ho, rows):  # each band: output rows [r0, r1), input rows with its halo
        r1 = min(r0 + rows, ho)
        x0, x1 = max(0, r0 - top), min(h, r1 + 2 - top)
        _Conv(x[:, :, x0:x1], ww.u, max(0, top - r0), left, y[:, :, r0:r1], scratch)
    return y


def _band_rows(c: int, m: int, wo: int, itemsize: int, ho: int) -> int:
    """Output rows per band (even, balanced): all of them unless one image's V and Y exceed
    1.5x the band budget (`_BAND_BYTES`, at least 4x the transformed weights)."""
    per_row = 4 * (c + m) * (wo + 2) * itemsize  # V and Y bytes per output row of one image
    target = max(_BAND_BYTES, 4 * 16 * c * m * itemsize)
    if per_row * ho <= 1.5 * target:
        return ho
    bands = -(-per_row * ho // target)
    return 2 * -(-ho // (2 * bands))


def _balanced(total: int, most: int) -> int:
    """The chunk size that splits `total` into as few chunks of at most `most` as possible,
    evenly."""
    return -(-total // -(-total // max(1, most)))


def _rows(buf: np.ndarray, start: int, count: int, stride: int, length: int) -> np.ndarray:
    """`count` rows of `length` elements of the flat `buf`, `stride` apart from `start` (a view;
    numpy checks the bounds)."""
    size = buf.itemsize
    return np.ndarray((count, length), buf.dtype, buf, start * size, (stride * size, size))


_Span = tuple[int, int, int, int, int, int, int, int]


class _Conv:
    """One convolution (or row band) into `y`: image chunks through fill, input transform,
    GEMMs and output transform, in buffers taken from `scratch` (grown when too small).

    Buffers (flat; `s` = images * C * plane elements of a chunk):
    - `planes`: `[b, a, image, channel, plane]` phase planes of the padded input (+2 zeros: the
      shifted views of the last plane read one element past it),
    - `cols`: `[slot s, a, block]` column-transformed block (+ zeros: the next-tile-row views of
      its last plane read a tile row past it),
    - `tiles`: `[slot r, slot s, image, channel, plane]` = V; `compacted`: `[r, s, C, image,
      tile]`,
    - `prods`: `[r, s, ...]` = Y, `[M, image, tile]` compact or `[image, M, plane row]` strided,
    - `outs`: `[a, b, ...]` output pixels in Y's column order.
    """

    def __init__(
        self, x: np.ndarray, u: np.ndarray, top: int, left: int, y: np.ndarray,
        scratch: dict[str, np.ndarray],
    ) -> None:  # fmt: skip
        n, c, h, wd = x.shape
        m, ho, wo = u.shape[2], y.shape[2], y.shape[3]
        dt = x.dtype
        th, tw = -(-ho // 2), -(-wo // 2)
        hq, wq = th + 1, tw + 1
        plane = hq * wq
        compact = _compact(n, c, m, th, tw)
        cols_per_image = th * tw if compact else th * wq
        per_image = 16 * (c * plane + m * cols_per_image) * dt.itemsize
        budget = _COMPACT_CHUNK_BYTES if compact else _STRIDED_CHUNK_BYTES
        chunk = max(1, min(n, budget // per_image))
        chunk = _balanced(n, chunk)
        s_max = chunk * c * plane
        self.x, self.u, self.y = x, u, y
        self.c, self.m, self.th, self.tw, self.hq, self.wq = c, m, th, tw, hq, wq
        self.plane, self.compact = plane, compact
        self.block = max(1, min(chunk * c, _BLOCK // plane)) * plane

        def buffer(name: str, size: int) -> np.ndarray:
            if name not in scratch or scratch[name].size < size:
                scratch[name] = np.empty(size, dt)
            return scratch[name][:size]

        self.planes = buffer("planes", 4 * s_max + 2)
        self.cols = buffer("cols", 8 * self.block + wq + 2)
        self.tiles = buffer("tiles", 16 * s_max)
        self.compacted = buffer("compacted", 16 * c * chunk * th * tw if compact else 0)
        self.prods = buffer("prods", 16 * m * chunk * cols_per_image)
        self.outs = buffer("outs", 4 * m * chunk * cols_per_image)
        self.a4 = _A4.astype(dt)
        self.spans = self._spans(h, wd, top, left)
        for i0 in range(0, n, chunk):
            i1 = min(i0 + chunk, n)
            self._fill(i0, i1)
            self._transform_input(i1 - i0)
            self._transform_output(i0, i1, self._multiply(i1 - i0))

    def _spans(self, h: int, wd: int, top: int, left: int) -> list[_Span]:
        """Per phase (a, b): its first plane row and count with input, first column and count,
        and the input row and column they start at (stepping by 2)."""
        spans: list[_Span] = []
        for a in (0, 1):
            t0 = max(0, -(-(top - a) // 2))
            xr = 2 * t0 + a - top
            rows = max(0, min(len(range(xr, h, 2)), self.hq - t0))
            for b in (0, 1):
                j0 = max(0, -(-(left - b) // 2))
                xc = 2 * j0 + b - left
                cols = max(0, min(len(range(xc, wd, 2)), self.wq - j0))
                spans.append((a, b, t0, rows, j0, cols, xr, xc))
        return spans

    def _fill(self, i0: int, i1: int) -> None:
        """Phase planes of images [i0, i1): one strided copy per phase, zeros around it."""
        d = self.planes[: 4 * (i1 - i0) * self.c * self.plane]
        d = d.reshape(2, 2, i1 - i0, self.c, self.hq, self.wq)
        for a, b, t0, rows, j0, cols, xr, xc in self.spans:
            phase = d[b, a]
            if rows and cols:
                src = self.x[i0:i1, :, xr : xr + 2 * rows - 1 : 2, xc : xc + 2 * cols - 1 : 2]
                np.copyto(phase[:, :, t0 : t0 + rows, j0 : j0 + cols], src)
            phase[:, :, :t0] = 0
            phase[:, :, t0 + rows :] = 0
            phase[:, :, t0 : t0 + rows, :j0] = 0
            phase[:, :, t0 : t0 + rows, j0 + cols :] = 0

    def _transform_input(self, images: int) -> None:
        """V = B^T d B for every tile: columns then rows, as shifted flat views, per block."""
        planes, cols, tiles, wq = self.planes, self.cols, self.tiles, self.wq
        s = images * self.c * self.plane
        planes[4 * s : 4 * s + 2] = 0  # what the last shifted views read past the planes
        for off in range(0, s, self.block):
            ln = min(self.block, s - off)
            cols[8 * ln : 8 * ln + wq + 2] = 0  # likewise past the column result
            # even / odd column phases (rows a = 0, 1), and the next tile column ("1")
            e, e1 = _rows(planes, off, 2, s, ln), _rows(planes, off + 1, 2, s, ln)
            o, o1 = _rows(planes, 2 * s + off, 2, s, ln), _rows(planes, 2 * s + off + 1, 2, s, ln)
            cs = cols[: 8 * ln].reshape(4, 2, ln)
            np.subtract(e, e1, out=cs[0])
            np.subtract(o, o1, out=cs[1])
            np.add(o, e1, out=cs[2])
            np.subtract(e1, o, out=cs[3])
            # even / odd row phases of the four column slots, and the next tile row ("w")
            c0, c0w = _rows(cols, 0, 4, 2 * ln, ln), _rows(cols, wq, 4, 2 * ln, ln)
            c1, c1w = _rows(cols, ln, 4, 2 * ln, ln), _rows(cols, ln + wq, 4, 2 * ln, ln)
            np.subtract(c0, c0w, out=_rows(tiles, off, 4, s, ln))
            np.subtract(c1, c1w, out=_rows(tiles, 4 * s + off, 4, s, ln))
            np.add(c1, c0w, out=_rows(tiles, 8 * s + off, 4, s, ln))
            np.subtract(c0w, c1, out=_rows(tiles, 12 * s + off, 4, s, ln))

    def _multiply(self, images: int) -> int:
        """Y[r, s] = U[r, s] @ V[r, s] for the 16 positions; the number of Y elements each."""
        c, m, th, tw, hq, wq, u = self.c, self.m, self.th, self.tw, self.hq, self.wq, self.u
        v = self.tiles[: 16 * images * c * self.plane].reshape(4, 4, images, c, self.plane)
        if self.compact:
            cols = images * th * tw
            vc = self.compacted[: 16 * c * cols].reshape(4, 4, c, images, th, tw)
            np.copyto(vc, v.reshape(4, 4, images, c, hq, wq)[..., :th, :tw].swapaxes(2, 3))
            vm = vc.reshape(4, 4, c, cols)
            ym = self.prods[: 16 * m * cols].reshape(4, 4, m, cols)
            rows = m if cols > _TINY_T else _balanced(m, _SMALL_GEMM // (c * cols))
            for m0 in range(0, m, rows):
                np.matmul(u[:, :, m0 : m0 + rows], vm, out=ym[:, :, m0 : m0 + rows])
            return m * cols
        tq = th * wq
        vv = v[..., :tq]
        ym = self.prods[: 16 * images * m * tq].reshape(4, 4, images, m, tq)
        step = tq if m * c * 128 > _SMALL_GEMM else _balanced(tq, _SMALL_GEMM // (m * c))
        for k0 in range(0, tq, step):
            np.matmul(u[:, :, None], vv[..., k0 : k0 + step], out=ym[..., k0 : k0 + step])
        return images * m * tq

    def _transform_output(self, i0: int, i1: int, q: int) -> None:
        """Output pixels = A^T m A as one [4, 16] GEMM, then copied into place."""
        images, m, th, tw = i1 - i0, self.m, self.th, self.tw
        prods = self.prods[: 16 * q].reshape(16, q)
        outs = self.outs[: 4 * q].reshape(4, q)
        step = max(1, _SMALL_GEMM // 64)
        for k0 in range(0, q, step):
            np.matmul(self.a4, prods[:, k0 : k0 + step], out=outs[:, k0 : k0 + step])
        for a in (0, 1):
            for b in (0, 1):
                dst = self.y[i0:i1, :, a::2, b::2]
                if self.compact:
                    src = outs[2 * a + b].reshape(m, images, th, tw).swapaxes(0, 1)
                else:
                    src = outs[2 * a + b].reshape(images, m, th, self.wq)
                np.copyto(dst, src[:, :, : dst.shape[2], : dst.shape[3]])
