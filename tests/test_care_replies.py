"""Grounded replies through the assistant: the card is chosen and personalised from what the
patient said, its lines go into the prompt, and the reply is released sentence by sentence, with a
conflicting recommendation replaced by the card's text. Real memory, real care content, the tiny
bundle's real engine; one test scripts the model's words to show what the checks do with them."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import pytest

from edgemem.assistant import Assistant
from edgemem.care import CareContent
from edgemem.home import Home
from edgemem.interfaces import ChatMessage, GenerationConfig
from edgemem.memory import MemoryService
from edgemem.profiles import load
from export.care import compile_content


@pytest.fixture(scope="module")
def care(tmp_path_factory) -> CareContent:
    root = tmp_path_factory.mktemp("care")
    compile_content(root / "care")
    return CareContent.load(root / "care")


class ScriptedModel:
    """The model's words, fixed, so the test says exactly which sentence the checks must stop."""

    context_length = 2048

    def __init__(self, words: str) -> None:
        self.words = words
        self.seen: list[ChatMessage] = []

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def stream_chat(self, messages: Sequence[ChatMessage], config: GenerationConfig) -> Iterator[str]:
        self.seen = list(messages)
        for i in range(0, len(self.words), 7):
            yield self.words[i:i + 7]


@pytest.fixture()
def memory(_isolated_home: Path):
    m = MemoryService(Home(_isolated_home), None, None, load("x86-kiosk"))
    yield m
    m.close()


def test_warfarin_patient_is_never_shown_ibuprofen(memory, care) -> None:
    a = Assistant(memory, load("x86-kiosk"), care=care)
    sid = a.start_session("w-1")
    model = ScriptedModel("Back pain often gets better by itself. Take ibuprofen three times a day. Rest well.")
    reply = "".join(a.chat("w-1", sid, "I take warfarin. What can I take for my back pain?", model))
    assert "ibuprofen three times" not in reply.lower()
    assert "back pain often gets better by itself." in reply.lower()  # the safe sentence before it
    assert "blood thinner" in reply  # the card's caution replaced it
    guidance = [m.content for m in model.seen if m.role == "system" and "Answer from this guidance" in m.content]
    assert guidance and "Takes: warfarin" in guidance[0] and "Ibuprofen can ease back pain" not in guidance[0]


def test_repeated_sentences_and_a_cut_off_tail_are_not_shown(memory, care) -> None:
    a = Assistant(memory, load("x86-kiosk"), care=care)
    sid = a.start_session("r-1")
    model = ScriptedModel("Drink plenty of water. Drink plenty of water. Rest and keep warm. And then you shou")
    reply = "".join(a.chat("r-1", sid, "I think I have a cold, what should I do?", model))
    assert reply.count("Drink plenty of water.") == 1 and "you shou" not in reply


def test_real_engine_reply_carries_its_card(memory, care, tiny_bundle: Path, _isolated_home: Path) -> None:
    from edgemem.engine import Engine

    profile = load("x86-kiosk")
    engine = Engine.from_bundle(tiny_bundle, profile=profile, home=Home(_isolated_home))
    a = Assistant(memory, profile, care=care)
    sid = a.start_session("e-1")
    turn = a.prepare("e-1", sid, "I have had a sore throat for three days", engine)
    assert turn.cards and turn.advice is not None and "throat" in turn.advice.title.lower()
    reply = "".join(a.generate(turn, engine, GenerationConfig(max_new_tokens=12)))
    # A random tiny model names no card medicine reliably: whatever it says passes the checks or
    # is replaced by the card's own text, and the reply ends on a complete sentence.
    assert reply.strip() and reply.strip()[-1] in ".!?:"


def test_an_adult_gets_an_adults_card_and_a_child_a_childrens_one(memory, care) -> None:
    a = Assistant(memory, load("x86-kiosk"), care=care)
    adult = a.prepare(None, None, "I think I have strep throat, what treats it?", ScriptedModel("Rest."))
    child = a.prepare(None, None, "my 4 year old son has a sore throat and a rash", ScriptedModel("Rest."))
    assert adult.advice is not None and care.by_id[adult.cards[0]].audience not in ("children", "babies")
    assert child.advice is not None and care.by_id[child.cards[0]].audience in ("children", "babies", "all")


def test_a_kind_of_medicine_needs_the_card_too(memory, care) -> None:
    a = Assistant(memory, load("x86-kiosk"), care=care)
    sid = a.start_session("s-1")
    model = ScriptedModel("Sore throats are common. Yes, you do need antibiotics for this. Drink water.")
    reply = "".join(a.chat("s-1", sid, "I have a sore throat, do I need antibiotics?", model))
    assert "you do need antibiotics" not in reply.lower() and "sore throats are common." in reply.lower()
