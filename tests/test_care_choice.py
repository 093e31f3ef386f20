"""Which card answers: card search's pool reordered by the real MiniLM embedder (care.choice),
its vectors cached under the home and made again when the content or the embedder changes, and
the assistant grounding its reply in the card the chooser put first. Real care content, real
ONNX embedder, real cache files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgemem.assistant import Assistant
from edgemem.care import CareContent
from edgemem.care.choice import CardChooser
from edgemem.care.route import find_cards
from edgemem.memory.embedder import OnnxEmbedder
from edgemem.profiles import load
from export.care import compile_content


@pytest.fixture(scope="module")
def care(tmp_path_factory) -> CareContent:
    root = tmp_path_factory.mktemp("care")
    compile_content(root / "care")
    return CareContent.load(root / "care")


@pytest.fixture(scope="module")
def embedder(minilm_embedder_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(minilm_embedder_dir)


@pytest.fixture(scope="module")
def chooser(care, embedder, tmp_path_factory) -> CardChooser:
    return CardChooser.build(care, embedder, cache_dir=tmp_path_factory.mktemp("index"))


@pytest.mark.parametrize("question, words_only, chosen", [
    # BM25's first card shares a word with the question; the embedder knows what it is about.
    ("headache every morning when i wake up", "hangover", "headache"),
    ("acne on my back and chest as an adult", "chronic-acid-reflux", "acne"),
])
def test_the_embedder_puts_the_card_that_answers_first(care, chooser, question, words_only, chosen) -> None:
    assert find_cards(care, question)[0].card.id == words_only
    ordered = find_cards(care, question, chooser)
    assert ordered[0].card.id == chosen
    # Reordering only: the same fitting pool, and no card where the bars say none fits.
    assert {h.card.id for h in ordered} == {h.card.id for h in care.search(question, 5)}
    assert find_cards(care, "should I change my chemotherapy?", chooser) == []


def test_card_vectors_are_cached_and_remade_when_content_or_embedder_changes(care, embedder, tmp_path) -> None:
    first = CardChooser.build(care, embedder, cache_dir=tmp_path)
    files = list(tmp_path.glob("care-vectors-*.npz"))
    assert len(files) == 1
    with np.load(files[0]) as z:
        assert len(z["offsets"]) == len(care.cards) + 1 and z["vectors"].shape[1] == embedder.dim
    q = "headache every morning when i wake up"
    hits = care.search(q, 5)
    again = CardChooser.build(care, embedder, cache_dir=tmp_path)  # from the file
    assert again.scores(q, hits) == pytest.approx(first.scores(q, hits), abs=1e-5)

    fewer = CareContent({"cards": [c.raw for c in care.cards[:20]]})
    assert fewer.digest != care.digest
    CardChooser.build(fewer, embedder, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("care-vectors-*.npz"))) == 2  # another content, another file

    files[0].write_bytes(b"not an npz")  # a damaged cache is made again, not trusted
    remade = CardChooser.build(care, embedder, cache_dir=tmp_path)
    assert remade.scores(q, hits) == pytest.approx(first.scores(q, hits), abs=1e-5)


class NeverAsked:
    """In card mode the model writes nothing the patient reads; prepare only sizes the prompt."""

    context_length = 2048

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)


def test_the_reply_is_grounded_in_the_chosen_card(care, chooser) -> None:
    q = "acne on my back and chest as an adult"
    turn = Assistant(None, load("x86-kiosk"), care=care, card_chooser=chooser).prepare(None, None, q, NeverAsked())
    assert turn.cards == ["acne"] and turn.composed
    assert Assistant(None, load("x86-kiosk"), care=care).prepare(None, None, q, NeverAsked()).cards != ["acne"]


def test_the_bundle_ships_the_card_vectors_made_with_its_own_embedder(tiny_bundle: Path, tmp_path: Path) -> None:
    from edgemem.care.choice import SHIPPED

    content = CareContent.load(tiny_bundle / "care")
    shipped = tiny_bundle / "care" / SHIPPED
    assert shipped.is_file()
    CardChooser.build(content, OnnxEmbedder(tiny_bundle / "embedder"), cache_dir=tmp_path, shipped=shipped)
    assert not list(tmp_path.iterdir())  # read from the bundle: nothing embedded, nothing cached
