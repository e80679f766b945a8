"""Registry ops without a TensorRT converter, each with the reason (capability report)."""

from __future__ import annotations

from backends.tensorrt.registry import unsupported

unsupported("TensorRT has no float64, string or complex math (needed by this op)", "det")
unsupported("integer-only op: TensorRT has no bitwise integer layers",
            "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "mod")  # fmt: skip
unsupported("integer matmul/conv: express it as Q/DQ (quantize-dequantize) instead",
            "matmul_integer", "conv_integer", "qlinear_matmul", "qlinear_conv")  # fmt: skip
unsupported("dynamic quantization with a computed zero point (TensorRT is symmetric)",
            "dynamic_quantize_linear")  # fmt: skip
unsupported("data-dependent output shape; needs INonZeroLayer handling not written yet",
            "nonzero", "compress")  # fmt: skip
unsupported("no TensorRT layer; a decomposition is not written yet",
            "attention", "rotary_embedding", "group_normalization", "lp_normalization",
            "lp_pool", "global_lp_pool", "depth_to_space", "space_to_depth", "hardmax",
            "trilu", "eye_like", "one_hot", "scatter_elements", "scatter_nd", "gather_nd",
            "reverse_sequence", "cumprod", "shrink", "is_inf")  # fmt: skip
