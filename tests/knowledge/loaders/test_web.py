from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nimbus.config import KnowledgeSettings
from nimbus.knowledge.loaders.web import fetch_page, is_forbidden_address
from nimbus.knowledge.types import SourceError
from tests.knowledge.loaders.page_server import Page, PageServer

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

ARTICLE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Field notes on river birds</title></head>
<body>
<nav><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/shop">Shop</a></nav>
<article>
<h1>Field notes on river birds</h1>
<p>Kingfishers nest in burrows dug into steep sand banks along slow rivers, and both parents take turns.</p>
<h2>Where to look</h2>
<p>Look for a flash of blue low over the water early in the morning, when the river is calm and clear.</p>
<h3>Tides and banks</h3>
<p>Estuaries with soft banks are good places; the birds perch on branches a metre above the surface.</p>
<h2>What they eat</h2>
<p>Small fish such as minnows and sticklebacks make up most of the diet, with aquatic insects in winter.</p>
</article>
<footer>Copyright the bird society</footer>
</body></html>"""


def _settings(*, allow_private: bool = True, max_bytes: int = 1024 * 1024, timeout: float = 5.0) -> KnowledgeSettings:
    return KnowledgeSettings(
        _env_file=None, web_allow_private=allow_private, web_max_bytes=max_bytes, web_timeout_seconds=timeout
    )


@pytest.fixture
def server() -> Iterator[PageServer]:
    with PageServer({"/article": Page(ARTICLE)}) as running:
        yield running


def test_an_article_becomes_sections_with_heading_paths(server: PageServer) -> None:
    source = fetch_page(server.url("/article"), _settings())
    sections = list(source.sections)
    assert source.media_type == "text/html"
    assert source.title == "Field notes on river birds"
    assert source.details == {"url": server.url("/article")}
    assert [section.heading_path for section in sections] == [
        "Field notes on river birds",
        "Field notes on river birds > Where to look",
        "Field notes on river birds > Where to look > Tides and banks",
        "Field notes on river birds > What they eat",
    ]
    assert "flash of blue" in sections[1].text
    assert not any("About us" in section.text or "Copyright" in section.text for section in sections)


def test_a_host_name_is_resolved_and_the_vetted_address_connected_to(server: PageServer) -> None:
    source = fetch_page(server.url("/article", host="localhost"), _settings())
    assert source.title == "Field notes on river birds"
    assert server.hits[0].host == f"localhost:{server.port}"  # the name travels in Host, the IP was dialled


def test_redirects_are_followed_to_the_final_page(server: PageServer) -> None:
    server.routes["/old"] = Page(status=301, headers={"Location": "/moved"})
    server.routes["/moved"] = Page(status=302, headers={"Location": server.url("/article")})
    source = fetch_page(server.url("/old"), _settings())
    assert source.details["url"] == server.url("/article")
    assert [hit.path for hit in server.hits] == ["/old", "/moved", "/article"]


def test_more_than_five_redirects_are_refused(server: PageServer) -> None:
    for hop in range(10):
        server.routes[f"/hop{hop}"] = Page(status=302, headers={"Location": f"/hop{hop + 1}"})
    with pytest.raises(SourceError, match=r"^the page redirected more than 5 times$"):
        fetch_page(server.url("/hop0"), _settings())
    assert len(server.hits) == 6


@pytest.mark.parametrize("send_length", [True, False], ids=["declared", "streamed"])
def test_a_page_over_the_size_limit_is_refused(server: PageServer, send_length: bool) -> None:
    server.routes["/big"] = Page(b"<p>" + b"x" * 40_000 + b"</p>", send_length=send_length)
    with pytest.raises(SourceError, match=r"^page larger than 16 KB$"):
        fetch_page(server.url("/big"), _settings(max_bytes=16 * 1024))


def test_a_page_that_keeps_trickling_hits_the_overall_time_limit(server: PageServer) -> None:
    server.routes["/slow"] = Page(b"<p>" + b"x" * 200 + b"</p>", send_length=False, trickle_seconds=0.05)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"^the page took longer than 0\.5 s to load$"):
        fetch_page(server.url("/slow"), _settings(timeout=0.5))
    assert time.monotonic() - started < 2


def test_a_content_type_that_is_not_a_document_is_refused(server: PageServer) -> None:
    server.routes["/logo"] = Page(b"\x89PNG\r\n\x1a\n", content_type="image/png")
    with pytest.raises(SourceError, match=r"^unsupported content type: image/png$"):
        fetch_page(server.url("/logo"), _settings())


def test_an_http_error_status_is_reported(server: PageServer) -> None:
    with pytest.raises(SourceError, match=r"^the page answered 404$"):
        fetch_page(server.url("/missing"), _settings())


def test_plain_text_and_markdown_pages_are_read(server: PageServer) -> None:
    server.routes["/notes.txt"] = Page(b"First paragraph.\n\nSecond one.", content_type="text/plain; charset=utf-8")
    server.routes["/readme"] = Page(b"# Guide\n\nIntro.\n\n## Setup\n\nRun it.", content_type="text/markdown")
    text = fetch_page(server.url("/notes.txt"), _settings())
    markdown = fetch_page(server.url("/readme"), _settings())
    assert [section.text for section in text.sections] == ["First paragraph.\n\nSecond one."]
    assert markdown.title == "Guide"
    assert [section.heading_path for section in markdown.sections] == ["Guide", "Guide > Setup"]


def test_a_pdf_link_is_read_page_by_page(server: PageServer) -> None:
    pdf = (FIXTURES / "pdf" / "nics-background-checks-2015-11.pdf").read_bytes()
    server.routes["/report.pdf"] = Page(pdf, content_type="application/pdf")
    source = fetch_page(server.url("/report.pdf"), _settings())
    sections = list(source.sections)
    assert source.total_pages == 1
    assert [section.page for section in sections] == [1]
    assert "Alabama" in sections[0].text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/article",
        "http://localhost:{port}/article",
        "http://[::1]:{port}/article",
        "http://[::ffff:127.0.0.1]:{port}/article",
        "http://0.0.0.0:{port}/article",
        "http://2130706433:{port}/article",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://[2002:7f00:1::]/",
    ],
)
def test_private_and_local_addresses_are_refused_before_connecting(server: PageServer, url: str) -> None:
    with pytest.raises(SourceError, match=r"^refusing to fetch .*private or local address"):
        fetch_page(url.format(port=server.port), _settings(allow_private=False))
    assert server.hits == []


def test_a_redirect_to_a_private_address_is_refused_before_following_it(server: PageServer) -> None:
    seen: list[httpx.Request] = []

    def public_site(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    with pytest.raises(SourceError, match=r"refusing to fetch 169\.254\.169\.254"):
        fetch_page(
            "http://93.184.216.34/start", _settings(allow_private=False), transport=httpx.MockTransport(public_site)
        )
    assert [str(request.url) for request in seen] == ["http://93.184.216.34/start"]


def test_a_redirect_to_localhost_never_reaches_the_local_server(server: PageServer) -> None:
    def public_site(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": server.url("/article", host="localhost")})

    with pytest.raises(SourceError, match=r"^refusing to fetch localhost"):
        fetch_page("http://93.184.216.34/", _settings(allow_private=False), transport=httpx.MockTransport(public_site))
    assert server.hits == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/file.txt", "^only http and https links can be fetched"),
        ("file:///etc/passwd", "^only http and https links can be fetched"),
        ("http://user:secret@example.com/", "^links with a user name or password cannot be fetched$"),
        ("http://example.com:99999/", "^not a valid web address"),
        ("https://", "^not a valid web address"),
        ("http://exa mple.com/", "^not a valid web address"),
        ("http://[::1/", "^not a valid web address"),
    ],
)
def test_links_that_are_not_plain_web_addresses_are_refused(url: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        fetch_page(url, _settings(allow_private=False))


def test_a_redirect_to_another_scheme_is_refused() -> None:
    def public_site(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "file:///etc/passwd"})

    with pytest.raises(SourceError, match=r"^only http and https links can be fetched"):
        fetch_page("http://93.184.216.34/", _settings(allow_private=False), transport=httpx.MockTransport(public_site))


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("93.184.216.34", False),
        ("2606:4700:4700::1111", False),
        ("::ffff:93.184.216.34", False),
        ("127.0.0.1", True),
        ("::ffff:10.1.2.3", True),
        ("64:ff9b::a9fe:a9fe", True),  # NAT64 of 169.254.169.254
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", True),  # Teredo with a private client address
        ("::", True),
        ("ff02::1", True),
        ("239.255.255.250", True),
        ("240.0.0.1", True),
    ],
)
def test_address_vetting(address: str, forbidden: bool) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address)) is forbidden
