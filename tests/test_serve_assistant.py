"""The assistant glue on real parts: the tiny bundle's engine and the real memory service."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemem.assistant import Assistant, check_text
from edgemem.errors import InputError
from edgemem.home import Home
from edgemem.interfaces import GenerationConfig
from edgemem.memory import MemoryService
from edgemem.profiles import load
from edgemem.safety import message_for


@pytest.fixture()
def parts(tiny_bundle: Path, _isolated_home: Path):
    from edgemem.engine import Engine

    home = Home(_isolated_home)
    profile = load("x86-kiosk")
    engine = Engine.from_bundle(tiny_bundle, profile=profile, home=home)
    memory = MemoryService(home, None, None, profile)
    yield engine, memory, profile
    memory.close()


def test_chat_stores_both_turns_and_a_red_flag_skips_the_model(parts) -> None:
    engine, memory, profile = parts
    a = Assistant(memory, profile)
    sid = a.start_session("p-1")
    reply = "".join(a.chat("p-1", sid, "I take metformin for diabetes.", engine, GenerationConfig(max_new_tokens=6)))
    assert reply
    flag = "".join(a.chat("p-1", sid, "I think I am having a stroke, my face is drooping", engine))
    assert flag == message_for("stroke", profile.emergency_number)
    turns = memory.store.turns(memory.store.patient("p-1"), session_id=sid)
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[2]["text"].startswith("I think I am having a stroke") and turns[3]["text"] == flag
    a.end_session("p-1", sid)
    assert any("metformin" in m["text"] for m in memory.list_memories("p-1"))


def test_prompt_budget_caps_what_the_memory_packs(parts) -> None:
    from edgemem.assistant import DEFAULT_SYSTEM_PROMPT

    engine, memory, profile = parts
    sentence = "My knee hurts when I climb the stairs and I stopped taking ibuprofen last week. "
    question = "What should I do about my knee?"
    cap = engine.count_tokens(DEFAULT_SYSTEM_PROMPT) + engine.count_tokens(question) + 60
    sizes = {}
    for budget in (None, cap):
        a = Assistant(memory, profile, prompt_budget=budget)
        user = f"p-budget-{budget}"
        sid = a.start_session(user)
        for _ in range(6):
            memory.add_turn(user, sid, "user", sentence)
            memory.add_turn(user, sid, "assistant", "Rest the knee and see a doctor if it does not improve.")
        turn = a.prepare(user, sid, question, engine, max_new_tokens=16)
        sizes[budget] = sum(engine.count_tokens(m.content) for m in turn.messages)
        assert question in "".join(m.content for m in turn.messages)  # the question always goes in
    assert sizes[cap] <= cap + 24  # the memory's section headers aside
    assert sizes[None] > cap + 100  # uncapped, the window takes the whole history


def test_messages_are_checked() -> None:
    assert check_text("  hello\x00 ") == "hello"
    for bad in ("", "   ", "x" * 4001):
        with pytest.raises(InputError):
            check_text(bad)
