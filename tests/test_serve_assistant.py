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
        for _ in range(4):  # all of it fits the tiny model's 512-token window uncapped
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


QUESTIONS = ["My knee hurts when I climb the stairs.", "I stopped taking ibuprofen last week.",
             "Should I put ice on the knee?", "I also sleep badly since the fall.",
             "Can I still go for short walks?", "What about a knee brace?",
             "My doctor gave me paracetamol too.", "How long until I can cycle again?",
             "The swelling is less today.", "Is it fine to climb stairs slowly?",
             "I take metformin for diabetes.", "Thank you, anything else I should know?"]


def test_follow_ups_feed_the_engine_only_their_new_tokens(parts) -> None:
    """Through the real engine: each follow-up's prompt extends the last prompt and reply, so the
    KV cache covers all of it but the new turn, except when the conversation window jumps."""
    engine, memory, profile = parts
    a = Assistant(memory, profile)
    sid = a.start_session("p-prefix")
    config = GenerationConfig(max_new_tokens=4)
    previous = 0
    extended, jumps, fed, prompt = 0, 0, 0, 0
    for i, q in enumerate(QUESTIONS):
        # 16 new tokens leave the tiny model's 512-token window room for a conversation.
        turn = a.prepare("p-prefix", sid, q, engine, max_new_tokens=16)
        a.record(turn, "".join(a.generate(turn, engine, config)))
        s = engine.last_stats
        if i:
            if s.reused_tokens >= previous:
                extended += 1
                assert s.prompt_tokens - s.reused_tokens < 90  # the new turn, its recall block, the template
            else:
                jumps += 1
        previous = s.prompt_tokens
        fed += s.prompt_tokens - s.reused_tokens
        prompt += s.prompt_tokens
    assert jumps <= 3 and extended >= len(QUESTIONS) - 1 - jumps, (extended, jumps)
    assert fed < prompt / 2, (fed, prompt)


def test_warm_takes_the_window_jump_in_idle_time(parts) -> None:
    """With ``warm`` between turns (the server's idle work) a question no longer waits for a
    window jump: the jump is taken and prefilled while the patient reads, and a question feeds
    only its own tokens: itself, its recall block and the template."""
    engine, memory, profile = parts
    a = Assistant(memory, profile)
    sid = a.start_session("p-warm")
    config = GenerationConfig(max_new_tokens=4)
    warm_fed = [a.warm("p-warm", sid, engine, max_new_tokens=16)]
    assert warm_fed[0] > 0  # the system message, before the first question
    waited = []
    for i, q in enumerate(QUESTIONS + QUESTIONS):
        turn = a.prepare("p-warm", sid, q, engine, max_new_tokens=16)
        a.record(turn, "".join(a.generate(turn, engine, config)))
        s = engine.last_stats
        tail = turn.messages[-2:] if turn.messages[-2].role == "system" else turn.messages[-1:]
        own = sum(engine.count_tokens(m.content) + 5 for m in tail) + 8  # + role headers, <|im_end|>s, newlines
        if s.prompt_tokens - s.reused_tokens > own:
            waited.append((i, s.prompt_tokens - s.reused_tokens, own))
        warm_fed.append(a.warm("p-warm", sid, engine, max_new_tokens=16))
    # The tiny model's 496-token budget makes the window jump every few turns; a question whose
    # recall block outgrows the room kept for it (a fifth of the budget) may still jump once.
    assert len(waited) <= 2, (waited, warm_fed)
    assert max(warm_fed[1:]) > 90, warm_fed  # jumps were taken, and prefilled, between turns
    a.end_session("p-warm", sid)
    assert a.warm("p-warm", sid, engine) == 0  # an ended session has no next prompt


def test_an_api_clients_history_keeps_each_recall_block_before_its_question(parts) -> None:
    """An OpenAI client resends the conversation: the memory's blocks go before the questions
    they were made for, so the second prompt starts with the first prompt and its reply."""
    from edgemem.interfaces import ChatMessage

    engine, memory, profile = parts
    a = Assistant(memory, profile)
    old = a.start_session("p-api")
    memory.add_turn("p-api", old, "user", "I sprained my ankle playing football last month.")
    memory.add_turn("p-api", old, "user", "I had a knee operation in 2019 after a cycling crash.")
    a.end_session("p-api", old)
    sid = a.start_session("p-api")
    q1, q2 = "How long does a sprained ankle from football take to heal?", "Is cycling fine after my knee operation?"
    first = a.prepare("p-api", sid, q1, engine, history=[], max_new_tokens=16)
    assert first.messages[0].role == "system" and first.messages[-1] == ChatMessage("user", q1)
    assert first.messages[-2].role == "system" and "ankle" in first.messages[-2].content  # q1's recall block
    reply = "A few weeks; rest it first."
    a.record(first, reply)
    second = a.prepare("p-api", sid, q2, engine,
                       history=[ChatMessage("user", q1), ChatMessage("assistant", reply)], max_new_tokens=16)
    n = len(first.messages)
    assert second.messages[:n] == first.messages
    assert second.messages[n] == ChatMessage("assistant", reply)
    assert second.messages[-1] == ChatMessage("user", q2)
    said_before = "\n".join(m.content for m in first.messages).count("knee operation in 2019")
    assert said_before >= 1  # recalled for q1 already ...
    assert "\n".join(m.content for m in second.messages).count("knee operation in 2019") == said_before  # ... not again
