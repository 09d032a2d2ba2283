"""An independent fake OpenAI chat-completions server that does *not* follow our formats.

Run: ``.venv/bin/python benchmarks/fake_openai.py --port 8931 --ttft 0.2 --tps 50``.

Written from the OpenAI API reference (``POST /v1/chat/completions``, plain and
``stream=true`` server-sent events of ``chat.completion.chunk`` objects ending in
``data: [DONE]``, ``stream_options.include_usage``, ``max_tokens``/``max_completion_tokens``,
``finish_reason`` ``stop``/``length``; ``GET /v1/models``), not from the project's stub: it knows
nothing about roles, prompts or schemas.  It answers every request with English prose, the way
a small general model does when it ignores the instructions:

* ``--screen prose``: a request whose system prompt asks for ALLOW/WARN/BLOCK gets
  "Sure! The message looks fine to me..." (no verdict word); ``--screen label`` gets
  "**Verdict**: allow" then a sentence; ``--screen comply`` gets "ALLOW".
* JSON requests (``response_format``) get prose too, or, with ``--json truncated``, a JSON
  object cut off mid-way with ``finish_reason=length``.
* Speech is a few sentences, word by word.

Misbehaviours (each request draws one with ``--fault-rate``, from ``--faults``): ``rate_limit``
(429 with Retry-After), ``server_error`` (500), ``stall`` (``--stall`` seconds before any byte),
``loop`` (repeats a paragraph forever and ignores ``max_tokens``), ``ignore_cap`` (a reply far
longer than ``max_tokens``, finish_reason ``stop``), ``truncated`` (cut off mid-word,
finish_reason ``length``).  ``GET /_requests`` returns the recent request bodies (for tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

SPEECH = (
    "Thanks for walking me through that. I like that you started from the constraints. "
    "Could you tell me how it behaves when the input grows a hundred times?"
)
LOOP = "Let me think about that again, because the answer depends on the data. "
SCREEN = {
    "prose": "Sure! The message looks fine to me, the candidate is answering the question.",
    "label": "**Verdict**: allow. The candidate is answering the question.",
    "comply": "ALLOW",
}
PROSE = "Sure! Here is what I think: the candidate gave a reasonable answer with some gaps."


class Fake:
    """Configuration, random draws and the recent requests of one server."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.recent: deque[dict[str, Any]] = deque(maxlen=200)
        self.faults: dict[str, int] = {}

    def draw(self) -> str | None:
        """This request's misbehaviour, if any."""
        if self.rng.random() >= self.args.fault_rate:
            return None
        kinds = [k for k in self.args.faults.split(",") if k]
        kind = self.rng.choice(kinds) if kinds else None
        if kind:
            self.faults[kind] = self.faults.get(kind, 0) + 1
        return kind


def _words(text: str) -> list[str]:
    out, word = [], ""
    for ch in text:
        word += ch
        if ch == " ":
            out.append(word)
            word = ""
    return [*out, word] if word else out


def _reply(body: dict[str, Any], fake: Fake) -> str:
    system = " ".join(
        str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "system"
    )
    if "ALLOW" in system and "BLOCK" in system:
        return SCREEN[fake.args.screen]
    if body.get("response_format"):
        if fake.args.json == "truncated":
            return '{"observation": "The candidate described a hash map and a he'
        return PROSE
    return SPEECH


def _usage(body: dict[str, Any], completion: int) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


async def completions(request: Request) -> Response:
    """``POST /v1/chat/completions``."""
    fake: Fake = request.app.state.fake
    body = await request.json()
    fake.recent.append({"received_at": time.time(), "body": body})
    fault = fake.draw()
    if fault == "rate_limit":
        error = {
            "error": {
                "message": "Rate limit reached",
                "type": "requests",
                "code": "rate_limit_exceeded",
            }
        }
        return JSONResponse(error, status_code=429, headers={"retry-after": "1"})
    if fault == "server_error":
        return JSONResponse(
            {"error": {"message": "The server had an error", "type": "server_error"}}, 500
        )
    if fault == "stall":
        await asyncio.sleep(fake.args.stall)
    cap = body.get("max_completion_tokens") or body.get("max_tokens")
    pieces = _words(_reply(body, fake))
    finish = "stop"
    looping = fault == "loop"
    if fault == "ignore_cap":
        pieces = pieces * 20
    elif fault == "truncated":
        pieces = pieces[: max(1, len(pieces) // 2)]
        pieces[-1] = pieces[-1].strip()[:2]  # mid-word
        finish = "length"
    elif cap and not looping and len(pieces) > cap:
        pieces, finish = pieces[:cap], "length"
    created, model = int(time.time()), body.get("model", "fake")
    rid = f"chatcmpl-fake{fake.rng.randrange(10**9)}"
    await asyncio.sleep(fake.args.ttft)
    if not body.get("stream"):
        if fake.args.tps:
            await asyncio.sleep(len(pieces) / fake.args.tps)
        message = {"role": "assistant", "content": "".join(pieces)}
        choice = {"index": 0, "message": message, "finish_reason": finish}
        return JSONResponse(
            {
                "id": rid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [choice],
                "usage": _usage(body, len(pieces)),
            }
        )

    async def events() -> AsyncIterator[str]:
        def chunk(delta: dict[str, Any], reason: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": reason}
            return (
                "data: "
                + json.dumps(
                    {
                        "id": rid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [choice],
                    }
                )
                + "\n\n"
            )

        yield chunk({"role": "assistant", "content": ""})
        sent = 0
        stream = iter(pieces) if not looping else (w for _ in iter(int, 1) for w in _words(LOOP))
        for k, piece in enumerate(stream):
            if k and fake.args.tps:
                await asyncio.sleep(1 / fake.args.tps)
            sent += 1
            yield chunk({"content": piece})
        yield chunk({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "id": rid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": _usage(body, sent),
            }
            yield "data: " + json.dumps(usage) + "\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def models(request: Request) -> Response:
    """``GET /v1/models``."""
    return JSONResponse(
        {
            "object": "list",
            "data": [{"id": "fake", "object": "model", "created": 0, "owned_by": "fake"}],
        }
    )


async def recent(request: Request) -> Response:
    """``GET /_requests``: recent request bodies and fault counts."""
    fake: Fake = request.app.state.fake
    return JSONResponse({"recent": list(fake.recent), "faults": fake.faults})


def create_app(args: argparse.Namespace) -> Starlette:
    """The ASGI app for ``args``."""
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/v1/models", models),
            Route("/_requests", recent),
        ]
    )
    app.state.fake = Fake(args)
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8931)
    parser.add_argument("--ttft", type=float, default=0.2)
    parser.add_argument("--tps", type=float, default=50.0)
    parser.add_argument("--screen", choices=sorted(SCREEN), default="prose")
    parser.add_argument("--json", choices=["prose", "truncated"], default="prose")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument(
        "--faults", default="rate_limit,server_error,stall,loop,ignore_cap,truncated"
    )
    parser.add_argument("--stall", type=float, default=40.0)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main() -> None:
    """Serve until interrupted."""
    args = parse_args()
    uvicorn.run(create_app(args), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
