"""Token-aware streaming chunker: sections in, chunks no longer than the embedder reads out.

The document text is every section's text (whitespace-only ones included) joined by "\\n\\n"; each chunk's
`char_start`/`char_end` index it, so `chunk.text == document_text[chunk.char_start:chunk.char_end]`.

Each section is tokenised once with the embedder's tokenizer, and every gap between two tokens gets a strength:
a heading change (hard: chunks never cross one, so a chunk's `heading_path` is exact), a page break after a
finished sentence, a paragraph (blank line, or a break between non-page sections after a finished sentence),
a sentence end (also any other section break, e.g. between transcript snippets, unless it is a page break
inside a sentence), a word gap (whitespace), or none (inside a word or a run without spaces). A chunk ends at the
strongest gap that still fills it reasonably (paragraph ≥ 1/2 of `max_tokens`, sentence ≥ 1/4, else the last
word gap, else a token). A page break after a finished sentence always ends a chunk, however short, so a
citation names the exact page; a sentence that runs on across a page stays whole (its chunk spans both).
The next chunk starts up to `overlap_tokens` earlier,
at a sentence start where one is in reach (else a word start), except after a page break or heading change.

Chunks cut at whitespace tokenise exactly as the section did (WordPiece splits words at whitespace first), so
their counts are exact; a cut inside a word is re-tokenised and shrunk until it fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from nimbus.knowledge.types import ChunkDraft, Section, Tokenizer

SEPARATOR = "\n\n"

# Strength of the gap before a token, weakest first.
_TOKEN, _WORD, _SENTENCE, _PARAGRAPH, _PAGE, _HARD = range(6)

_TERMINALS = frozenset(".!?…。！？؟")
_NO_SPACE_TERMINALS = frozenset("。！？")  # these end a sentence even when the next one follows without a space
_CLOSERS = frozenset("\"')]}’”»」』")


def chunk_sections(
    sections: Iterable[Section], tokenizer: Tokenizer, max_tokens: int, overlap_tokens: int
) -> Iterator[ChunkDraft]:
    """Yield chunks of at most `max_tokens` tokens as soon as each is complete, consuming sections lazily."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive (got {max_tokens})")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(f"overlap_tokens must be at least 0 and below max_tokens={max_tokens} (got {overlap_tokens})")
    chunker = _Chunker(tokenizer, max_tokens, overlap_tokens)
    for section in sections:
        yield from chunker.feed(section)
    yield from chunker.finish()


@dataclass(frozen=True, slots=True)
class _Source:
    """What a chunk inherits from a section it covers."""

    page: int | None
    start_seconds: float | None
    end_seconds: float | None


class _Chunker:
    """Holds the tokens not yet chunked (at most about one chunk plus one section) and cuts chunks from them."""

    def __init__(self, tokenizer: Tokenizer, max_tokens: int, overlap_tokens: int) -> None:
        self._tokenizer = tokenizer
        self._max = max_tokens
        self._overlap = overlap_tokens
        self._sections_seen = 0
        self._document_length = 0
        # Buffered document text: document_text[self._text_offset:self._document_length].
        self._text = ""
        self._text_offset = 0
        # One entry per buffered token; offsets index the document text.
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._levels: list[int] = []  # strength of the gap before the token
        self._owners: list[int] = []  # key of its section in self._sources
        self._sources: dict[int, _Source] = {}
        self._start = 0  # buffer index where the next chunk starts
        self._covered = 0  # buffer index of the first token no chunk holds yet
        self._heading: str | None = None
        # The last section that had tokens: its page, and whether its text ends a sentence.
        self._previous_page: int | None = None
        self._previous_ends_sentence = False
        self._ordinal = 0

    def feed(self, section: Section) -> Iterator[ChunkDraft]:
        """Take one section; yield the chunks that are now complete."""
        separator = SEPARATOR if self._sections_seen else ""
        offset = self._document_length + len(separator)
        self._sections_seen += 1
        self._document_length = offset + len(section.text)
        offsets = self._tokenizer.token_offsets(section.text) if section.text.strip() else ()
        if not offsets:  # whitespace only: no chunk of its own, but its text stays part of the document
            self._append_text(separator, section.text, offset)
            return
        if section.heading_path != self._heading or not self._starts:
            yield from self._emit(final=True)
            self._reset()
            self._heading = section.heading_path
            first_level = _HARD
        else:
            first_level = self._section_break(section, offsets[0][0])
        self._append_text(separator, section.text, offset)
        self._append_tokens(section, offsets, offset, first_level)
        self._previous_page = section.page
        self._previous_ends_sentence = _ends_sentence(section.text, offsets[-1][1])
        yield from self._emit(final=False)
        self._compact()

    def finish(self) -> Iterator[ChunkDraft]:
        """Yield the remaining chunks at the end of the document."""
        yield from self._emit(final=True)
        self._reset()

    def _append_text(self, separator: str, text: str, offset: int) -> None:
        if self._starts:
            self._text += separator + text
        else:
            self._text, self._text_offset = text, offset

    def _section_break(self, section: Section, first_start: int) -> int:
        """Strength of the gap between the previous section with text and this one (same heading)."""
        finished = self._previous_ends_sentence and not section.text[first_start].islower()
        if section.start_seconds is not None:  # a caption line break: a phrase ends, rarely a paragraph
            return _SENTENCE
        if self._previous_page is not None and section.page is not None and self._previous_page != section.page:
            return _PAGE if finished else _WORD  # a sentence running on over a page break stays together
        return _PARAGRAPH if finished else _SENTENCE

    def _append_tokens(
        self, section: Section, offsets: Iterable[tuple[int, int]], offset: int, first_level: int
    ) -> None:
        key = self._sections_seen
        self._sources[key] = _Source(section.page, section.start_seconds, section.end_seconds)
        text = section.text
        starts, ends, levels, owners = self._starts, self._ends, self._levels, self._owners
        previous_end = -1
        for start, end in offsets:
            if previous_end < 0:
                level = first_level
            elif start == previous_end:
                level = _SENTENCE if text[start - 1] in _NO_SPACE_TERMINALS else _TOKEN
            else:
                gap = text[previous_end:start]
                if not gap.isspace():  # characters the tokenizer dropped (e.g. zero-width): maybe inside a word
                    level = _TOKEN
                elif gap.count("\n") >= 2:
                    level = _PARAGRAPH
                elif _ends_sentence(text, previous_end) and not text[start].islower():
                    level = _SENTENCE
                else:
                    level = _WORD
            starts.append(start + offset)
            ends.append(end + offset)
            levels.append(level)
            owners.append(key)
            previous_end = end

    def _level_at(self, boundary: int) -> int:
        return self._levels[boundary] if boundary < len(self._levels) else _HARD

    def _emit(self, final: bool) -> Iterator[ChunkDraft]:
        """Cut every chunk whose end is already decided (all of them when `final`)."""
        while self._covered < len(self._starts):
            count = len(self._starts)
            limit = self._start + self._max
            end = self._page_break(min(limit, count))
            if end is None:
                if limit >= count and not final:
                    return  # the chunk could still grow: wait for more text
                end = count if limit >= count else self._choose_end(limit)
            start, end, token_count = self._fit(self._start, end)
            yield self._draft(start, end, token_count)
            self._covered = end
            self._start = self._next_start(start, end)

    def _page_break(self, limit: int) -> int | None:
        """The first page break (after a finished sentence) or heading change in (covered, limit), if any.

        Chunks always end there, however short, so a citation names the exact page of a passage.
        """
        levels = self._levels
        for boundary in range(max(self._covered, self._start) + 1, limit):
            if levels[boundary] >= _PAGE:
                return boundary
        return None

    def _choose_end(self, limit: int) -> int:
        """The best gap in (covered, limit]: see the module docstring for the order of preference."""
        start, levels = self._start, self._levels
        quarter, half = start + self._max // 4, start + self._max // 2
        page = paragraph = sentence = word = 0
        for boundary in range(limit, self._covered, -1):
            level = levels[boundary]
            if level >= _PAGE and not page and boundary >= quarter:
                page = boundary
            if level >= _PARAGRAPH and not paragraph and boundary >= half:
                paragraph = boundary
            if level >= _SENTENCE and not sentence and boundary >= quarter:
                sentence = boundary
            if level >= _WORD and not word:
                word = boundary
        return page or paragraph or sentence or word or limit

    def _fit(self, start: int, end: int) -> tuple[int, int, int]:
        """Re-count a chunk cut inside a word (it may tokenise differently) and shrink it until it fits."""
        if self._levels[start] > _TOKEN and self._level_at(end) > _TOKEN:
            return start, end, end - start
        while True:
            token_count = len(self._tokenizer.token_offsets(self._slice(start, end)))
            if token_count <= self._max:
                return start, end, token_count
            if end - 1 > self._covered:
                end -= 1
            elif start < self._covered:
                start = self._covered  # give up the overlap rather than the new text
            else:  # one piece of a word that alone re-tokenises longer than max_tokens (max_tokens of 1 or 2)
                return start, end, token_count

    def _next_start(self, start: int, end: int) -> int:
        """Where the chunk after [start, end) begins: up to `overlap_tokens` back, at a sentence start if any."""
        if not self._overlap or end >= len(self._starts) or self._levels[end] >= _PAGE:
            return end
        lowest = max(end - self._overlap, start + 1)
        levels = self._levels
        word = 0
        for boundary in range(lowest, end):
            if levels[boundary] >= _SENTENCE:
                return boundary
            if levels[boundary] >= _WORD and not word:
                word = boundary
        return word or lowest

    def _slice(self, start: int, end: int) -> str:
        base = self._text_offset
        return self._text[self._starts[start] - base : self._ends[end - 1] - base]

    def _draft(self, start: int, end: int, token_count: int) -> ChunkDraft:
        keys = range(self._owners[start], self._owners[end - 1] + 1)
        sources = [self._sources[key] for key in keys if key in self._sources]
        pages = [s.page for s in sources if s.page is not None]
        starts = [s.start_seconds for s in sources if s.start_seconds is not None]
        ends = [s.end_seconds for s in sources if s.end_seconds is not None]
        draft = ChunkDraft(
            ordinal=self._ordinal,
            text=self._slice(start, end),
            token_count=token_count,
            char_start=self._starts[start],
            char_end=self._ends[end - 1],
            page_start=min(pages, default=None),
            page_end=max(pages, default=None),
            start_seconds=min(starts, default=None),
            end_seconds=max(ends, default=None),
            heading_path=self._heading,
        )
        self._ordinal += 1
        return draft

    def _compact(self) -> None:
        """Forget the tokens, text and sections before the next chunk's start."""
        drop = self._start
        if not drop:
            return
        for column in (self._starts, self._ends, self._levels, self._owners):
            del column[:drop]
        self._start = 0
        self._covered -= drop
        first = self._starts[0]
        self._text = self._text[first - self._text_offset :]
        self._text_offset = first
        oldest = self._owners[0]
        for key in [key for key in self._sources if key < oldest]:
            del self._sources[key]

    def _reset(self) -> None:
        for column in (self._starts, self._ends, self._levels, self._owners):
            column.clear()
        self._sources.clear()
        self._start = self._covered = 0
        self._text, self._text_offset = "", self._document_length
        self._previous_page, self._previous_ends_sentence = None, False


def _ends_sentence(text: str, end: int) -> bool:
    """Whether `text[:end]` ends with a sentence terminal, possibly followed by closing quotes or brackets."""
    index = end - 1
    while index >= 0 and text[index] in _CLOSERS:
        index -= 1
    return index >= 0 and text[index] in _TERMINALS
