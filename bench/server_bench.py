"""`bnfix server` latency on a 5,000-line Keras module, measured through a real LSP client over stdio.

    python bench/server_bench.py [--lines 5000] [--keras-share 0.7] [--repeat 3]
    python bench/server_bench.py --file MODULE.py [--repeat 3]      # a module of real code instead

Spawns `python -m bnfix server` (this checkout's code), opens the module, and times what an editor waits for:
didOpen -> publishDiagnostics, an edit (didChange) -> publishDiagnostics (the 0.15 s debounce is subtracted and
reported apart), a quick-fix request, "fix all", opening the file again once closed (its result then comes
from the project's result cache: the workspace has a pyproject.toml), and the first open of a saved copy that was
never opened (the server primed the cache with it at start; how long priming took is reported too); with the CPU time of the server and its analysis worker
for each (from /proc, which the machine's load changes much less than wall time), and how long a request that needs no analysis waits while one
runs (the event loop must stay free). Prints one JSON object; the figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bnfix.engine import check_source  # noqa: E402
from bnfix.server.scheduler import CHANGE_DELAY  # noqa: E402
from bnfix.settings import Settings  # noqa: E402

ACTIVATIONS = ("relu", "elu", "gelu", "tanh")


def keras_module(lines: int, keras_share: float, seed: int = 0) -> str:
    """Model-building functions (Sequential and functional, many with BN bugs), `keras_share` of the blocks, between
    plain helpers."""
    rng = random.Random(seed)
    out = ['"""Model zoo for the feature experiments."""', "", "import numpy as np", "from tensorflow import keras"]
    out += ["from tensorflow.keras import layers", ""]
    trailer = ["", "x_train = np.random.rand(2048, 20)", "y_train = x_train.sum(axis=1)", "model = keras.Sequential([keras.Input(shape=(20,)), layers.Dense(1)])"]
    trailer += ["model.fit(x_train, y_train, epochs=5, batch_size=32, verbose=0)"]
    index = 0
    while True:
        index += 1
        block: list[str] = []
        kind = rng.random()
        if kind < keras_share * 0.57:
            block += ["", "", f"def build_sequential_{index}(width: int = 64) -> keras.Model:", '    """A small MLP."""']
            block += ["    model = keras.Sequential([", "        keras.Input(shape=(20,)),"]
            for depth in range(rng.randint(2, 5)):
                act = rng.choice(ACTIVATIONS)
                bn = rng.choice(["", "momentum=0.1", "eps=1e-3", "momentum=0.99"])
                block += [f"        layers.Dense(width // {2 ** depth}),", f'        layers.Activation("{act}"),']
                block.append(f"        layers.BatchNormalization({bn}),")
            block += ["        layers.Dense(1),", "    ])", "    model.compile(optimizer='adam', loss='mse')", "    return model"]
        elif kind < keras_share:
            block += ["", "", f"def build_functional_{index}(inputs):", '    """A functional block."""', "    x = inputs"]
            for _ in range(rng.randint(2, 4)):
                block += ["    x = layers.Dense(32)(x)", "    x = layers.BatchNormalization()(x)", "    x = layers.ReLU()(x)"]
            block += ["    return keras.Model(inputs, layers.Dense(1)(x))"]
        else:
            block += ["", "", f"def summarise_{index}(rows, limit=100):", '    """Plain helper code."""', "    total = 0"]
            block += ["    for i, row in enumerate(rows):", "        if i >= limit:", "            break"]
            block += ["        total += sum(value for value in row if value > 0)", "    return total / max(limit, 1)"]
        if len(out) + len(block) + len(trailer) > lines:
            break
        out += block
    out += [f"SETTING_{number} = {number}" for number in range(lines - len(out) - len(trailer))]  # exactly `lines`
    out += trailer
    return "\n".join(out) + "\n"


class Client(LanguageClient):
    def __init__(self) -> None:
        super().__init__("bnfix-bench", "1")
        self.published: asyncio.Queue = asyncio.Queue()

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def record(params: types.PublishDiagnosticsParams) -> None:
            self.published.put_nowait((time.perf_counter(), params))


async def _wait_version(client: Client, version: int) -> tuple[float, types.PublishDiagnosticsParams]:
    while True:
        at, params = await client.published.get()
        if params.version == version:
            return at, params


async def _primed(paths: list[Path]) -> float:
    """When the server's cache priming has stored a result for each of `paths` (polled)."""
    from bnfix.cache import ResultCache
    from bnfix.config import load_settings
    from bnfix.process import DEFAULT_MAX_CODE_MB

    cache = ResultCache.for_run(load_settings([paths[0]], {}), ("check", DEFAULT_MAX_CODE_MB))
    waiting = list(paths)
    while waiting:
        waiting = [path for path in waiting if cache.load(path, path.read_bytes()) is None]
        await asyncio.sleep(0.05)
    return time.perf_counter()


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its live descendants (the server's analysis worker), from /proc (Linux)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
            except (OSError, IndexError):
                continue  # the process ended meanwhile
    tree, added = {pid}, True
    while added:
        children = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= children
        added = bool(children)
    total = 0
    for member in tree:
        try:
            fields = _stat(member)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class Timings:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    async def time(self, name: str, operation, subtract: float = 0.0):
        """Run `operation()` (a coroutine function returning (finished_at, result)); record wall and server CPU."""
        cpu, start = _cpu_seconds(self.pid), time.perf_counter()
        finished, result = await operation()
        self.wall.setdefault(name, []).append(finished - start - subtract)
        self.cpu.setdefault(name, []).append(_cpu_seconds(self.pid) - cpu)
        return result

    def summary(self) -> dict:
        return {
            name: {
                "wall_best_s": round(min(values), 3),
                "wall_median_s": round(statistics.median(values), 3),
                "server_and_worker_cpu_median_s": round(statistics.median(self.cpu[name]), 3),
            }
            for name, values in self.wall.items()
        }


async def measure(text: str, repeat: int) -> dict:
    client = Client()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    await client.start_io(sys.executable, "-m", "bnfix", "server", env=env)
    capabilities = types.ClientCapabilities(
        text_document=types.TextDocumentClientCapabilities(
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True)
        )
    )
    workspace = Path(tempfile.mkdtemp(prefix="bnfix-server-bench-"))
    (workspace / "pyproject.toml").write_text("[tool.bnfix]\n")  # a project: the server shares its result cache
    # Saved files, which the server primes the cache with at start; the zoo_N documents are never saved.
    saved = [workspace / f"saved_{run}.py" for run in range(repeat)]
    for run, path in enumerate(saved):
        path.write_text(f"{text}# saved copy {run}\n", encoding="utf-8")
    await client.initialize_async(types.InitializeParams(capabilities=capabilities, root_uri=workspace.as_uri()))
    started = time.perf_counter()
    client.initialized(types.InitializedParams())
    timings = Timings(client._server.pid)
    priming = await _primed(saved) - started  # before anything is timed: priming competes for the CPU meanwhile
    notes = (workspace / "notes.md").as_uri()  # a document bnfix skips: a request about it needs no analysis
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(notes, "markdown", 1, "# notes\n")))
    version = 1  # a first small file, so that the worker's start is timed apart from the big file's analysis

    async def first_file():
        item = types.TextDocumentItem((workspace / "first.py").as_uri(), "python", 1, "import os\n")
        client.text_document_did_open(types.DidOpenTextDocumentParams(item))
        return await _wait_version(client, 1)

    await timings.time("first diagnostics after start (worker warming up)", first_file)
    waits, counts = [], []
    for run in range(repeat):
        uri = (workspace / f"zoo_{run}.py").as_uri()
        document = types.TextDocumentIdentifier(uri)
        version += 1
        opened = version

        async def open_document():
            item = types.TextDocumentItem(uri, "python", opened, text)
            client.text_document_did_open(types.DidOpenTextDocumentParams(item))
            # While the analysis runs, the server still answers at once.
            asked = time.perf_counter()
            hover = types.HoverParams(types.TextDocumentIdentifier(notes), types.Position(0, 0))
            await client.text_document_hover_async(hover)
            waits.append(time.perf_counter() - asked)
            return await _wait_version(client, opened)

        params = await timings.time("didOpen -> publishDiagnostics", open_document)
        counts.append(len(params.diagnostics))
        version += 1
        changed = version

        async def change_document():  # one keystroke-sized edit at the end
            last = len(text.splitlines())
            where = types.Range(types.Position(last, 0), types.Position(last, 0))
            identifier = types.VersionedTextDocumentIdentifier(uri=uri, version=changed)
            change = types.TextDocumentContentChangePartial(range=where, text="#\n")
            client.text_document_did_change(types.DidChangeTextDocumentParams(identifier, [change]))
            return await _wait_version(client, changed)

        params = await timings.time("didChange -> publishDiagnostics (debounce subtracted)", change_document, CHANGE_DELAY)
        fixable = next((d for d in params.diagnostics if d.data and d.data.get("fix") == "safe"), None)
        if fixable is None:  # nothing to fix in this file: only the diagnostics are timed
            client.text_document_did_close(types.DidCloseTextDocumentParams(document))
            continue

        async def code_action(only: list[str]):
            context = types.CodeActionContext(diagnostics=[fixable] if only == ["quickfix"] else [], only=only)
            result = await client.text_document_code_action_async(types.CodeActionParams(document, fixable.range, context))
            return time.perf_counter(), result

        await timings.time("codeAction: one quick fix", lambda: code_action(["quickfix"]))
        await timings.time("codeAction: fix all", lambda: code_action(["source.fixAll"]))
        client.text_document_did_close(types.DidCloseTextDocumentParams(document))
        version += 1
        reopened = version

        async def reopen_document():  # as first opened: the server stored its result in the project's cache then
            item = types.TextDocumentItem(uri, "python", reopened, text)
            client.text_document_did_open(types.DidOpenTextDocumentParams(item))
            return await _wait_version(client, reopened)

        await timings.time("didOpen of a file checked before (result cache) -> publishDiagnostics", reopen_document)
        await _wait_version(client, reopened)  # the check that follows, parsing it for fixes: the next run starts idle
        client.text_document_did_close(types.DidCloseTextDocumentParams(document))
        version += 1
        first_open = version
        saved_uri = saved[run].as_uri()

        async def open_saved():  # never opened, but saved when the server started: primed
            item = types.TextDocumentItem(saved_uri, "python", first_open, saved[run].read_text(encoding="utf-8"))
            client.text_document_did_open(types.DidOpenTextDocumentParams(item))
            return await _wait_version(client, first_open)

        await timings.time("didOpen of a saved file never opened (primed cache) -> publishDiagnostics", open_saved)
        await _wait_version(client, first_open)
        client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(saved_uri)))
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    engine = []
    for _ in range(repeat):
        cpu = time.process_time()
        check_source(text, Settings())
        engine.append(time.process_time() - cpu)
    return {
        "lines": len(text.splitlines()),
        "bytes": len(text.encode()),
        "diagnostics": counts[0],
        f"cache priming of {repeat} saved copies at start, wall": round(priming, 3),
        **timings.summary(),
        "hover on another document while the analysis runs, worst": round(max(waits), 3),
        "check_source in-process CPU, median": round(statistics.median(engine), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--keras-share", type=float, default=0.7, help="share of blocks that build models (0.7: BN-dense)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--file", type=Path, help="time this module instead of a generated one (real code)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    text = args.file.read_text(encoding="utf-8") if args.file else keras_module(args.lines, args.keras_share)
    result = asyncio.run(measure(text, args.repeat))
    module = {"file": str(args.file)} if args.file else {"keras_share": args.keras_share}
    print(json.dumps({"load_before": round(load, 2), **module, **result}, indent=2))


if __name__ == "__main__":
    main()
