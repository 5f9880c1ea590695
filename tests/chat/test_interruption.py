"""A client that goes away mid-answer: the partial answer is kept as `interrupted` (real server, real socket)."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.conftest import LiveServer
from tests.fakes.openai_server import FakeOpenAI, HangMidStream


async def test_disconnect_mid_stream_stores_the_partial_answer(live_api: LiveServer, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(HangMidStream("The first half ", seconds=3, text_after="never seen"))
    async with httpx.AsyncClient(base_url=live_api.url, timeout=10) as http:
        token = (await http.post("/api/v1/sessions")).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        chat_id = (await http.post("/api/v1/chats", json={})).json()["id"]
        received = ""
        async with http.stream("POST", f"/api/v1/chats/{chat_id}/messages", json={"content": "Tell me"}) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data:") and '"text"' in line:
                    received += json.loads(line[5:])["text"]
                    break
        assert received.strip()  # at least one token arrived before we hung up

        for _ in range(50):
            messages = (await http.get(f"/api/v1/chats/{chat_id}")).json()["messages"]
            if messages[1]["status"] != "streaming":
                break
            await asyncio.sleep(0.1)
    assert messages[0]["content"] == "Tell me"
    assert messages[1]["status"] == "interrupted"
    assert messages[1]["content"].startswith(received)
    assert "never seen" not in messages[1]["content"]
