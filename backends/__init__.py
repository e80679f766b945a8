"""irforge backends: numpy (reference interpreter), onnx (export + ONNX Runtime), tensorrt."""
