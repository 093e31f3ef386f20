"""The kiosk's own replies never come back as recalled memories (``types.KIOSK_SPEAKER``).

Seen: the neighbour loan (a matching patient turn lends score to the reply after it, which in a
two-person chat often holds the answer) added the kiosk's reply after a matching patient turn to
the hits, with or without an embedder, so the next prompt's "earlier" block quoted the kiosk's
own advice back to it as if it were a memory. Real SQLite, FTS5 and the service; no embedder
(the case it was reported for; the loan does not depend on it)."""

from __future__ import annotations

import json
from pathlib import Path

from edgemem.home import Home
from edgemem.memory.retrieval import RetrievalConfig
from edgemem.memory.service import MemoryService
from edgemem.memory.types import KIOSK_SPEAKER
from edgemem.privacy.cipher import PlainCodec

KIOSK_REPLY = "Warm salt water gargles can soothe a sore throat; rest your voice."
PATIENT_TURN = "My throat has been sore since Monday."


def _service(root: Path) -> MemoryService:
    svc = MemoryService(Home(root).ensure(), None, PlainCodec())
    svc.start_session("ann", "s1", time="2026-11-01T10:00:00Z")
    svc.add_turn("ann", "s1", "user", PATIENT_TURN, time="2026-11-01T10:00:00Z")
    svc.add_turn("ann", "s1", "assistant", KIOSK_REPLY, time="2026-11-01T10:00:05Z", speaker=KIOSK_SPEAKER)
    svc.add_turn("ann", "s1", "user", "I also take warfarin every evening.", time="2026-11-01T10:01:00Z")
    svc.add_turn("ann", "s1", "assistant", "Thank you. Warfarin matters for what you can take.",
                 time="2026-11-01T10:01:05Z", speaker=KIOSK_SPEAKER)
    svc.end_session("ann", "s1", time="2026-11-01T10:05:00Z")
    return svc


def test_search_never_returns_the_kiosks_reply_after_a_matching_turn(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    assert svc.embedder is None and svc.retrieval.neighbour > 0  # the path that leaked is on
    for q in ("what helps my sore throat", "do I take warfarin"):
        hits = svc.search("ann", q, k=10, reinforce=False)
        assert any(PATIENT_TURN in h.text or "warfarin every evening" in h.text for h in hits)
        assert not [h.text for h in hits if h.speaker == KIOSK_SPEAKER or h.text in (KIOSK_REPLY,)]
        assert not [h.text for h in hits if "Thank you. Warfarin" in h.text]
    svc.close()


def test_the_next_prompt_does_not_recall_the_kiosks_own_words(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    svc.start_session("ann", "s2", time="2026-11-08T10:00:00Z")
    svc.add_turn("ann", "s2", "user", "My sore throat is back, what helps?", time="2026-11-08T10:00:00Z")
    plan = svc.build_prompt("ann", "s2", 1024, lambda s: len(s.split()))
    text = json.dumps(plan.messages)
    assert "sore since Monday" in text  # the patient's own earlier turn is recalled
    assert "gargles" not in text and "Thank you. Warfarin" not in text
    svc.close()


def test_neighbour_loans_still_reach_the_patients_next_turn(tmp_path: Path) -> None:
    """Skipping the kiosk's reply does not switch the loan off: the patient's turn after it
    still borrows (offset 2), as in a chat where the fact is two turns on."""
    svc = _service(tmp_path)
    svc.retrieval = RetrievalConfig(collapse=False)  # keep turns the session summary covers
    hits = svc.search("ann", "my throat has been sore since Monday", k=10, reinforce=False)
    lent = [h for h in hits if h.tier == "turn" and h.text == "I also take warfarin every evening."]
    assert lent and "neighbour" in lent[0].why
    svc.close()
