"""The engine runner's parts that need no TensorRT: grow-only I/O buffers (on a real GPU), the
latency report's statistics, and `irforge run --backend tensorrt` option checks and its exit 2
with the reason where NVIDIA's tensorrt or a CUDA GPU is missing."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backends.tensorrt import cuda
from backends.tensorrt.runtime import (
    SKIP_REASON,
    IOBuffers,
    LatencyReport,
    engine_execution_skip,
    measure,
)
from compiler.cli import main
from compiler.errors import BackendError

GPU_SKIP = cuda.gpu_skip_reason()


@pytest.mark.skipif(GPU_SKIP is not None, reason=f"needs a CUDA device: {GPU_SKIP}")
def test_io_buffers_grow_only_when_needed() -> None:
    buffers = IOBuffers()
    try:
        x = buffers.get("x", 1000)
        assert cuda.memory_type(x.device.ptr) == "device"
        assert cuda.memory_type(x.host.ptr) == "pinned host"
        assert buffers.get("x", 1000) is x and buffers.get("x", 10) is x  # reused
        assert buffers.get("y", 0).capacity == 1 and buffers.allocations == 2
        bigger = buffers.get("x", 4000)
        assert bigger is not x and x.device.closed and x.host.closed and bigger.capacity == 4000
        assert buffers.get("x", 3000) is bigger and buffers.allocations == 3
        data = np.arange(1000, dtype=np.float32)  # a round trip through a slot, as the runner does
        bigger.host.view(data.shape, data.dtype)[...] = data
        with cuda.Stream() as stream:
            cuda.to_device(bigger.device, bigger.host, data.nbytes, stream)
            bigger.host.view(data.shape, data.dtype)[...] = 0
            cuda.to_host(bigger.host, bigger.device, data.nbytes, stream)
            stream.synchronize()
        assert np.array_equal(bigger.host.view(data.shape, data.dtype), data)
    finally:
        buffers.close()
    assert not buffers.slots and bigger.device.closed and bigger.host.closed


def test_measure_times_every_iteration() -> None:
    ticks = itertools.count()
    calls = []
    clock = lambda: float(next(ticks)) / 1000  # a deterministic clock: 1 ms per reading
    report = measure(lambda: calls.append(1), warmup=3, iterations=5, clock=clock)
    assert len(calls) == 8 and report.iterations == 5 and report.warmup == 3
    assert report.latencies_ms == pytest.approx((1.0,) * 5)
    assert report.total_s == pytest.approx(0.011) and report.throughput == pytest.approx(5 / 0.011)
    with pytest.raises(BackendError, match="iterations >= 1"):
        measure(lambda: None, warmup=0, iterations=0)


def test_report_percentiles_and_format() -> None:
    lat = tuple(float(v) for v in range(1, 101))
    report = LatencyReport(2, 100, lat, total_s=0.5, gpu_ms=(0.5, 0.7, 0.9))
    assert report.percentile(50) == pytest.approx(50.5)
    assert report.percentile(90) == pytest.approx(np.percentile(lat, 90))
    assert report.percentile(99) == pytest.approx(99.01)
    assert report.percentile(50, gpu=True) == pytest.approx(0.7)
    text = report.format()
    assert "p50 50.500 ms  p90 90.100 ms  p99 99.010 ms" in text
    assert "throughput 200.0 inferences/s" in text and "GPU time (execute only) p50 0.700" in text


@pytest.mark.skipif(engine_execution_skip() is None, reason="engines can run here")
def test_cli_exits_2_with_the_reason(material: Any, capsys: Any) -> None:
    code = main(["run", str(material("mnist_cnn")), "--backend", "tensorrt", "--random",
                 "--iterations", "5"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and SKIP_REASON in err and err.count("\n") == 1
    print(err)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--backend", "numpy", "--iterations", "3"], "--iterations needs --backend tensorrt"),
        (["--backend", "onnxruntime", "--plan", "m.plan"], "--plan needs --backend tensorrt"),
        (["--backend", "tensorrt", "--iterations", "0"], "--iterations must be at least 1"),
        (["--backend", "tensorrt", "--warmup", "-1"], "--warmup must be at least 0"),
        (["--backend", "tensorrt", "--plan", "nowhere.plan"], "no such file: nowhere.plan"),
    ],
)
def test_cli_option_errors(extra: list[str], message: str, tmp_path: Path, capsys: Any) -> None:
    model = tmp_path / "m.ir"
    model.write_text("graph @main(%x: f32[2]) -> (f32[2]) {\n  %y = relu(%x) : f32[2]\n"
                     "  return %y\n}\n")  # fmt: skip
    assert main(["run", str(model), "--random", *extra]) == 2
    assert message in capsys.readouterr().err
