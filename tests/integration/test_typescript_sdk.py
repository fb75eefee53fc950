"""The TypeScript SDK (sdk/typescript) against a live worker on the real broker.

One worker serves the module, with a ``churn`` and a ``market`` deployment (the latter with a
shadow to promote), two API keys (one only for the rate-limit test) and a 5 MB upload limit. The
test installs the package's dev dependencies from its lockfile (``npm ci``, skipped while the
lockfile is the one installed), type-checks it (``tsc --noEmit``) and runs ``npm test`` (build,
then Node's test runner: unit tests, the customer journey and every error path, the committed types
against ``/openapi.json``, and the README example from the packed tarball in a consumer project),
with the worker's URL and keys in the environment. A failing step fails the test with its output.
``TRACER_SDK_REGENERATE=1`` first rewrites the committed types from that worker (``npm run generate``),
after a change to the API or to a blueprint's output.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration import workers
from tracer.agents.kafka_local import free_port
from tracer.blueprints.recipes.customer_churn import CustomerChurn

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SDK = Path(__file__).resolve().parents[2] / "sdk" / "typescript"
KEYS = {name: f"{name}-{uuid.uuid4().hex}" for name in ("main", "limited")}
MAX_UPLOAD_BYTES = 5_000_000
STEP_TIMEOUT_S = 600


@dataclass(frozen=True)
class LiveWorker:
    base: str
    log: Path


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorker]:
    folder = tmp_path_factory.mktemp("ts-sdk")
    prefix = f"t{uuid.uuid4().hex[:10]}."
    deployments = folder / "deployments.yaml"
    deployments.write_text(
        "deployments:\n"
        f"  - {{id: churn, blueprint: customer_churn, input_topics: [{prefix}customers], key_field: cust_id,"
        " labels: {mode: inline, field: churned}}\n"
        f"  - {{id: market, blueprint: price_movement, input_topics: [{prefix}snapshots], key_field: symbol,"
        " labels: {mode: self}, shadows: [{name: slow, params: {horizonSeconds: 300}}]}\n"
    )
    env = workers.worker_environment(dict(os.environ), prefix)
    env.update(
        TRACER_KAFKA_BOOTSTRAP=kafka_bootstrap, TRACER_DATA_DIR=str(folder / "worker"),
        XDG_STATE_HOME=str(folder / "state"), TRACER_API_KEYS=",".join(KEYS.values()),
        TRACER_API_RATE_LIMIT="50", TRACER_API_BURST="50", TRACER_API_MAX_UPLOAD_BYTES=str(MAX_UPLOAD_BYTES),
    )  # fmt: skip
    port = free_port()
    log = folder / "worker.log"
    process = workers.start(deployments, env, prefix + "api", log, web_port=port)
    base = f"http://127.0.0.1:{port}"
    try:
        workers.wait_owned(process, base, 2, log)
        yield LiveWorker(base, log)
    finally:
        status = workers.stop(process)
        output = log.read_text(errors="replace")
        print(output[-5000:])  # shown by pytest when a test fails
    assert status == 0 and "Traceback" not in output, "the worker failed or logged an exception"


def _run(command: list[str], env: dict[str, str]) -> str:
    """Run a step in the package's folder; fail the test with its output if it fails."""
    try:
        done = subprocess.run(
            command, cwd=SDK, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{' '.join(command)} ran over {STEP_TIMEOUT_S} s:\n{error.stdout!s}\n{error.stderr!s}")
    output = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{output[-20000:]}")
    return output


def _npm_ci(env: dict[str, str]) -> None:
    """``npm ci``, unless node_modules was installed from this very lockfile."""
    lock = hashlib.sha256((SDK / "package-lock.json").read_bytes()).hexdigest()
    stamp = SDK / "node_modules" / ".tracer-lockfile-sha256"
    if stamp.exists() and stamp.read_text() == lock:
        return
    _run(["npm", "ci", "--no-audit", "--no-fund"], env)
    stamp.write_text(lock)


def test_typescript_sdk(worker: LiveWorker, tmp_path: Path) -> None:
    """npm ci, tsc --noEmit, npm test: unit and live tests of the package, all passing."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.fail("the TypeScript SDK's tests need Node 20+ and npm on the PATH")
    csv = tmp_path / "customers.csv"
    CustomerChurn().sample(2000, seed=1).to_csv(csv, index=False)
    env = dict(os.environ)
    env.update(
        TRACER_URL=worker.base, TRACER_API_KEY=KEYS["main"], TRACER_API_KEY_LIMITED=KEYS["limited"],
        TRACER_TEST_CSV=str(csv), TRACER_MAX_UPLOAD_BYTES=str(MAX_UPLOAD_BYTES),
        npm_config_update_notifier="false",
    )  # fmt: skip
    _npm_ci(env)
    if os.environ.get("TRACER_SDK_REGENERATE") == "1":  # after an API or blueprint change: rewrite the types
        _run(["npm", "run", "generate"], env)
    _run(["npx", "--no-install", "tsc", "--noEmit"], env)
    output = _run(["npm", "test"], env)
    print(output[-6000:])
    assert "# fail 0" in output and "# skipped 0" in output, output[-6000:]
