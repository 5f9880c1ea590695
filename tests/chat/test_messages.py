from __future__ import annotations

import httpx

from tests.fakes.openai_server import FakeOpenAI, Reply, Status
from tests.helpers import ask, new_chat


async def test_answer_streams_as_sse_and_is_stored(auth: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(chunks=["Par", "is", " is the capital."], usage=(12, 5)))
    chat_id = await new_chat(auth)
    events = await ask(auth, chat_id, "What is the capital of France?")
    names = [name for name, _ in events]
    assert names == ["start", "token", "token", "token", "done"]
    assert "".join(data["text"] for name, data in events if name == "token") == "Paris is the capital."
    done = events[-1][1]
    assert done["usage"] == {"prompt_tokens": 12, "completion_tokens": 5}
    assert done["model"] == "fake-model"
    assert done["message_id"] == events[0][1]["assistant_message_id"]

    chat = (await auth.get(f"/api/v1/chats/{chat_id}")).json()
    assert chat["name"] == "What is the capital of France?"
    user, answer = chat["messages"]
    assert (user["role"], user["content"]) == ("user", "What is the capital of France?")
    assert (answer["role"], answer["content"], answer["status"]) == ("assistant", "Paris is the capital.", "complete")
    assert (answer["prompt_tokens"], answer["completion_tokens"], answer["model"]) == (12, 5, "fake-model")


async def test_non_streaming_answer_returns_json(auth: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply("Four."))
    chat_id = await new_chat(auth)
    response = await auth.post(
        f"/api/v1/chats/{chat_id}/messages", params={"stream": "false"}, json={"content": "2+2?"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["user_message"]["content"] == "2+2?"
    assert body["assistant_message"]["content"] == "Four."
    assert body["assistant_message"]["status"] == "complete"


async def test_previous_turns_are_sent_as_memory(auth: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    chat_id = await new_chat(auth)
    await ask(auth, chat_id, "My name is Ada.")
    await ask(auth, chat_id, "What is my name?")
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "My name is Ada."
    assert sent[2]["content"] == "Echo: My name is Ada."
    assert sent[3]["content"] == "What is my name?"


async def test_provider_failure_keeps_the_question_and_stores_the_error(
    auth: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Status(500), Status(500), Status(500))
    chat_id = await new_chat(auth)
    events = await ask(auth, chat_id, "Will this fail?")
    assert [name for name, _ in events] == ["start", "error"]
    error = events[-1][1]
    assert error["code"] == "llm_error"
    assert error["message_id"] == events[0][1]["assistant_message_id"]
    messages = (await auth.get(f"/api/v1/chats/{chat_id}")).json()["messages"]
    assert messages[0]["content"] == "Will this fail?"
    assert messages[1]["status"] == "error"
    assert messages[1]["error"]


async def test_non_streaming_provider_failure_returns_its_status(
    auth: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Status(429, headers={"Retry-After": "0"}), Status(429, headers={"Retry-After": "0"}))
    chat_id = await new_chat(auth)
    response = await auth.post(f"/api/v1/chats/{chat_id}/messages?stream=false", json={"content": "hello"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "llm_rate_limited"
    messages = (await auth.get(f"/api/v1/chats/{chat_id}")).json()["messages"]
    assert [m["status"] for m in messages] == ["complete", "error"]


async def test_regenerate_replaces_the_last_answer(auth: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    chat_id = await new_chat(auth)
    fake_openai.script(Status(500), Status(500))
    await ask(auth, chat_id, "Try me")
    fake_openai.script(Reply("Second try worked."))
    response = await auth.post(f"/api/v1/chats/{chat_id}/regenerate", params={"stream": "false"})
    assert response.status_code == 200, response.text
    assert response.json()["assistant_message"]["content"] == "Second try worked."
    messages = (await auth.get(f"/api/v1/chats/{chat_id}")).json()["messages"]
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "complete")]
    assert fake_openai.chat_requests[-1].body["messages"][-1]["content"] == "Try me"


async def test_regenerate_streams_too(auth: httpx.AsyncClient, fake_openai: FakeOpenAI) -> None:
    chat_id = await new_chat(auth)
    await ask(auth, chat_id, "Once")
    fake_openai.script(Reply("Again"))
    response = await auth.post(f"/api/v1/chats/{chat_id}/regenerate")
    assert "event: done" in response.text
    messages = (await auth.get(f"/api/v1/chats/{chat_id}")).json()["messages"]
    assert [m["content"] for m in messages] == ["Once", "Again"]


async def test_regenerate_without_a_question_is_a_conflict(auth: httpx.AsyncClient) -> None:
    chat_id = await new_chat(auth)
    response = await auth.post(f"/api/v1/chats/{chat_id}/regenerate")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "nothing_to_regenerate"


async def test_message_limits(auth: httpx.AsyncClient) -> None:
    chat_id = await new_chat(auth)
    url = f"/api/v1/chats/{chat_id}/messages"
    too_long = await auth.post(url, json={"content": "x" * 32_001})
    assert too_long.status_code == 413
    assert "32000" in too_long.json()["error"]["message"]
    assert (await auth.post(url, json={"content": ""})).status_code == 422
    assert (await auth.post(url, json={"content": "   \n"})).status_code == 422
    assert (await auth.post(url, json={"content": 42})).status_code == 422
    malformed = await auth.post(url, content=b'{"content": "unterminated', headers={"content-type": "application/json"})
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "invalid_request"
    missing = await auth.post(url, json={"text": "hi"})
    assert missing.json()["error"]["fields"][0]["loc"] == ["body", "content"]
    huge = await auth.post(url, content=b"x" * (2 << 20), headers={"content-type": "application/json"})
    assert huge.status_code == 413
    assert (await auth.get(f"/api/v1/chats/{chat_id}")).json()["messages"] == []


async def test_user_named_chat_keeps_its_name(auth: httpx.AsyncClient) -> None:
    chat_id = await new_chat(auth, "Mine")
    await ask(auth, chat_id, "A question that would otherwise name the chat")
    assert (await auth.get(f"/api/v1/chats/{chat_id}")).json()["name"] == "Mine"


async def test_long_first_message_gives_a_short_title(auth: httpx.AsyncClient) -> None:
    chat_id = await new_chat(auth)
    await ask(auth, chat_id, "Please explain " + "very " * 40 + "carefully")
    name = (await auth.get(f"/api/v1/chats/{chat_id}")).json()["name"]
    assert name.startswith("Please explain very")
    assert name.endswith("…")
    assert len(name) <= 60
