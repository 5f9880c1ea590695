"""The main text of an HTML document (trafilatura, else the whole body), with h1 to h6 heading paths."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from nimbus.knowledge.loaders.sniff import FileKind
from nimbus.knowledge.loaders.text import (
    Block,
    Heading,
    Paragraph,
    clean_text,
    group_sections,
    parse_text,
    plain_blocks,
    require_text,
)
from nimbus.knowledge.types import ParsedSource, SourceError

if TYPE_CHECKING:
    from bs4.element import Tag

WHOLE_BODY_RATIO = 1.5
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_SKIPPED_TAGS = frozenset(
    {"script", "style", "noscript", "template", "nav", "footer", "header", "aside", "form", "svg", "iframe"}
    | {"button", "select", "head", "object", "embed", "canvas", "dialog"}
)
_TEXT_BLOCK_TAGS = frozenset(
    {"p", "li", "pre", "blockquote", "dd", "dt", "figcaption", "caption", "address", "summary"}
)
_CONTAINER_TAGS = frozenset(
    {"div", "section", "article", "main", "body", "html", "ul", "ol", "dl", "figure", "details", "table"}
    | {"p", "li", "blockquote", "center", "hgroup", "fieldset"}
    | _HEADING_TAGS
)
_CONTAINERS = sorted(_CONTAINER_TAGS)
_NESTED_CONTAINERS = sorted(_CONTAINER_TAGS - _HEADING_TAGS)
_XML_BLOCK_TAGS = frozenset({"p", "item", "head", "quote", "code", "list", "table", "row"})
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode_html(data: bytes, declared_charset: str | None = None) -> str:
    """Decode HTML bytes: a BOM, else the declared (HTTP) charset, else `<meta charset>`, else UTF-8 or cp1252."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    meta = _META_CHARSET.search(data[:4096])
    candidates = [declared_charset, meta.group(1).decode("ascii") if meta else None, "utf-8"]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return data.decode(codecs.lookup(candidate).name)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", errors="replace")


def open_html(path: Path, fallback_title: str | None = None) -> ParsedSource:
    """An HTML file: decode it and extract its main text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError("The file could not be read.") from exc
    return parse_html(decode_html(data), fallback_title=fallback_title)


def parse_html(markup: str, *, fallback_title: str | None = None) -> ParsedSource:
    """Extract the main text and title of an HTML document (no fetching of anything it links to)."""
    markup = _XML_DECLARATION.sub("", markup, count=1)
    if "<" not in markup:  # served as HTML but holds no markup at all
        source = parse_text(markup, markdown=False, title=fallback_title)
        source.media_type = FileKind.HTML
        return source
    title, blocks = _whole_text(markup)
    try:
        main = _main_text(markup)
    except RecursionError:
        main = None  # nested beyond what trafilatura walks: the whole-body text stands
    if main is not None:
        title = main[0] or title
        # The main text, unless the whole body is barely longer: then there was little boilerplate to drop, and
        # the whole body keeps the tables and headings that main-text extraction sometimes loses.
        if _size(blocks) > WHOLE_BODY_RATIO * _size(main[1]):
            blocks = main[1]
    return ParsedSource(
        media_type=FileKind.HTML,
        sections=require_text(group_sections(blocks)),
        title=title or fallback_title,
    )


def _size(blocks: list[Block]) -> int:
    return sum(len(block.text) if isinstance(block, Paragraph) else len(block.title) for block in blocks)


class _Element(Protocol):
    """The part of an lxml element that reading trafilatura's result tree needs."""

    tag: object
    text: str | None
    tail: str | None

    def get(self, key: str) -> str | None: ...
    def findall(self, path: str) -> list[_Element]: ...
    def iter(self, tag: str) -> Iterator[_Element]: ...
    def __iter__(self) -> Iterator[_Element]: ...


def _main_text(markup: str) -> tuple[str | None, list[Block]] | None:
    import trafilatura
    from trafilatura.settings import Document

    document = trafilatura.bare_extraction(
        markup,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=False,
        favor_recall=True,
        with_metadata=True,
        prune_xpath=["//*[@hidden]", "//*[@aria-hidden='true']"],
    )
    if not isinstance(document, Document):
        return None
    body: _Element = document.body
    blocks = list(_xml_blocks(body))
    if not any(isinstance(block, Paragraph) for block in blocks):
        return None
    return clean_text(document.title or "") or None, blocks


def _xml_blocks(element: _Element) -> Iterator[Block]:
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag == "head":
            level = re.fullmatch(r"h([1-6])", child.get("rend") or "")
            title = clean_text(_xml_inline(child))
            if title:
                yield Heading(int(level.group(1)) if level else 2, title)
        elif child.tag == "list":
            yield Paragraph("\n".join(_xml_list_lines(child, depth=0)))
        elif child.tag == "table":
            rows = (" | ".join(clean_text(_xml_inline(cell)) for cell in row) for row in child.iter("row"))
            yield Paragraph("\n".join(row for row in rows if row.strip(" |")))
        elif child.tag in {"div", "main"}:
            yield from _xml_blocks(child)
        else:
            yield Paragraph(clean_text(_xml_inline(child)))


def _xml_list_lines(element: _Element, depth: int) -> Iterator[str]:
    for item in element.findall("item"):
        text = clean_text(_xml_inline(item, skip=frozenset({"list"})))
        if text:
            yield "  " * depth + "- " + text.replace("\n", " ")
        for nested in item.findall("list"):
            yield from _xml_list_lines(nested, depth + 1)


def _xml_inline(element: _Element, skip: frozenset[str] = frozenset()) -> str:
    parts = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            parts.append("\n")
        elif child.tag in _XML_BLOCK_TAGS and child.tag not in skip:
            parts.append(f"\n{_xml_inline(child, skip)}\n")
        elif isinstance(child.tag, str) and child.tag not in skip:
            parts.append(_xml_inline(child, skip))
        parts.append(child.tail or "")
    return "".join(parts)


def _whole_text(markup: str) -> tuple[str | None, list[Block]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    for line_break in soup.find_all("br"):
        line_break.replace_with("\n")
    title = clean_text(soup.title.get_text()) if soup.title is not None else ""
    root = soup.body or soup
    try:
        blocks = list(_soup_blocks(root))
    except RecursionError:  # too deeply nested to walk: its text without structure
        blocks = list(plain_blocks(root.get_text("\n").splitlines()))
    return title or None, blocks


def _soup_blocks(node: Tag) -> Iterator[Block]:
    from bs4.element import NavigableString, Tag

    loose: list[str] = []

    def flush() -> Iterator[Block]:
        text = clean_text("".join(loose))
        loose.clear()
        if text:
            yield Paragraph(text)

    for child in node.children:
        if isinstance(child, NavigableString):
            if type(child) is NavigableString:  # not a comment, CDATA or doctype
                loose.append(str(child))
            continue
        if not isinstance(child, Tag) or child.name in _SKIPPED_TAGS or child.has_attr("hidden"):
            continue
        name = child.name
        if name in _HEADING_TAGS and not child.find(_NESTED_CONTAINERS):
            yield from flush()
            title = clean_text(child.get_text())
            if title:
                yield Heading(int(name[1]), title)
        elif name in {"ul", "ol"}:
            yield from flush()
            yield Paragraph("\n".join(_soup_list_lines(child, depth=0)))
        elif name == "table" and not child.find("table"):
            yield from flush()
            yield Paragraph("\n".join(_soup_rows(child)))
        elif name in _TEXT_BLOCK_TAGS and not child.find(_CONTAINERS):
            yield from flush()
            yield Paragraph(clean_text(child.get_text(), keep_indent=name == "pre"))
        elif name in _CONTAINER_TAGS or name in _TEXT_BLOCK_TAGS or child.find(_CONTAINERS):
            yield from flush()
            yield from _soup_blocks(child)
        else:
            loose.append(child.get_text())
    yield from flush()


def _soup_list_lines(list_tag: Tag, depth: int) -> Iterator[str]:
    from bs4.element import Tag

    items = [item for item in list_tag.find_all("li", recursive=False) if isinstance(item, Tag)]
    for number, item in enumerate(items, start=1):
        nested = [child for child in item.children if isinstance(child, Tag) and child.name in {"ul", "ol"}]
        nested_ids = {id(sublist) for sublist in nested}
        own = "".join(
            child.get_text() if isinstance(child, Tag) else str(child)
            for child in item.children
            if id(child) not in nested_ids
        )
        text = clean_text(own).replace("\n", " ")
        if text:
            marker = f"{number}." if list_tag.name == "ol" else "-"
            yield f"{'  ' * depth}{marker} {text}"
        for sublist in nested:
            yield from _soup_list_lines(sublist, depth + 1)


def _soup_rows(table: Tag) -> Iterator[str]:
    for row in table.find_all("tr"):
        cells = [clean_text(cell.get_text(" ")) for cell in row.find_all(["td", "th"])]
        line = " | ".join(cells)
        if line.strip(" |"):
            yield line
