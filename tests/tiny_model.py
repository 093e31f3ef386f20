"""A tiny random Llama and its tokenizer, built from a config in about a second.

Tests of the export path, the engine, sync and the server use this instead of a real model: same
architecture family and chat template as SmolLM2 (ChatML, ``<|im_start|>`` = id 1,
``<|im_end|>`` = id 2), a byte-level BPE trained on a few sentences, random weights.
"""

from __future__ import annotations

import json
from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "I have had a headache and a mild fever for three days.",
    "Please drink plenty of fluids and rest. If the fever rises above 39 degrees, see a doctor.",
    "I am allergic to penicillin and I take metformin for diabetes.",
    "My knee hurts when I climb stairs; I stopped taking ibuprofen last week.",
    "Hello! How can I help you today? Thank you, that is very kind.",
    "user assistant system patient doctor symptoms medication allergy advice",
]


def make_tokenizer(out: Path, vocab_size: int = 512) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|im_start|>",
        "eos_token": "<|im_end|>",
        "pad_token": "<|im_end|>",
        "unk_token": "<|endoftext|>",
        "add_bos_token": False,
        "chat_template": CHATML_TEMPLATE,
        "model_max_length": 512,
    }, indent=1))
    (out / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
        "pad_token": "<|im_end|>", "unk_token": "<|endoftext|>",
    }))


def make_tiny_llama(out: Path, *, hidden: int = 64, layers: int = 2, heads: int = 4,
                    kv_heads: int = 2, intermediate: int = 128, vocab_size: int = 512,
                    max_positions: int = 512, seed: int = 0) -> Path:
    """Write a random LlamaForCausalLM (safetensors) plus tokenizer into ``out``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    make_tokenizer(out, vocab_size)
    from tokenizers import Tokenizer

    real_vocab = Tokenizer.from_file(str(out / "tokenizer.json")).get_vocab_size()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=real_vocab, hidden_size=hidden, intermediate_size=intermediate,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2,
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(config)
    # Larger-than-default init so a random model's next-token distribution is not flat and
    # quantization/greedy-agreement checks are meaningful.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.08)
    model.generation_config.do_sample = False
    model.save_pretrained(out, safe_serialization=True)
    return out
