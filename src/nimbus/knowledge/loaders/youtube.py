"""YouTube: links to video ids, and a video's transcript as timed sections (youtube-transcript-api)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit
from xml.etree.ElementTree import ParseError

import requests
from requests.adapters import HTTPAdapter

from nimbus.knowledge.loaders.text import clean_text
from nimbus.knowledge.types import NoTextError, ParsedSource, Section, SourceError

if TYPE_CHECKING:
    from youtube_transcript_api import (
        CouldNotRetrieveTranscript,
        FetchedTranscriptSnippet,
        Transcript,
        TranscriptList,
    )

    from nimbus.config import KnowledgeSettings

MEDIA_TYPE = "text/vnd.youtube.transcript"
SECTION_SECONDS = 30.0  # a section spans at most about this much of the video…
SECTION_CHARS = 400  # …or this much text, ending early at a sentence end past half of it
_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_HOSTS = frozenset({"youtube.com", "youtu.be", "youtube-nocookie.com"})
_HOST_PREFIXES = ("www.", "m.", "music.", "gaming.")
_ID_PATHS = frozenset({"shorts", "embed", "live", "v", "e"})
_SENTENCE_END = re.compile(r"[.!?…]['\")\]]*$")
_BLOCKED = "YouTube blocked the request from this server; configure NIMBUS_YOUTUBE_PROXY_URL."
_BLOCKED_VIA_PROXY = "YouTube blocked the request, even through NIMBUS_YOUTUBE_PROXY_URL; try another proxy."


def parse_video_id(url_or_id: str) -> str:
    """The 11-character id of a YouTube link (watch, youtu.be, shorts, embed, live; any host variant) or bare id."""
    value = url_or_id.strip()
    if _VIDEO_ID.fullmatch(value):
        return value
    try:
        parts = urlsplit(value if "://" in value else f"https://{value}")
        host = (parts.hostname or "").lower()
    except ValueError:
        host, parts = "", urlsplit("")
    for prefix in _HOST_PREFIXES:
        host = host.removeprefix(prefix)
    segments = [segment for segment in parts.path.split("/") if segment]
    candidate: str | None = None
    if parts.scheme.lower() in {"http", "https"} and host in _HOSTS:
        if host == "youtu.be":
            candidate = segments[0] if segments else None
        elif segments == ["watch"]:
            candidate = parse_qs(parts.query).get("v", [""])[0]
        elif len(segments) >= 2 and segments[0] in _ID_PATHS:
            candidate = segments[1]
    if candidate is not None and _VIDEO_ID.fullmatch(candidate):
        return candidate
    raise SourceError(f"not a YouTube link: {url_or_id}")


def fetch_transcript(
    video_id: str, settings: KnowledgeSettings, http_client: requests.Session | None = None
) -> ParsedSource:
    """Fetch a video's transcript in the preferred languages (else another one, translated when YouTube can).

    Blocking; raises SourceError with a reason a user understands, NoTextError for an empty transcript.
    """
    from youtube_transcript_api import CouldNotRetrieveTranscript, YouTubeTranscriptApi
    from youtube_transcript_api.proxies import GenericProxyConfig

    if not _VIDEO_ID.fullmatch(video_id):  # the library puts the id into its URLs as it is
        raise SourceError(f"not a YouTube link: {video_id}")
    proxy_url = settings.youtube_proxy_url
    proxy = GenericProxyConfig(http_url=proxy_url, https_url=proxy_url) if proxy_url else None
    session = http_client if http_client is not None else _session(settings.web_timeout_seconds)
    player = _PlayerDetails()
    session.hooks["response"].append(player)
    try:
        api = YouTubeTranscriptApi(proxy_config=proxy, http_client=session)
        transcript, original_language = _choose(api.list(video_id), settings.youtube_languages)
        fetched = transcript.fetch()
    except CouldNotRetrieveTranscript as exc:
        raise _describe(exc, proxied=proxy is not None) from exc
    except requests.RequestException as exc:
        raise SourceError(f"Could not reach YouTube: {_network_reason(exc)}") from exc
    except (ParseError, KeyError, IndexError, ValueError) as exc:
        raise SourceError("YouTube's answer could not be understood (its format may have changed).") from exc
    finally:
        session.hooks["response"].remove(player)
        if http_client is None:
            session.close()
    sections = transcript_sections(fetched.snippets)
    if not sections:
        raise NoTextError("The video's transcript is empty.")
    details = {"video_id": video_id, "language": fetched.language_code, "language_name": fetched.language}
    details["generated"] = "true" if fetched.is_generated else "false"
    if original_language is not None:
        details["translated_from"] = original_language
    return ParsedSource(
        media_type=MEDIA_TYPE,
        sections=iter(sections),
        title=player.title or f"YouTube video {video_id}",
        details=details,
    )


def transcript_sections(snippets: Iterable[FetchedTranscriptSnippet]) -> list[Section]:
    """Consecutive caption snippets merged into sections of a few sentences, each with its start and end time."""
    sections: list[Section] = []
    texts: list[str] = []
    start = end = 0.0
    size = 0
    for snippet in snippets:
        text = clean_text(snippet.text).replace("\n", " ")
        if not text:
            continue
        if texts and _section_full(snippet.start - start, size, texts[-1]):
            sections.append(Section(text=" ".join(texts), start_seconds=start, end_seconds=end))
            texts, size = [], 0
        if not texts:
            start, end = snippet.start, snippet.start
        texts.append(text)
        size += len(text) + 1
        end = max(end, snippet.start + snippet.duration)
    if texts:
        sections.append(Section(text=" ".join(texts), start_seconds=start, end_seconds=end))
    return sections


def _section_full(span_seconds: float, size: int, last_text: str) -> bool:
    if span_seconds >= SECTION_SECONDS or size >= SECTION_CHARS:
        return True
    return size >= SECTION_CHARS // 2 and _SENTENCE_END.search(last_text) is not None


def _choose(transcripts: TranscriptList, languages: list[str]) -> tuple[Transcript, str | None]:
    """The transcript in the first preferred language; else one YouTube translates into it; else any."""
    from youtube_transcript_api import NoTranscriptFound

    try:
        return transcripts.find_transcript(languages), None
    except NoTranscriptFound:
        available = list(transcripts)  # manually created ones first
    if not available:
        raise NoTranscriptFound(transcripts.video_id, languages, transcripts)
    for language in languages:
        for transcript in available:
            codes = {option.language_code for option in transcript.translation_languages}
            if language in codes:
                return transcript.translate(language), transcript.language_code
    return available[0], None


def _describe(exc: CouldNotRetrieveTranscript, *, proxied: bool) -> SourceError:
    from youtube_transcript_api import (
        AgeRestricted,
        FailedToCreateConsentCookie,
        InvalidVideoId,
        NoTranscriptFound,
        PoTokenRequired,
        RequestBlocked,
        TranscriptsDisabled,
        VideoUnavailable,
        VideoUnplayable,
        YouTubeRequestFailed,
    )

    if isinstance(exc, TranscriptsDisabled | NoTranscriptFound):
        return SourceError("This video has no transcript (its captions are disabled or none exist).")
    if isinstance(exc, VideoUnavailable | InvalidVideoId):
        return SourceError("The video is unavailable or private.")
    if isinstance(exc, VideoUnplayable):
        return SourceError(f"The video is unavailable or private: {exc.reason or 'YouTube gave no reason'}.")
    if isinstance(exc, AgeRestricted):
        return SourceError("The video is age-restricted; its transcript cannot be read without signing in.")
    if isinstance(exc, RequestBlocked):
        return SourceError(_BLOCKED_VIA_PROXY if proxied else _BLOCKED)
    if isinstance(exc, PoTokenRequired):
        return SourceError("YouTube requires a proof-of-origin token for this video's captions; try again later.")
    if isinstance(exc, YouTubeRequestFailed):
        return SourceError(f"YouTube answered with an error: {exc.reason.split(' for url')[0]}")
    if isinstance(exc, FailedToCreateConsentCookie):
        return SourceError("YouTube asked for cookie consent and it could not be given.")
    return SourceError("YouTube's answer could not be understood (its format may have changed).")


def _network_reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return "the connection timed out"
    if isinstance(exc, requests.exceptions.ProxyError):
        return "the proxy (NIMBUS_YOUTUBE_PROXY_URL) refused the connection"
    if isinstance(exc, requests.ConnectionError):
        return "the connection failed"
    return type(exc).__name__


class _PlayerDetails:
    """A response hook that keeps the video title from the player answer the library requests anyway."""

    def __init__(self) -> None:
        self.title: str | None = None

    def __call__(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        if self.title is not None or not response.ok or "/youtubei/v1/player" not in response.url:
            return
        try:
            data: Any = response.json()
        except ValueError:
            return  # the library reports an unreadable answer itself
        details = data.get("videoDetails") if isinstance(data, dict) else None
        title = details.get("title") if isinstance(details, dict) else None
        if isinstance(title, str) and title.strip():
            self.title = clean_text(title)


class _TimeoutAdapter(HTTPAdapter):
    """Applies a default timeout to every request (the library sets none)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        timeout = self._timeout if timeout is None else timeout
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)


def _session(timeout: float) -> requests.Session:
    session = requests.Session()
    session.mount("https://", _TimeoutAdapter(timeout))
    session.mount("http://", _TimeoutAdapter(timeout))
    return session
