"""Web pages: every hop resolved, vetted against private addresses and connected to by IP; size and time limits."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from nimbus.knowledge.loaders.docx import open_docx
from nimbus.knowledge.loaders.html import decode_html, parse_html
from nimbus.knowledge.loaders.pdf import open_pdf
from nimbus.knowledge.loaders.sniff import SAMPLE_BYTES, FileKind, detect_encoding, looks_like_markdown, sniff_bytes
from nimbus.knowledge.loaders.text import parse_text
from nimbus.knowledge.types import ParsedSource, SourceError
from nimbus.version import get_version

if TYPE_CHECKING:
    from nimbus.config import KnowledgeSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CONTENT_TYPES = {
    "text/html": FileKind.HTML,
    "application/xhtml+xml": FileKind.HTML,
    "text/plain": FileKind.TEXT,
    "text/markdown": FileKind.MARKDOWN,
    "text/x-markdown": FileKind.MARKDOWN,
    "application/pdf": FileKind.PDF,
    "application/x-pdf": FileKind.PDF,
    FileKind.DOCX.value: FileKind.DOCX,
}
_SNIFFED_CONTENT_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,text/markdown;q=0.9,application/pdf;q=0.8,*/*;q=0.1"


@dataclass(frozen=True, slots=True)
class _Page:
    url: str
    content_type: str
    charset: str | None
    body: bytes


def fetch_page(url: str, settings: KnowledgeSettings, *, transport: httpx.BaseTransport | None = None) -> ParsedSource:
    """Fetch a web page (HTML, text, Markdown, PDF or DOCX) and extract its main text. Blocking.

    Only http(s); every redirect hop is resolved and refused if it points to a private, loopback, link-local,
    multicast, reserved or unspecified address (unless `web_allow_private`); the body is capped at `web_max_bytes`
    and the whole fetch at about `web_timeout_seconds`. `transport` replaces the network (tests).
    """
    page = _download(_parse_url(url), settings, transport)
    source = _parse(page)
    source.details = {**source.details, "url": page.url}
    return source


def is_forbidden_address(address: IPAddress) -> bool:
    """Whether an address is not a public unicast one (IPv4 inside IPv6 mapped, 6to4, Teredo or NAT64 included)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_forbidden_address(address.ipv4_mapped)
        embedded = [address.sixtofour, address.teredo[1] if address.teredo else None]
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(inner is not None and is_forbidden_address(inner) for inner in embedded):
            return True
    return not address.is_global or address.is_multicast or address.is_reserved


def _parse_url(raw: str) -> httpx.URL:
    value = raw.strip()
    try:
        url = httpx.URL(value if "://" in value else f"https://{value}")
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise SourceError(f"not a valid web address: {raw}") from exc
    return _checked(url)


def _checked(url: httpx.URL) -> httpx.URL:
    if url.scheme not in {"http", "https"}:
        raise SourceError(f"only http and https links can be fetched: {url}")
    if not url.host or "%" in url.host or not 0 < (url.port or 80) < 65536:
        raise SourceError(f"not a valid web address: {url}")
    if url.userinfo:
        raise SourceError("links with a user name or password cannot be fetched")
    return url.copy_with(fragment=None)


def _download(url: httpx.URL, settings: KnowledgeSettings, transport: httpx.BaseTransport | None) -> _Page:
    deadline = time.monotonic() + settings.web_timeout_seconds
    headers = {"User-Agent": f"Mozilla/5.0 (compatible; Nimbus/{get_version()})", "Accept": _ACCEPT}
    # No proxies from the environment: they would connect on our behalf, past the address checks. No keep-alive:
    # a pooled connection to an IP must not carry a request for another host name.
    limits = httpx.Limits(max_keepalive_connections=0)
    try:
        with httpx.Client(transport=transport, trust_env=False, headers=headers, limits=limits) as client:
            for _ in range(MAX_REDIRECTS + 1):
                addresses = _resolve(url, allow_private=settings.web_allow_private)
                outcome = _get(client, url, addresses, deadline, settings.web_max_bytes)
                if isinstance(outcome, _Page):
                    return outcome
                url = outcome
    except httpx.TimeoutException as exc:
        raise _too_slow(settings.web_timeout_seconds) from exc
    except httpx.DecodingError as exc:
        raise SourceError("the page's compressed content is damaged") from exc
    except httpx.HTTPError as exc:
        raise SourceError(f"Could not fetch the page: {str(exc) or type(exc).__name__}") from exc
    raise SourceError(f"the page redirected more than {MAX_REDIRECTS} times")


def _resolve(url: httpx.URL, *, allow_private: bool) -> list[IPAddress]:
    """The addresses to connect to, all vetted before any connection is made."""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(url.host)]
    except ValueError:
        try:  # the system resolver's own timeout applies here, outside the fetch deadline
            infos = socket.getaddrinfo(url.raw_host.decode("ascii"), port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise SourceError(f"Could not resolve {url.host}") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    if not allow_private:
        for address in addresses:
            if is_forbidden_address(address):
                raise SourceError(f"refusing to fetch {url.host}: it points to a private or local address ({address})")
    return addresses


def _get(
    client: httpx.Client, url: httpx.URL, addresses: list[IPAddress], deadline: float, max_bytes: int
) -> _Page | httpx.URL:
    """One hop: the page, or where it redirects to. Connects to the vetted addresses only, so a DNS answer that
    changes between the check and the connection (rebinding) cannot redirect the request."""
    failure: httpx.ConnectError | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise httpx.TimeoutException("deadline passed")
        request = client.build_request(
            "GET",
            url.copy_with(host=str(address)),
            headers={"Host": url.netloc.decode("ascii")},
            extensions={"sni_hostname": url.raw_host.decode("ascii")},
            timeout=httpx.Timeout(remaining),
        )
        try:
            response = client.send(request, stream=True)
        except httpx.ConnectError as exc:
            failure = exc
            continue
        try:
            return _read(response, url, deadline, max_bytes)
        finally:
            response.close()
    raise SourceError(f"Could not connect to {url.host}: {failure}") from failure


def _read(response: httpx.Response, url: httpx.URL, deadline: float, max_bytes: int) -> _Page | httpx.URL:
    status = response.status_code
    if status in _REDIRECT_STATUSES:
        location = response.headers.get("location")
        if not location:
            raise SourceError(f"the page answered {status} without saying where to go")
        try:
            return _checked(url.join(location))
        except httpx.InvalidURL as exc:
            raise SourceError(f"the page redirected to an invalid address: {location}") from exc
    if not 200 <= status < 300:
        raise SourceError(f"the page answered {status}")
    content_type, charset = _content_type(response.headers.get("content-type", ""))
    if content_type not in _CONTENT_TYPES and content_type not in _SNIFFED_CONTENT_TYPES:
        raise SourceError(f"unsupported content type: {content_type}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_big(max_bytes)
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise _too_big(max_bytes)
        if time.monotonic() > deadline:
            raise httpx.TimeoutException("deadline passed")
    return _Page(url=str(url), content_type=content_type, charset=charset, body=bytes(body))


def _parse(page: _Page) -> ParsedSource:
    kind = _CONTENT_TYPES.get(page.content_type) or sniff_bytes(page.body)
    fallback_title = page.url
    if kind is FileKind.PDF:
        source = open_pdf(page.body)
        source.title = source.title or fallback_title
        return source
    if kind is FileKind.DOCX:
        return open_docx(page.body, fallback_title=fallback_title)
    if kind is FileKind.HTML:
        return parse_html(decode_html(page.body, page.charset), fallback_title=fallback_title)
    text = _decode_text(page.body, page.charset)
    markdown = kind is FileKind.MARKDOWN or looks_like_markdown(text[:SAMPLE_BYTES])
    source = parse_text(text, markdown=markdown)
    source.title = source.title or fallback_title
    return source


def _decode_text(body: bytes, charset: str | None) -> str:
    for encoding in (charset, detect_encoding(body[:SAMPLE_BYTES])):
        if encoding:
            try:
                return body.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
    return body.decode("utf-8", errors="replace")


def _content_type(header: str) -> tuple[str, str | None]:
    media_type, _, parameters = header.partition(";")
    charset = None
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    return media_type.strip().lower(), charset


def _too_big(max_bytes: int) -> SourceError:
    size = f"{max_bytes / 1_048_576:.3g} MB" if max_bytes >= 1_048_576 else f"{max_bytes / 1024:.3g} KB"
    return SourceError(f"page larger than {size}")


def _too_slow(timeout_seconds: float) -> SourceError:
    return SourceError(f"the page took longer than {timeout_seconds:g} s to load")
