"""The official OpenAI SDK, unchanged, against Nimbus over a real socket."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import LiveServer
from tests.fakes.openai_server import FakeOpenAI, Reply, Status


@pytest.fixture
def sdk(live_api: LiveServer) -> openai.OpenAI:
    import httpx

    token = httpx.post(f"{live_api.url}/api/v1/sessions").json()["token"]
    return openai.OpenAI(base_url=f"{live_api.url}/v1", api_key=token, max_retries=0)


def test_models_lists_the_served_model(sdk: openai.OpenAI) -> None:
    with sdk:
        assert [m.id for m in sdk.models.list()] == ["fake-model"]


def test_non_streaming_completion(sdk: openai.OpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply("Bonjour!", usage=(9, 3)))
    with sdk:
        completion = sdk.chat.completions.create(
            model="anything", messages=[{"role": "user", "content": "Say hello in French"}], temperature=0.5
        )
    assert completion.choices[0].message.content == "Bonjour!"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (9, 3)
    upstream = fake_openai.chat_requests[-1].body
    assert upstream["temperature"] == 0.5
    assert upstream["messages"][0]["role"] == "system"


def test_streaming_completion_with_usage(sdk: openai.OpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(chunks=["One", ", two", ", three"], usage=(4, 3)))
    with sdk:
        stream = sdk.chat.completions.create(
            model="x",
            messages=[{"role": "system", "content": "Count."}, {"role": "user", "content": "Count to three"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "One, two, three"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3
    assert fake_openai.chat_requests[-1].body["messages"][0] == {"role": "system", "content": "Count."}


def test_bad_api_key_is_rejected(live_api: LiveServer) -> None:
    with (
        openai.OpenAI(base_url=f"{live_api.url}/v1", api_key="wrong", max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError),
    ):
        bad.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])


def test_provider_failure_reaches_the_client_as_an_error(sdk: openai.OpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Status(500), Status(500))
    with sdk, pytest.raises(openai.APIStatusError) as error:
        sdk.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    assert error.value.status_code == 502


def test_streaming_provider_failure_raises_in_the_client(sdk: openai.OpenAI, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Status(500), Status(500))
    with sdk, pytest.raises(openai.APIError):
        list(sdk.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}], stream=True))


def test_invalid_request_is_422(sdk: openai.OpenAI) -> None:
    with sdk, pytest.raises(openai.UnprocessableEntityError):
        sdk.chat.completions.create(model="x", messages=[])


def test_completions_are_grounded_in_the_sessions_documents(live_api: LiveServer, fake_openai: FakeOpenAI) -> None:
    import time

    import httpx

    from tests.pdfs import make_pdf

    token = httpx.post(f"{live_api.url}/api/v1/sessions").json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    pdf = make_pdf(["Nothing here.", "The Valdorian lighthouse keeper, Ilse Marten, kept a diary of every storm."])
    document = httpx.post(f"{live_api.url}/api/v1/documents", files={"file": ("v.pdf", pdf)}, headers=headers).json()
    for _ in range(600):
        if httpx.get(f"{live_api.url}/api/v1/documents/{document['id']}", headers=headers).json()["status"] == "ready":
            break
        time.sleep(0.1)
    with openai.OpenAI(base_url=f"{live_api.url}/v1", api_key=token, max_retries=0) as client:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "Who kept a storm diary?"}])
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert "[1] v.pdf, page 2" in sent[-1]["content"]
    assert sent[-1]["content"].endswith("Question: Who kept a storm diary?")
