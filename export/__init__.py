"""edgemem's off-device toolchain: base model -> LoRA -> merge -> ONNX -> quantize -> signed bundle.

This package may import torch, transformers, peft and optimum, and may import ``edgemem`` (the
bundle format and its verification); ``edgemem`` never imports this package.
"""
