"""Registry ops without a TensorRT converter, each with the reason (capability report)."""

from __future__ import annotations

from backends.tensorrt.registry import unsupported

unsupported("TensorRT has a layer for it, but the converter is not written yet",
            "reverse_sequence", "nonzero")  # fmt: skip
unsupported("TensorRT's normalization layer has num_groups, but its per-channel scale layout "
            "is unverified here; not converted", "group_normalization")  # fmt: skip
unsupported("no TensorRT layer; a decomposition into layers is not written yet",
            "attention", "rotary_embedding", "lp_normalization", "lp_pool", "global_lp_pool",
            "eye_like",
            "cumprod", "mod", "compress")  # fmt: skip
unsupported("no TensorRT layer computes a determinant", "det")
unsupported("TensorRT has no bitwise integer layers (AND/OR/XOR take bool only)",
            "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not")  # fmt: skip
unsupported("integer matmul/conv with zero points: TensorRT expresses quantized math as "
            "symmetric Q/DQ around float layers; convert the graph to Q/DQ form first",
            "matmul_integer", "conv_integer", "qlinear_matmul", "qlinear_conv")  # fmt: skip
unsupported("dynamic quantization computes an asymmetric uint8 zero point; TensorRT "
            "quantization is symmetric", "dynamic_quantize_linear")  # fmt: skip
