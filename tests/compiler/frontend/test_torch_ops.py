"""PyTorch frontend op coverage: small modules exercising each group of ATen lowerings, checked
against torch eager in the reference backend; unsupported-op, training-mode and no-torch errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
Module: Any = torch.nn.Module

import backends.numpy as nb  # noqa: E402
import compiler  # noqa: E402
from backends.numpy.tolerance import derive_tolerances, max_abs_error  # noqa: E402
from compiler.errors import FrontendError, UnsupportedOpError  # noqa: E402
from compiler.location import TorchLoc  # noqa: E402
from compiler.verifier import verify  # noqa: E402


class Fn(Module):
    """A module whose forward is `fn(self, *inputs)`; the layers it needs are its children."""

    def __init__(self, fn: Callable[..., Any], **layers: Any) -> None:
        super().__init__()
        self.fn = fn
        for name, layer in layers.items():
            self.add_module(name, layer)

    def forward(self, *xs: Any) -> Any:
        return self.fn(self, *xs)


def _rand(*shape: int) -> Any:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))


def _bn(n: int, affine: bool = True) -> Any:
    bn = torch.nn.BatchNorm2d(n, affine=affine)
    bn.running_mean.copy_(torch.linspace(-0.2, 0.2, n))
    bn.running_var.copy_(torch.linspace(0.5, 1.5, n))
    return bn


def _attention(m: Fn, q: Any, k: Any, v: Any) -> Any:
    mask = torch.ones(6, 6, dtype=torch.bool).tril()
    return (F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
            F.scaled_dot_product_attention(q, k, v, attn_mask=q[..., :6] * 0.1),
            F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3))  # fmt: skip


CASES: dict[str, tuple[Callable[[], Any], tuple[Any, ...]]] = {
    "conv1d_pools_1d": (lambda: Fn(
        lambda m, x: F.max_pool1d(torch.relu(m.c(x)), 2) + F.avg_pool1d(m.c(x), 2),
        c=torch.nn.Conv1d(3, 4, 3, padding=1)), (_rand(2, 3, 10),)),
    "grouped_dilated_transposed_conv": (lambda: Fn(
        lambda m, x: m.t(m.g(x)), g=torch.nn.Conv2d(4, 6, 3, 2, 2, dilation=2, groups=2),
        t=torch.nn.ConvTranspose2d(6, 3, 3, stride=2, padding=1, output_padding=1, groups=3)),
        (_rand(2, 4, 9, 9),)),
    "conv3d_maxpool3d": (lambda: Fn(lambda m, x: F.max_pool3d(m.c(x), 2),
                                    c=torch.nn.Conv3d(2, 3, 3, padding=1)),
                         (_rand(1, 2, 4, 6, 6),)),
    "pools_2d": (lambda: Fn(lambda m, x: (
        F.max_pool2d(x, 3, 2, 1, ceil_mode=True), F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
        F.adaptive_avg_pool2d(x, 2), F.adaptive_avg_pool2d(x, 1))), (_rand(2, 3, 8, 8),)),
    "norms_without_affine": (lambda: Fn(lambda m, x: (
        m.bn(x), F.layer_norm(x, (8,)), F.group_norm(x, 2, torch.linspace(0.5, 1, 4), None)),
        bn=_bn(4, affine=False)), (_rand(2, 4, 3, 8),)),
    "pad_cat_slice_select_split": (lambda: Fn(lambda m, x: (
        torch.cat([F.pad(x, (1, 2, 0, 1), value=0.5)[:, :, 1:, ::2], x[..., 1:4]], dim=-1),
        x.select(1, 2), *x.split([1, 2], dim=1), *x.chunk(2, dim=2))), (_rand(2, 3, 4, 5),)),
    "elementwise": (lambda: Fn(lambda m, x, y: (
        torch.where(x > y, x * 2 - 1, y / 3), x.clamp(min=-0.5), F.hardtanh(y),
        F.leaky_relu(x, 0.2), F.elu(x), torch.sigmoid(x) + torch.tanh(y),
        torch.exp(x) - torch.log(y.abs() + 1),
        torch.sqrt(y.abs()) * torch.rsqrt(x.abs() + 1), x.pow(2) + y**3, -x, torch.maximum(x, y),
        torch.minimum(x, y), torch.div(x * 4, 0.7, rounding_mode="floor"), 1.0 / (y.abs() + 1),
        torch.div(x, 0.3, rounding_mode="trunc"), torch.erf(x), x.abs().floor() - y.ceil())),
        (_rand(3, 5), _rand(1, 5))),
    "compare_logical_casts": (lambda: Fn(lambda m, x, y: (
        ((x > 0) & (x < 1)).float(), (x != y).to(torch.int32), ((x <= y) | (x >= 1)).long(),
        torch.logical_not(x == y), x.masked_fill(x < 0, 0.25))), (_rand(3, 5), _rand(3, 5))),
    "reductions": (lambda: Fn(lambda m, x: (
        x.sum(1), x.mean((1, 2), keepdim=True), x.amax(-1), x.amin(0), x.argmax(1),
        x.cumsum(2), x.sum(), (x > 0).any(1))), (_rand(2, 3, 4),)),
    "shapes": (lambda: Fn(lambda m, x: (
        x.view(2, 12).t(), x.permute(2, 0, 1).reshape(4, -1), x.unsqueeze(1).squeeze(1),
        x.flatten(), x[:, :1].expand(2, 3, 4), x.repeat(2, 1, 1), x.transpose(0, 2).contiguous(),
        x.unsqueeze(0).squeeze())), (_rand(2, 3, 4),)),
    "activations_softmax": (lambda: Fn(lambda m, x: (
        F.gelu(x), F.gelu(x, approximate="tanh"), F.silu(x), F.hardswish(x), F.hardsigmoid(x),
        F.relu6(x * 4), torch.softmax(x, 1), torch.log_softmax(x, 0))), (_rand(3, 7),)),
    "attention": (lambda: Fn(_attention),
                  (_rand(2, 3, 6, 8), _rand(2, 3, 6, 8), _rand(2, 3, 6, 4))),
    "linear_embedding_matmul": (lambda: Fn(lambda m, idx, x: (
        m.fc(m.emb(idx)), torch.bmm(x, x.transpose(1, 2)), x @ m.fc.weight.T, m.fc(x)),
        fc=torch.nn.Linear(8, 5, bias=False), emb=torch.nn.Embedding(10, 8)),
        (torch.tensor([[1, 4, 9], [0, 2, 2]]), _rand(2, 3, 8))),
    "upsample": (lambda: Fn(lambda m, x: (
        F.interpolate(x, scale_factor=2, mode="nearest"), F.interpolate(x, size=(5, 7)),
        F.interpolate(x, size=(5, 7), mode="bilinear"),
        F.interpolate(x, size=(1, 3), mode="bilinear"),
        F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True))),
        (_rand(2, 2, 3, 4),)),
    "indexing_and_more": (lambda: Fn(lambda m, x, i: (
        x.index_select(1, i[0]), x.gather(1, i), x.prod(1), x.argmin(0), torch.isnan(x.log()),
        torch.sin(x) * torch.cos(x), torch.round(x * 3), torch.sign(x), (x > 0) ^ (x < 0.5),
        i & 1, ~i, torch.clamp(x, x.amin(0), x.amax(0) * 0.5), torch.sigmoid(x) < 0.5)),
        (_rand(3, 4), torch.tensor([[1, 0, 3, 3], [2, 2, 0, 1], [3, 1, 1, 0]]))),
    "index_order_stats": (lambda: Fn(lambda m, x, i: (
        x[:, i], x[i[:2]], x.flip(0, 1), *x.topk(2, dim=1), *torch.sort(x, 0, descending=True),
        torch.remainder(x * 3, -0.7), torch.fmod(x * 3, 0.7), x.var(1), x.std((0, 1), keepdim=True),
        x.roll(1, 0), torch.remainder(i - 2, 3))), (_rand(3, 4), torch.tensor([2, 0, 1]))),
    "math_extras": (lambda: Fn(lambda m, x: (
        F.softplus(x), F.mish(x), F.selu(x), F.celu(x, 0.7), F.logsigmoid(x), torch.log1p(x.abs()),
        torch.expm1(x), torch.exp2(x), torch.cumprod(x, 1), F.normalize(x, dim=1),
        F.cosine_similarity(x, x * 2 + 1, dim=1), x.norm(p=1, dim=0), *torch.max(x, 1), x.min(),
        F.one_hot(x.argmax(1), 7))), (_rand(3, 7),)),
    "instance_norm_adaptive_max": (lambda: Fn(lambda m, x: (
        m.inorm(x), F.instance_norm(x), F.adaptive_max_pool2d(x, 1), F.adaptive_max_pool2d(x, 3)),
        inorm=torch.nn.InstanceNorm2d(4, affine=True)), (_rand(2, 4, 6, 6),)),
    "lstm": (lambda: Fn(lambda m, x: m.lstm(x)[0], lstm=torch.nn.LSTM(6, 5, batch_first=True)),
             (_rand(2, 4, 6),)),
    "creation": (lambda: Fn(lambda m, x: (
        x + torch.arange(5), x * torch.ones_like(x), torch.zeros(2, 5) + torch.full((1, 5), 3.0),
        x.new_tensor(2.5) * x)), (_rand(2, 5),)),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_ops_match_eager(name: str) -> None:
    build, inputs = CASES[name]
    torch.manual_seed(0)
    module = build().eval()
    with torch.no_grad():
        eager = module(*inputs)
    eager = eager if isinstance(eager, tuple) else (eager,)
    graph = compiler.from_torch(module, inputs)
    verify(graph)
    assert len(graph.outputs) == len(eager)
    got = nb.run(graph, [x.numpy() for x in inputs]).values
    ref = {v.name: e.numpy() for v, e in zip(graph.outputs, eager, strict=True)}
    tols = derive_tolerances(graph, ref)
    for i, (v, g, e) in enumerate(zip(graph.outputs, got, eager, strict=True)):
        assert g.dtype == e.numpy().dtype, f"output {i}: {g.dtype} vs {e.dtype}"
        err = max_abs_error(g, e.numpy())
        assert err <= tols[v.name].atol, f"output {i}: {err:.3g} > {tols[v.name].describe()}"


def test_unsupported_ops_are_listed_together() -> None:
    module = Fn(lambda m, x: m.inner(x).lgamma() + torch.digamma(x) + x.lgamma(),
                inner=Fn(lambda m, x: torch.sin(x)))  # fmt: skip
    with pytest.raises(UnsupportedOpError) as info:
        compiler.from_torch(module, (_rand(3, 4),))
    ops = sorted(op for op, _, _ in info.value.ops)
    assert ops == ["digamma.default", "lgamma.default", "lgamma.default"], ops
    assert "3 node(s)" in info.value.message and "digamma.default, lgamma.default" in str(
        info.value
    )
    locs = [loc for _, _, loc in info.value.ops]
    assert all(isinstance(loc, TorchLoc) and loc.file == __file__ for loc in locs)


def test_training_mode_batch_norm_is_refused() -> None:
    module = Fn(lambda m, x: m.bn(x), bn=torch.nn.BatchNorm2d(3)).train()
    with pytest.raises(FrontendError, match=r"mutates state \(BUFFER_MUTATION\).*module.eval\(\)"):
        compiler.from_torch(module, (_rand(2, 3, 4, 4),))


def test_symbolic_sizes_become_named_symbols() -> None:
    module = Fn(lambda m, x: x.reshape(x.shape[0], x.shape[1] * 2, -1).softmax(-1))
    dims = (({0: torch.export.Dim("batch"), 1: torch.export.Dim("seq")},),)  # forward(*xs)
    graph = compiler.from_torch(module, (_rand(3, 4, 6),), dims)
    assert graph.inputs[0].type.shape == ("batch", "seq", 6)
    x = _rand(5, 7, 6)
    got = nb.run(graph, [x.numpy()]).values[0]
    np.testing.assert_allclose(got, module(x).numpy(), rtol=1e-6, atol=1e-6)


def test_core_imports_and_reports_missing_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import compiler, compiler.frontend.torch_import\n"
        "try:\n    compiler.from_torch(object(), ())\n"
        "except compiler.FrontendError as e:\n    print('ERR', e)\n"
    )
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert "ERR the PyTorch frontend needs torch: pip install irforge[torch]" in out.stdout


class _TwoInputs(Module):
    def forward(self, x: Any, y: Any) -> Any:
        return torch.cat([x, y], dim=1).relu()


def test_dynamic_shapes_by_argument_name() -> None:
    batch, width = torch.export.Dim("batch"), torch.export.Dim("width")
    spec = {"y": {0: batch, 1: width}, "x": {0: batch}}  # any key order: forward's order counts
    graph = compiler.from_torch(_TwoInputs(), (_rand(2, 3), _rand(2, 4)), spec)
    assert [v.type.shape for v in graph.inputs] == [("batch", 3), ("batch", "width")]
    x, y = _rand(5, 3), _rand(5, 6)
    got = nb.run(graph, [x.numpy(), y.numpy()]).values[0]
    np.testing.assert_array_equal(got, _TwoInputs()(x, y).numpy())


def test_an_unlowerable_argument_names_the_node_and_its_module() -> None:
    module = Fn(lambda m, x: m.pool(x), pool=torch.nn.AvgPool2d(2, divisor_override=3))
    with pytest.raises(FrontendError, match="node 'avg_pool2d'.*divisor_override") as info:
        compiler.from_torch(module, (_rand(1, 2, 4, 4),))
    assert isinstance(info.value.loc, TorchLoc) and info.value.loc.module == "pool"
    assert "torch module 'pool'" in str(info.value)
