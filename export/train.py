"""LoRA training with peft on dialogue JSONL, sized for a CPU.

Why these choices:
- Loss only on assistant tokens (everything else is labelled -100): the adapter should learn how
  the assistant answers, not to imitate patients or the system prompt.
- Conversations are rendered with the model's own chat template (the one the device renders
  with) and assistant spans are found by rendering prefixes, so the training text is byte for
  byte what the device will see.
- Long conversations are cut into consecutive ``seq_len`` windows instead of truncated, so a few
  hundred CPU steps see every turn once rather than only the greetings.
- Reproducible: the data order of every step is a pure function of (seed, step); LoRA init and
  dropout come from a seeded torch generator whose state is checkpointed, so the same seed gives
  the same adapter bytes on the same machine, and ``--resume`` continues the same run.
- Held-out conversations (``export.dialogues.is_heldout``) are dropped from training whatever
  file they come in; they are what ``--heldout`` evaluates on.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from edgemem.errors import EdgememError, InputError

from .base import read_info, render_chat, sha256_file
from .dialogues import Dialogue, read_jsonl, split

ADAPTER_INFO = "edgemem_adapter.json"
CHECKPOINT = "checkpoint"
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class TrainConfig:
    """Hyper-parameters; the defaults fit a few hundred steps of SmolLM2-135M on 2 CPU cores."""

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    targets: tuple[str, ...] = DEFAULT_TARGETS
    lr: float = 2e-4
    steps: int = 300
    batch_size: int = 4
    seq_len: int = 256
    warmup: int = 10
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    save_every: int = 50
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["targets"] = list(self.targets)
        return d


@dataclass
class Example:
    ids: list[int]
    labels: list[int]


@dataclass
class TrainResult:
    out: Path
    adapter_id: str
    adapter_sha256: str
    steps: int
    final_loss: float
    seconds: float
    examples: int
    train_dialogues: int
    skipped_heldout: int
    heldout_ppl_base: float | None = None
    heldout_ppl_adapter: float | None = None
    losses: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["out"] = str(self.out)
        d.pop("losses")
        return d


# ---------------------------------------------------------------- tokenization with assistant masks

class ChatEncoder:
    """Renders conversations with the base folder's template and labels assistant tokens."""

    def __init__(self, base_dir: Path) -> None:
        from tokenizers import Tokenizer

        cfg = json.loads((base_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
        self.template: str = cfg["chat_template"]
        self.tok = Tokenizer.from_file(str(base_dir / "tokenizer.json"))
        self.pad_id = int(self.tok.token_to_id(cfg.get("pad_token") or "<|im_end|>"))

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
        return render_chat(self.template, messages, add_generation_prompt)

    def assistant_spans(self, messages: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
        """The rendered text and the character spans of each assistant turn (its content and
        end-of-turn marker). A sentinel message locates where a turn's content starts, which
        works for templates that inject a default system prompt too."""
        sentinel = "\x00EDGEMEM\x00"
        full = self.render(messages)
        spans = []
        for i, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            probe = self.render(messages[:i] + [{"role": "assistant", "content": sentinel}])
            start = probe.find(sentinel)
            upto = self.render(messages[: i + 1])
            if start < 0 or not full.startswith(upto) or upto[:start] != probe[:start]:
                raise InputError("the chat template does not render conversations prefix by prefix; "
                                 "cannot find assistant turns")
            spans.append((start, len(upto)))
        return full, spans

    def encode(self, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
        """Token ids and labels (-100 except on assistant turns, their ``<|im_end|>`` included)."""
        text, spans = self.assistant_spans(messages)
        enc = self.tok.encode(text)
        labels = []
        for tid, (a, b) in zip(enc.ids, enc.offsets):
            inside = b > a and any(s <= a and b <= e for s, e in spans)
            labels.append(tid if inside else -100)
        return list(enc.ids), labels

    def windows(self, dialogues: Sequence[Dialogue], seq_len: int) -> list[Example]:
        out = []
        for d in dialogues:
            ids, labels = self.encode(d.messages)
            for s in range(0, len(ids), seq_len):
                w_ids, w_lab = ids[s:s + seq_len], labels[s:s + seq_len]
                if len(w_ids) >= 2 and any(x != -100 for x in w_lab[1:]):
                    out.append(Example(w_ids, w_lab))
        return out


def load_dialogues(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Dialogue], int]:
    """All training dialogues from ``paths`` minus held-out ones; returns (train, n_skipped)."""
    if not paths:
        raise InputError("no dialogue files given")
    allds: list[Dialogue] = []
    for p in paths:
        allds.extend(read_jsonl(p))
    train, held = split(allds)
    if not train:
        raise InputError(f"all {len(allds)} dialogues belong to the held-out split; nothing to train on")
    return train, len(held)


# ---------------------------------------------------------------- torch side

def _batch(examples: Sequence[Example], pad_id: int) -> dict[str, Any]:
    import torch

    n = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), n), pad_id, dtype=torch.long)
    lab = torch.full((len(examples), n), -100, dtype=torch.long)
    att = torch.zeros((len(examples), n), dtype=torch.long)
    for i, e in enumerate(examples):
        ids[i, : len(e.ids)] = torch.tensor(e.ids)
        lab[i, : len(e.labels)] = torch.tensor(e.labels)
        att[i, : len(e.ids)] = 1
    return {"input_ids": ids, "labels": lab, "attention_mask": att}


def batch_indices(step: int, n: int, batch_size: int, seed: int) -> list[int]:
    """Example indices of a step: a seeded permutation per epoch, so any step can be recomputed
    after a resume without replaying the earlier ones."""
    import numpy as np

    out = []
    pos = step * batch_size
    while len(out) < batch_size:
        epoch, off = divmod(pos, n)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        take = min(batch_size - len(out), n - off)
        out.extend(int(i) for i in perm[off:off + take])
        pos += take
    return out


def _lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / max(1, cfg.warmup)
    rest = max(1, cfg.steps - cfg.warmup)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - cfg.warmup) / rest)))


def nll(model: Any, examples: Sequence[Example], pad_id: int, batch_size: int = 4) -> tuple[float, int]:
    """Summed negative log-likelihood over labelled tokens, and their count (no grad)."""
    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            b = _batch(examples[i:i + batch_size], pad_id)
            logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
            lab = b["labels"][:, 1:]
            lp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            mask = lab != -100
            picked = lp.gather(-1, lab.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            total += float(-(picked * mask).sum())
            count += int(mask.sum())
    return total, count


def perplexity(model: Any, examples: Sequence[Example], pad_id: int, batch_size: int = 4) -> float:
    total, count = nll(model, examples, pad_id, batch_size)
    if count == 0:
        raise InputError("no assistant tokens to evaluate")
    return math.exp(total / count)


def heldout_examples(encoder: ChatEncoder, paths: Sequence[str | os.PathLike[str]], seq_len: int,
                     max_tokens: int | None = None) -> list[Example]:
    """Windows of held-out dialogues only (training ones in the same files are ignored)."""
    ds: list[Dialogue] = []
    for p in paths:
        ds.extend(d for d in read_jsonl(p) if d.heldout)
    if not ds:
        raise InputError("no held-out dialogues in " + ", ".join(map(str, paths)))
    ex = encoder.windows(ds, seq_len)
    if max_tokens:
        kept, n = [], 0
        for e in ex:
            if n >= max_tokens:
                break
            kept.append(e)
            n += len(e.ids)
        ex = kept
    return ex


def _set_threads(cfg: TrainConfig) -> None:
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)


def _load_model(base_dir: Path) -> Any:
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(str(base_dir), dtype="float32")
    except OSError as e:
        raise EdgememError(f"cannot load base model from {base_dir} ({e})") from None


def _save_checkpoint(model: Any, opt: Any, step: int, losses: list[float], gen_state: Any, ckpt: Path) -> None:
    import torch

    tmp = ckpt.with_name(ckpt.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    torch.save({"step": step, "optimizer": opt.state_dict(), "losses": losses,
                "torch_rng": torch.get_rng_state(), "gen": gen_state}, tmp / "trainer_state.pt")
    shutil.rmtree(ckpt, ignore_errors=True)
    os.replace(tmp, ckpt)


def train(base_dir: str | os.PathLike[str], data: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
          cfg: TrainConfig | None = None, *, resume: bool = False, heldout: Sequence[str | os.PathLike[str]] = (),
          eval_max_tokens: int | None = 20000, name: str | None = None, progress: bool = True,
          stop_after: int | None = None, log: Callable[[str], None] | None = None) -> TrainResult:
    """Train a LoRA adapter on ``data`` and write a peft adapter folder to ``out``.

    ``heldout``: dialogue files whose held-out split is evaluated before and after (perplexity
    over assistant tokens). ``stop_after``: stop (with a checkpoint) after that many steps, as an
    interruption would; ``resume=True`` then continues from the checkpoint in ``out``.
    """
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file
    from tqdm import tqdm

    cfg = cfg or TrainConfig()
    if cfg.steps < 1 or cfg.batch_size < 1 or cfg.seq_len < 8 or cfg.rank < 1:
        raise InputError("need steps >= 1, batch size >= 1, seq len >= 8, rank >= 1")
    say = log or (lambda s: None)
    base = Path(base_dir)
    info = read_info(base)
    outp = Path(out)
    ckpt = outp / CHECKPOINT
    if resume and not (ckpt / "trainer_state.pt").is_file():
        raise InputError(f"nothing to resume: no checkpoint in {outp}")
    if not resume and (outp / "adapter_model.safetensors").exists():
        raise InputError(f"{outp} already holds an adapter; use --resume or another --out")
    _set_threads(cfg)

    encoder = ChatEncoder(base)
    train_ds, skipped = load_dialogues(data)
    examples = encoder.windows(train_ds, cfg.seq_len)
    if not examples:
        raise InputError("the dialogues give no trainable windows (no assistant tokens)")
    held = heldout_examples(encoder, heldout, cfg.seq_len, eval_max_tokens) if heldout else []
    say(f"{len(train_ds)} training dialogues ({skipped} held-out skipped) -> {len(examples)} windows of <= {cfg.seq_len} tokens")

    torch.manual_seed(cfg.seed)
    model = _load_model(base)
    ppl_base = perplexity(model, held, encoder.pad_id) if held else None
    if ppl_base is not None:
        say(f"held-out perplexity, base: {ppl_base:.3f}")
    torch.manual_seed(cfg.seed)  # LoRA init independent of whether evaluation ran
    lcfg = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                      target_modules=list(cfg.targets), task_type="CAUSAL_LM", bias="none")
    try:
        model = get_peft_model(model, lcfg)
    except ValueError as e:
        raise InputError(f"LoRA target modules {list(cfg.targets)} do not fit this model ({e})") from None
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, losses = 0, []
    if resume:
        state = torch.load(ckpt / "trainer_state.pt", weights_only=False)
        set_peft_model_state_dict(model, load_file(str(ckpt / "adapter_model.safetensors")))
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        step, losses = int(state["step"]), list(state["losses"])
        say(f"resuming at step {step}")
    outp.mkdir(parents=True, exist_ok=True)

    t0 = time.time()
    model.train()
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc="lora", unit="step")
    last = step
    while step < cfg.steps:
        if stop_after is not None and step - last >= stop_after:
            break
        for g in opt.param_groups:
            g["lr"] = _lr_at(step, cfg)
        b = _batch([examples[i] for i in batch_indices(step, len(examples), cfg.batch_size, cfg.seed)], encoder.pad_id)
        loss = model(**b).loss
        if not torch.isfinite(loss):
            raise EdgememError(f"training diverged at step {step} (loss {float(loss)}); lower --lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        opt.step()
        step += 1
        losses.append(round(loss.item(), 5))
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if step % cfg.save_every == 0 and step < cfg.steps:
            _save_checkpoint(model, opt, step, losses, None, ckpt)
    bar.close()
    if step < cfg.steps:  # interrupted on purpose (stop_after): leave a checkpoint and stop
        _save_checkpoint(model, opt, step, losses, None, ckpt)
        raise EdgememError(f"stopped at step {step} of {cfg.steps}; continue with --resume")
    seconds = time.time() - t0

    ppl_adapter = perplexity(model, held, encoder.pad_id) if held else None
    if ppl_adapter is not None:
        say(f"held-out perplexity, with adapter: {ppl_adapter:.3f}")
    model.save_pretrained(str(outp))
    digest = sha256_file(outp / "adapter_model.safetensors")
    adapter_id = name or f"lora-{digest[:12]}"
    result = TrainResult(out=outp, adapter_id=adapter_id, adapter_sha256=digest, steps=step,
                         final_loss=float(sum(losses[-10:]) / max(1, len(losses[-10:]))), seconds=round(seconds, 1),
                         examples=len(examples), train_dialogues=len(train_ds), skipped_heldout=skipped,
                         heldout_ppl_base=ppl_base, heldout_ppl_adapter=ppl_adapter, losses=losses)
    meta = {"id": adapter_id, "sha256": digest, "base": {"id": info.id, "sha256": info.sha256},
            "config": cfg.to_dict(), **{k: v for k, v in result.to_dict().items() if k not in ("out", "adapter_id", "adapter_sha256")},
            "losses": losses}
    (outp / ADAPTER_INFO).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    shutil.rmtree(ckpt, ignore_errors=True)
    return result


def evaluate(model_dir: str | os.PathLike[str], heldout: Sequence[str | os.PathLike[str]], seq_len: int = 256,
             max_tokens: int | None = 20000, threads: int | None = None) -> float:
    """Held-out perplexity (assistant tokens) of an HF folder, e.g. base vs merged."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    d = Path(model_dir)
    encoder = ChatEncoder(d)
    ex = heldout_examples(encoder, heldout, seq_len, max_tokens)
    return perplexity(_load_model(d), ex, encoder.pad_id)
