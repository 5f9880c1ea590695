"""The chunker against the real MiniLM tokenizer: offsets, limits, boundaries, metadata, streaming."""

from __future__ import annotations

import bisect
import itertools
import random
import re
from collections.abc import Iterator, Sequence

import pytest

from nimbus.knowledge.chunking import SEPARATOR, chunk_sections
from nimbus.knowledge.embeddings import MiniLMTokenizer, bundled_model_path
from nimbus.knowledge.types import ChunkDraft, Section


@pytest.fixture(scope="module")
def tokenizer() -> MiniLMTokenizer:
    """The bundled model's tokenizer alone (no torch): what the chunker counts with in production."""
    return MiniLMTokenizer(bundled_model_path())


def document(sections: Sequence[Section]) -> str:
    return SEPARATOR.join(section.text for section in sections)


def chunk(sections: Sequence[Section], tokenizer: MiniLMTokenizer, max_tokens: int, overlap: int) -> list[ChunkDraft]:
    return list(chunk_sections(sections, tokenizer, max_tokens, overlap))


ONE_TOKEN_WORDS = [
    "risk", "system", "control", "data", "plan", "team", "model", "review", "policy", "access", "audit", "asset",
    "threat", "level", "role", "scope", "task", "goal", "cost", "time", "user", "group", "rule", "test", "step",
]  # fmt: skip


def sentences(count: int, words: int = 8, start: int = 0) -> str:
    """`count` sentences (numbered from `start`) of `words` one-token words each: `words` + 1 tokens a sentence."""
    result = []
    for n in range(start, start + count):
        chosen = [ONE_TOKEN_WORDS[(n * 7 + i * 3) % len(ONE_TOKEN_WORDS)] for i in range(words)]
        result.append(" ".join(chosen).capitalize() + ".")
    return " ".join(result)


class Tokens:
    """Every token of a document in document offsets, with the section it belongs to."""

    def __init__(self, sections: Sequence[Section], tokenizer: MiniLMTokenizer) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.owners: list[Section] = []
        offset = 0
        for section in sections:
            for a, b in tokenizer.token_offsets(section.text):
                self.starts.append(offset + a)
                self.ends.append(offset + b)
                self.owners.append(section)
            offset += len(section.text) + len(SEPARATOR)

    def inside(self, start: int, end: int) -> range:
        """Indices of the tokens within document_text[start:end]."""
        return range(bisect.bisect_left(self.starts, start), bisect.bisect_right(self.ends, end))


# --- the contract, on random documents -------------------------------------------------------------------

WORDS = [
    "risk", "management", "framework", "the", "of", "and", "to", "system", "controls", "assessment",
    "système", "naïve", "Straße", "東京都", "e.g.", "U.S.", "3.14", "(see", "below)", "“quoted”", "co-operate",
    "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis", "5°C", "a—b",
    "https://example.org/a/b?q=1&r=2", "x" * 120, "zero\u200bwidth", "tab\there", "ÆØÅ", "🙂",
]  # fmt: skip


def random_text(rng: random.Random) -> str:
    paragraphs = []
    for _ in range(rng.randint(1, 4)):
        sentence_list = []
        for _ in range(rng.randint(1, 6)):
            words = rng.choices(WORDS, k=rng.randint(1, 30))
            words[0] = words[0].capitalize()
            sentence_list.append(" ".join(words) + rng.choice([".", ".", "!", "?", ".”", "", ":"]))
        paragraphs.append(rng.choice([" ", "\n", "  "]).join(sentence_list))
    text = rng.choice(["\n\n", "\n \n", "\n", "\r\n\r\n"]).join(paragraphs)
    return rng.choice(["", " ", "\n"]) + text + rng.choice(["", " ", "\n"])


def random_sections(rng: random.Random) -> list[Section]:
    kind = rng.choice(["pdf", "transcript", "headings"])
    sections = []
    page, seconds, heading = 1, 0.0, "Intro"
    for _ in range(rng.randint(0, 12)):
        text = rng.choice(["", "   ", "\n\n"]) if rng.random() < 0.15 else random_text(rng)
        if kind == "pdf":
            sections.append(Section(text, page=page))
            page += rng.choice([0, 1, 1, 2])
        elif kind == "transcript":
            duration = rng.uniform(0.5, 6)
            sections.append(Section(text, start_seconds=seconds, end_seconds=seconds + duration))
            seconds += duration
        else:
            if rng.random() < 0.4:
                heading = rng.choice(["Intro", "Part 1", "Part 1 > Scope", "Part 2"])
            sections.append(Section(text, heading_path=heading))
    return sections


@pytest.mark.parametrize("seed", range(100))
def test_random_documents_keep_every_chunk_contract(tokenizer: MiniLMTokenizer, seed: int) -> None:
    rng = random.Random(seed)
    sections = random_sections(rng)
    max_tokens = rng.choice([8, 16, 33, 64, 200])
    overlap = rng.choice([0, 1, max_tokens // 8, max_tokens // 2])
    text = document(sections)
    chunks = chunk(sections, tokenizer, max_tokens, overlap)

    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    tokens = Tokens(sections, tokenizer)
    for c in chunks:
        assert c.text == text[c.char_start : c.char_end]
        assert c.text == c.text.strip()
        assert c.token_count == len(tokenizer.token_offsets(c.text)) <= max_tokens
        covered = [tokens.owners[i] for i in tokens.inside(c.char_start, c.char_end)]
        assert {s.heading_path for s in covered} == {c.heading_path}
        pages = [s.page for s in covered if s.page is not None]
        assert (c.page_start, c.page_end) == ((min(pages), max(pages)) if pages else (None, None))
        starts = [s.start_seconds for s in covered if s.start_seconds is not None]
        ends = [s.end_seconds for s in covered if s.end_seconds is not None]
        assert c.start_seconds == (min(starts) if starts else None)
        assert c.end_seconds == (max(ends) if ends else None)
    for before, after in itertools.pairwise(chunks):
        assert before.char_start < after.char_start
        assert before.char_end < after.char_end
    chunk_starts = [c.char_start for c in chunks]
    for a, b in zip(tokens.starts, tokens.ends, strict=True):  # nothing is lost: every token is in a chunk
        holder = chunks[bisect.bisect_right(chunk_starts, a) - 1]
        assert holder.char_start <= a, text[a:b]
        assert b <= holder.char_end, text[a:b]
    for before, after in itertools.pairwise(chunks):
        assert len(tokens.inside(after.char_start, before.char_end)) <= overlap


def test_same_input_gives_the_same_chunks(tokenizer: MiniLMTokenizer) -> None:
    sections = [*random_sections(random.Random(7)), Section(sentences(80), page=9)]

    assert chunk(sections, tokenizer, 40, 8) == chunk(list(sections), tokenizer, 40, 8)


# --- boundaries ------------------------------------------------------------------------------------------


def test_chunks_hold_whole_paragraphs_when_paragraphs_fit(tokenizer: MiniLMTokenizer) -> None:
    paragraphs = [sentences(6, start=10 * n) for n in range(12)]  # 54 tokens each
    text = "\n\n".join(paragraphs)

    chunks = chunk([Section(text)], tokenizer, 200, 0)

    assert [c.text for c in chunks] == ["\n\n".join(paragraphs[n : n + 3]) for n in range(0, 12, 3)]
    assert [c.token_count for c in chunks] == [162] * 4


def test_overlap_starts_at_a_sentence_and_stays_within_the_overlap(tokenizer: MiniLMTokenizer) -> None:
    text = sentences(60, words=6)  # 7 tokens a sentence

    chunks = chunk([Section(text)], tokenizer, 50, 16)

    assert len(chunks) > 5
    for before, after in itertools.pairwise(chunks):
        shared = text[after.char_start : before.char_end]
        assert re.fullmatch(r"([A-Z][a-z ]*\. ?){2}", shared), shared
        assert len(tokenizer.token_offsets(shared)) == 14


def test_no_overlap_when_overlap_is_zero(tokenizer: MiniLMTokenizer) -> None:
    chunks = chunk([Section(sentences(60))], tokenizer, 50, 0)

    for before, after in itertools.pairwise(chunks):
        assert after.char_start > before.char_end


def test_a_huge_sentence_is_split_between_words(tokenizer: MiniLMTokenizer) -> None:
    text = "Begin " + " ".join(f"word{n % 97}" for n in range(3000)) + " end"

    chunks = chunk([Section(text)], tokenizer, 64, 8)

    assert len(chunks) > 3000 * 2 // 64  # "wordNN" is 2 tokens
    for c in chunks:
        assert c.token_count <= 64
        assert c.char_start == 0 or text[c.char_start - 1] == " "
        assert c.char_end == len(text) or text[c.char_end] == " "
    assert chunks[-1].text.endswith(" end")


def test_text_without_spaces_is_split_between_tokens(tokenizer: MiniLMTokenizer) -> None:
    text = "-".join(f"part{n}" for n in range(400)) + "."

    chunks = chunk([Section(text)], tokenizer, 32, 4)

    assert len(chunks) > 1
    for c in chunks:
        assert c.token_count == len(tokenizer.token_offsets(c.text)) <= 32
    assert chunks[0].char_start == 0
    assert chunks[-1].char_end == len(text)


def test_cjk_text_is_split_after_sentence_ends(tokenizer: MiniLMTokenizer) -> None:
    sentence = "東京は日本の首都であり大きな都市です。"  # 19 single-character tokens
    text = sentence * 20

    chunks = chunk([Section(text)], tokenizer, 64, 0)

    assert [c.token_count for c in chunks] == [57] * 6 + [38]
    assert all(c.text.endswith("。") for c in chunks)


# --- pages, timestamps, headings -------------------------------------------------------------------------


def test_pages_ending_at_a_paragraph_get_their_own_chunks(tokenizer: MiniLMTokenizer) -> None:
    pages = [Section(sentences(18, start=100 * n), page=n + 1) for n in range(5)]  # 162 tokens a page

    chunks = chunk(pages, tokenizer, 200, 24)

    assert [(c.page_start, c.page_end) for c in chunks] == [(n, n) for n in range(1, 6)]


def test_a_sentence_running_over_a_page_break_stays_in_one_chunk(tokenizer: MiniLMTokenizer) -> None:
    first = Section(sentences(10) + " The framework applies to every", page=4)
    second = Section("system the organization operates. " + sentences(10, start=50), page=5)

    chunks = chunk([first, second], tokenizer, 100, 0)

    spanning = [c for c in chunks if "every\n\nsystem" in c.text]
    assert len(spanning) == 1
    assert (spanning[0].page_start, spanning[0].page_end) == (4, 5)
    assert "The framework applies to every\n\nsystem the organization operates." in spanning[0].text


def test_transcript_chunks_span_their_snippets_times(tokenizer: MiniLMTokenizer) -> None:
    snippets = [
        Section(f"snippet {n} says a few more words", start_seconds=2.0 * n, end_seconds=2.0 * n + 2.5)
        for n in range(30)
    ]

    chunks = chunk(snippets, tokenizer, 40, 12)

    assert len(chunks) > 6
    for c in chunks:
        assert c.text.startswith("snippet")  # snippet breaks are preferred cuts
        numbers = [int(n) for n in re.findall(r"snippet (\d+)", c.text)]
        assert c.start_seconds == 2.0 * min(numbers)
        assert c.end_seconds == 2.0 * max(numbers) + 2.5
        assert c.page_start is None


def test_a_heading_change_starts_a_new_chunk(tokenizer: MiniLMTokenizer) -> None:
    sections = [
        Section("Scope of the guide.", heading_path="Part 1"),
        Section("It covers systems.", heading_path="Part 1"),
        Section("Roles are assigned.", heading_path="Part 1 > Roles"),
        Section("Appendix text.", heading_path=None),
    ]

    chunks = chunk(sections, tokenizer, 200, 24)

    assert [(c.text, c.heading_path) for c in chunks] == [
        ("Scope of the guide.\n\nIt covers systems.", "Part 1"),
        ("Roles are assigned.", "Part 1 > Roles"),
        ("Appendix text.", None),
    ]


def test_whitespace_only_sections_make_no_chunk_but_keep_offsets(tokenizer: MiniLMTokenizer) -> None:
    sections = [Section("  \n", page=1), Section("First page text.", page=2), Section(" ", page=3)]
    sections += [Section("", page=4), Section("Last page text.", page=5)]
    text = document(sections)

    chunks = chunk(sections, tokenizer, 200, 0)

    assert [(c.text, c.page_start, c.page_end) for c in chunks] == [
        ("First page text.", 2, 2),
        ("Last page text.", 5, 5),
    ]
    assert chunks[0].char_start == len("  \n\n\n")
    assert all(text[c.char_start : c.char_end] == c.text for c in chunks)


def test_short_pages_get_chunks_of_their_own(tokenizer: MiniLMTokenizer) -> None:
    sections = [Section(f"Page {n} says one thing.", page=n) for n in range(1, 4)]
    chunks = chunk(sections, tokenizer, 200, 24)
    assert [(c.page_start, c.page_end) for c in chunks] == [(1, 1), (2, 2), (3, 3)]


def test_a_sentence_running_over_a_page_break_stays_whole(tokenizer: MiniLMTokenizer) -> None:
    sections = [Section("The report continues", page=1), Section("on the next page.", page=2)]
    chunks = chunk(sections, tokenizer, 200, 24)
    assert [(c.page_start, c.page_end) for c in chunks] == [(1, 2)]


def test_nothing_to_chunk_gives_no_chunks(tokenizer: MiniLMTokenizer) -> None:
    assert chunk([], tokenizer, 200, 24) == []
    assert chunk([Section(" \n\t "), Section("")], tokenizer, 200, 24) == []


# --- streaming and arguments -----------------------------------------------------------------------------


def test_chunks_are_yielded_before_later_sections_are_read(tokenizer: MiniLMTokenizer) -> None:
    section_ends: list[int] = []  # document offset where each section read so far ends

    def endless() -> Iterator[Section]:
        for n in range(100_000):
            text = sentences(3, start=3 * n)  # 27 tokens
            section_ends.append((section_ends[-1] + len(SEPARATOR) if section_ends else 0) + len(text))
            yield Section(text, page=n // 10 + 1)

    stream = chunk_sections(endless(), tokenizer, 200, 24)
    first = next(stream)

    assert len(section_ends) <= 200 // 27 + 2
    for _ in range(50):
        latest = next(stream)
        # Read ahead: the sections up to the chunk's end, then at most one chunk's worth plus one section.
        needed = bisect.bisect_left(section_ends, latest.char_end) + 1
        assert len(section_ends) <= needed + 200 // 27 + 2
    assert first.ordinal == 0


def test_overlap_must_be_smaller_than_the_chunk(tokenizer: MiniLMTokenizer) -> None:
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk([Section("text")], tokenizer, 32, 32)
    with pytest.raises(ValueError, match="max_tokens"):
        chunk([Section("text")], tokenizer, 0, 0)
