"""Interviews for the reviewer tests: taken over the real WebSocket, as a candidate would."""

from __future__ import annotations

from typing import Any

from .server_util import Client, Server, connect

ANSWER = (
    "I would count with a Counter, then keep a heap of size k, so it is O(n log k). "
    "Ties are broken by the smaller value."
)
CODE = (
    "from collections import Counter\n\n\n"
    "def top_k_frequent(nums, k):\n"
    "    ranked = sorted(Counter(nums).items(), key=lambda x: (-x[1], x[0]))\n"
    "    return [v for v, _ in ranked[:k]]\n"
)


async def take_interview(
    server: Server, login: dict[str, Any], plan: str, *, answer: bool, code: bool, end: bool
) -> Client:
    """Take an interview over the WebSocket: optionally answer, paste and submit, and end."""
    async with connect(server) as ws:
        client = Client(ws)
        await client.send(login)
        await client.until(lambda e: e["type"] == "session")
        await client.send({"type": "start", "plan": plan})
        await client.until(lambda e: e["type"] == "session")
        question = await client.question()
        if answer:
            await client.send({"type": "message", "text": ANSWER})
            await client.until(lambda e: e["type"] == "message")
        if code:
            await client.send({"type": "integrity", "signal": "paste", "size": 900})
            await client.until(lambda e: e["type"] == "ack")
            frame = {"type": "code", "action": "submit", "code": CODE}
            await client.send({**frame, "question_id": question["question_id"]})
            await client.until(lambda e: e["type"] == "code_result", 60)
        if end:
            await client.send({"type": "control", "action": "end"})
            await client.until(lambda e: e["type"] == "interview_ended", 60)
        return client
