"""Grounded replies through the assistant: the card is chosen and personalised from what the
patient said. In "card" mode (the default) the reply is composed from it in the patient's style;
in "guided" mode its lines go into the prompt and the model's reply is released sentence by
sentence, with a conflicting recommendation replaced by the card's text. Real memory, real care content, the tiny
bundle's real engine; one test scripts the model's words to show what the checks do with them."""

from __future__ import annotations

import re
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
    a = Assistant(memory, load("x86-kiosk"), care=care, reply_mode="guided")
    sid = a.start_session("w-1")
    model = ScriptedModel("Back pain often gets better by itself. Take ibuprofen three times a day. Rest well.")
    reply = "".join(a.chat("w-1", sid, "I take warfarin. What can I take for my back pain?", model))
    assert "ibuprofen three times" not in reply.lower()
    assert "back pain often gets better by itself." in reply.lower()  # the safe sentence before it
    assert "blood thinner" in reply  # the card's caution replaced it
    guidance = [m.content for m in model.seen if m.role == "system" and "Answer from this guidance" in m.content]
    assert guidance and "Takes: warfarin" in guidance[0] and "Ibuprofen can ease back pain" not in guidance[0]


def test_repeated_sentences_and_a_cut_off_tail_are_not_shown(memory, care) -> None:
    a = Assistant(memory, load("x86-kiosk"), care=care, reply_mode="guided")
    sid = a.start_session("r-1")
    model = ScriptedModel("Drink plenty of water. Drink plenty of water. Rest and keep warm. And then you shou")
    reply = "".join(a.chat("r-1", sid, "I think I have a cold, what should I do?", model))
    assert reply.count("Drink plenty of water.") == 1 and "you shou" not in reply


def test_real_engine_reply_carries_its_card(memory, care, tiny_bundle: Path, _isolated_home: Path) -> None:
    from edgemem.engine import Engine

    profile = load("x86-kiosk")
    engine = Engine.from_bundle(tiny_bundle, profile=profile, home=Home(_isolated_home))
    a = Assistant(memory, profile, care=care, reply_mode="guided")
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
    a = Assistant(memory, load("x86-kiosk"), care=care, reply_mode="guided")
    sid = a.start_session("s-1")
    model = ScriptedModel("Sore throats are common. Yes, you do need antibiotics for this. Drink water.")
    reply = "".join(a.chat("s-1", sid, "I have a sore throat, do I need antibiotics?", model))
    assert "you do need antibiotics" not in reply.lower() and "sore throats are common." in reply.lower()


def test_card_mode_composes_a_safe_reply_in_the_patients_style(memory, care) -> None:
    a = Assistant(memory, load("x86-kiosk"), care=care)
    sid = a.start_session("c-1")
    model = ScriptedModel("Take ibuprofen.")  # never asked: the reply is the card's
    concise = "".join(a.chat("c-1", sid, "I take warfarin. What can I take for my back pain?", model))
    assert not model.seen and concise.startswith("You take a blood thinner")
    polite = "".join(a.chat("c-1", sid, "Could you please be polite with me? What can I take for back pain?", model))
    assert polite.startswith("Thank you for asking.") and "blood thinner" in polite
    detailed = "".join(a.chat("c-1", sid, "Please give me a detailed answer: what can I take for back pain?", model))
    assert len(detailed) > len(concise) and "This follows NHS" in detailed
    for reply in (concise, polite, detailed):
        for sentence in re.split(r"(?<=[.!?])\s+", reply):
            if "ibuprofen" in sentence.lower():  # named only to warn against it
                assert re.search(r"\b(?:do not|don't|avoid)\b", sentence.lower()), sentence
        assert reply.rstrip()[-1] in ".!?"


def test_card_mode_sends_what_no_card_covers_to_the_staff(memory, care) -> None:
    a = Assistant(memory, load("x86-kiosk"), care=care)
    sid = a.start_session("n-1")
    model = ScriptedModel("Hello! How can I help?")
    reply = "".join(a.chat("n-1", sid, "Should I switch my chemotherapy regimen to the newer infusion?", model))
    assert "can't advise on that" in reply and not model.seen
    # Small talk: fixed courteous lines, never the model (it wished a patient "good luck with your illness").
    assert "".join(a.chat("n-1", sid, "thank you!", model)).startswith("You're welcome.")
    assert "".join(a.chat("n-1", sid, "Hello", model)).startswith("Hello.")
    assert "".join(a.chat("n-1", sid, "ok thanks, bye", model)).startswith("Goodbye")
    assert not model.seen
    detailed = "".join(a.chat("n-1", sid, "Please give me a detailed answer: should I change my chemotherapy?", model))
    assert detailed.startswith("I'm sorry, I can't advise on that here.") and "emergency number" in detailed


def test_concise_replies_fit_the_budget_but_never_lose_the_patients_caution(care) -> None:
    from edgemem.care.compose import CONCISE_WORDS, compose
    from edgemem.care.medicines import PatientFacts

    facts = care.lexicon.facts_from_text(["I take warfarin."])
    longest = 0
    for card in care.cards:
        plain = compose(care.personalise(card, PatientFacts()), "concise", care.lexicon)
        longest = max(longest, len(plain.text.split()))
        warned = compose(care.personalise(card, facts), "concise", care.lexicon)
        for caution in warned.personal:  # the patient's own caution survives any budget
            assert caution.split(". ")[0] in warned.text
    assert longest <= CONCISE_WORDS + 5, longest  # point + see-a-doctor may exceed by a few words


def test_kiosk_words_never_become_facts_and_advice_is_kept_as_a_card(memory, care) -> None:
    a = Assistant(memory, load("x86-kiosk"), care=care, reply_mode="guided")
    sid = a.start_session("h-1")
    # The model claims the patient takes metformin: that must not become a memory about them.
    model = ScriptedModel("You take metformin for diabetes, so rest and drink water.")
    "".join(a.chat("h-1", sid, "I have a cold and a runny nose, what should I do?", model))
    a.end_session("h-1", sid)
    texts = [m["text"] for m in memory.list_memories("h-1")] + [n["text"] for n in memory.short_term("h-1")]
    assert not any("metformin" in t.lower() for t in texts), texts
    assert any(t.startswith("Kiosk guidance given:") and "(card " in t for t in texts), texts
    hits = memory.search("h-1", "metformin diabetes", 10, reinforce=False)
    assert not any("metformin" in h.text.lower() for h in hits)


def test_no_repeat_ngram_bans_the_token_that_would_repeat() -> None:
    import numpy as np

    from edgemem.engine.sampler import Sampler

    s = Sampler(GenerationConfig(no_repeat_ngram=3))
    logits = np.zeros(10, dtype=np.float32)
    logits[7] = 5.0  # the model wants 7 again after (3, 4): that would repeat "3 4 7"
    assert s(logits, (), [3, 4, 7, 1, 3, 4]) != 7
    assert s(logits, (), [3, 4, 7, 1, 3, 5]) == 7  # a different prefix: 7 is fine
    assert Sampler(GenerationConfig())(logits) == 7


def test_model_text_ends_on_a_complete_sentence_and_is_capped_by_style(memory, care) -> None:
    a = Assistant(memory, load("x86-kiosk"), care=care, reply_mode="guided")  # card mode never asks the model
    sid = a.start_session("t-1")
    model = ScriptedModel("Hello there! Nice to see you. And I was going to")
    assert "".join(a.chat("t-1", sid, "hello", model)) == "Hello there! Nice to see you."
    turn = a.prepare("t-1", sid, "hi", model)
    cfg = a.reply_config(turn, GenerationConfig(max_new_tokens=256))
    assert cfg.max_new_tokens == 64 and cfg.no_repeat_ngram == 4 and cfg.repetition_penalty > 1
    mine = GenerationConfig(max_new_tokens=256, repetition_penalty=1.3)
    assert a.reply_config(turn, mine) is mine  # the caller chose its own sampling


def test_breastfeeding_said_last_visit_keeps_decongestants_out(memory, care) -> None:
    # Seen in the reply ablation: breastfeeding was no memory fact, so a blocked-nose reply a
    # visit later still offered decongestant tablets.
    a = Assistant(memory, load("x86-kiosk"), care=care)
    s1 = a.start_session("b-1")
    "".join(a.chat("b-1", s1, "I'm breastfeeding my baby.", ScriptedModel("Thank you.")))
    a.end_session("b-1", s1)
    s2 = a.start_session("b-1")
    reply = "".join(a.chat("b-1", s2, "I have a blocked nose from a cold, what helps?", ScriptedModel("x")))
    assert "pseudoephedrine or phenylephrine are another option" not in reply
    assert "such as xylometazoline or oxymetazoline can help" not in reply


def test_what_do_you_remember_is_answered_from_the_facts_not_a_card(memory, care) -> None:
    # Seen in a kiosk session: the question matched a missed-doses card.
    a = Assistant(memory, load("x86-kiosk"), care=care)
    sid = a.start_session("m-1")
    reply = "".join(a.chat("m-1", sid, "I take warfarin. What do you remember about me?", ScriptedModel("x")))
    assert reply.startswith("Here is what I have noted about you:") and "warfarin" in reply


def test_a_message_that_only_states_a_fact_is_acknowledged_not_answered_with_a_leaflet(memory, care) -> None:
    # "I'm 24 weeks pregnant." was sent to the staff as a question no card covers, and "I take
    # warfarin." got the painkillers leaflet: the patient had asked nothing.
    a = Assistant(memory, load("x86-kiosk"), care=care)
    sid = a.start_session("f-1")
    model = ScriptedModel("never asked")
    preg = "".join(a.chat("f-1", sid, "I'm 24 weeks pregnant.", model))
    assert preg.startswith("Thank you for telling me") and "Pregnant." in preg and "can't advise" not in preg
    warf = "".join(a.chat("f-1", sid, "i take warfarin", model))
    assert warf.startswith("Thank you for telling me") and "warfarin" in warf
    # A fact with a symptom is a question: the card answers it, with the fact's caution.
    back = "".join(a.chat("f-1", sid, "I take warfarin and my back hurts", model))
    assert "blood thinner" in back and not back.startswith("Thank you for telling me")
    asked = "".join(a.chat("f-1", sid, "I'm pregnant, what can I take for heartburn?", model))
    assert not asked.startswith("Thank you for telling me")
    assert not model.seen


def test_a_concise_reply_always_says_what_to_do(care) -> None:
    # Read in a kiosk session: on warfarin, "I have a sore throat, what can I take?" got the caution,
    # the card's point and when to see a doctor, and no step: the caution had used the word budget.
    from edgemem.care.compose import compose

    facts = care.lexicon.facts_from_text(["I take warfarin."])
    card = care.search("I have a sore throat, what can I take?", 1)[0].card
    advice = care.personalise(card, facts)
    reply = compose(advice, "concise", care.lexicon)
    assert advice.steps[0] in reply.text and "blood thinner" in reply.text
