"""edgemem: an on-device personalized medical assistant.

A small LLM on onnxruntime personalized two ways, after MaLP (arXiv 2309.11696): a dual-process
memory (working, short-term ring buffer, long-term SQLite + usearch) and LoRA adapters trained
off-device and shipped in signed bundles.

This package is the on-device runtime. It never imports torch, transformers, peft or optimum, and
``import edgemem`` stays cheap: submodules are imported where they are used, not here.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
