"""Studio: `langgraph dev` serves the graphs, and the interview runs to an interrupt and resumes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory):
    cli = shutil.which("langgraph", path=str(Path(sys.executable).parent))
    assert cli, "langgraph-cli is a dev dependency; install with pip install -e .[dev]"
    port = _free_port()
    data = tmp_path_factory.mktemp("studio-data")
    env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGSMITH_TRACING": "false",
        "LANGGRAPH_NO_VERSION_CHECK": "true",
        "INTERVIEW_DATA_DIR": str(data),
    }
    log = (data / "langgraph-dev.log").open("w")
    proc = subprocess.Popen(
        [cli, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"langgraph dev exited: {(data / 'langgraph-dev.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("langgraph dev did not become ready in 90 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


async def test_interview_runs_to_interrupt_and_resumes_in_studio(studio: str) -> None:
    client = get_client(url=studio)
    assistants = await client.assistants.search(graph_id="interview")
    assert assistants, "the interview graph is registered from langgraph.json"
    thread = await client.threads.create()
    context = {"plan": "backend_engineer", "engine": "offline"}
    await client.runs.wait(thread["thread_id"], "interview", input={}, context=context)
    state = await client.threads.get_state(thread["thread_id"])
    interrupts = [i for task in state["tasks"] for i in task.get("interrupts", [])]
    assert interrupts and interrupts[0]["value"]["waiting_for"] == "candidate"
    first_question = interrupts[0]["value"]["question_id"]
    assert first_question == "top_k_frequent"

    await client.runs.wait(
        thread["thread_id"],
        "interview",
        command={"resume": "I would count with a hash map."},
        context=context,
    )
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["turn"] == 1
    interrupts = [i for task in state["tasks"] for i in task.get("interrupts", [])]
    assert interrupts, "after one answer the interview waits for the candidate again"
    said = [r["text"] for r in state["values"]["recent"] if r["speaker"] != "candidate"]
    assert said, "a panelist responded to the answer"
