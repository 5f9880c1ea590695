"""Helpers for the UI tests: documents with known facts, and waiting for their indexing to end."""

from __future__ import annotations

import time
from typing import Any

from ui.api_client import NimbusClient
from ui.api_models import Document

from tests.pdfs import make_pdf

# Each page is too long to share a chunk with the next one (over half of the 200-token chunk size), so
# every page gets chunks of its own and a citation names exactly one page.
VALDORIA = [
    "Chapter one. The harbour of Valdoria was built in 1652 by stonemasons from Genoa. They shaped the breakwater "
    "from grey limestone quarried in the hills above the town, and the work took eleven summers. The old quay still "
    "carries the masons' marks, small crosses and stars cut into the blocks near the waterline. Oxen dragged the "
    "largest blocks down a road that is still called the Genoese Way. The town paid the masons in salt, wine and "
    "the right to fish in the bay for twenty years. When the breakwater was finished, the bishop blessed it and "
    "the masons sailed home with their families.",
    "Chapter two. The Valdorian lighthouse keeper, Ilse Marten, kept a diary of every storm. She wrote down the "
    "wind, the height of the waves and the ships that sheltered in the bay. The great storm of 1783 destroyed half "
    "of the fishing fleet, and her diary is the only record of the boats that were lost that night. She climbed "
    "the one hundred and twelve steps of the tower four times a night to trim the wick. Her diary fills nine "
    "volumes bound in sailcloth, and the town museum shows one page of it each month.",
    "Chapter three. Today the harbour exports olive oil, cork and hand-painted tiles. Ferries leave twice a day "
    "for the islands, and a market is held on the quay every Saturday morning. Restaurants along the water serve "
    "grilled sardines, octopus salad and almond cake to visitors in the summer. The tile workshops behind the "
    "fish market fire their kilns with olive wood. Cork is stripped from the oaks every nine years and shipped "
    "in great bales to bottle makers in the north.",
]
LIGHTHOUSE_QUESTION = "Who kept a diary of every storm?"


def texts(elements: Any) -> list[str]:
    """The values of AppTest elements (markdown, captions, alerts …) as strings."""
    return [str(element.value) for element in elements]


def valdoria_pdf() -> bytes:
    """Three pages; the lighthouse keeper's diary is on page 2."""
    return make_pdf(VALDORIA)


def long_pdf(pages: int = 96) -> bytes:
    """A PDF that keeps the ingestion worker busy for a while, to catch it in progress (tests cancel it)."""
    filler = "Tide tables list the hours of high and low water for every day of the year. " * 25
    return make_pdf([f"Almanac page {n}. {filler}" for n in range(1, pages + 1)])


def wait_until_indexed(client: NimbusClient, document_id: str, timeout: float = 120.0) -> Document:
    """Poll a document until its indexing has ended (ready, no text, failed or cancelled)."""
    deadline = time.monotonic() + timeout
    while True:
        document = client.get_document(document_id)
        if not document.in_progress:
            return document
        if time.monotonic() > deadline:
            raise AssertionError(f"{document.name} still {document.status} after {timeout} s")
        time.sleep(0.1)
