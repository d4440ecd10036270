"""Processes for the live tests: the TypeScript hub (`node bin/fleet.js hub --port 0 --json`, as
tests/hub/support.ts starts it) and TypeScript agents (tests/ts_peer.ts through tsx), each bound to
127.0.0.1 on an ephemeral port and killed at the end."""
from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import tempfile
import threading
import time

from conftest import REPO

NODE = os.environ.get("FLEET_NODE", "node")
TSX = os.path.join(REPO, "node_modules", ".bin", "tsx")
PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ts_peer.ts")


class Proc:
    def __init__(self, argv: list[str], env: dict, cwd: str = REPO) -> None:
        self.p = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **env}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1)
        self.events: "queue.Queue[dict]" = queue.Queue(maxsize=10_000)
        self.seen: list[dict] = []
        self.err: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.err.extend(self.p.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.p.stdout:
            if line.startswith("{"):
                try:
                    self.events.put(json.loads(line))
                except ValueError:
                    pass

    async def wait(self, pred, timeout: float = 20.0) -> dict:
        """The first event (already seen or coming) for which pred holds."""
        for ev in self.seen:
            if pred(ev):
                return ev
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ev = self.events.get_nowait()
            except queue.Empty:
                if self.p.poll() is not None and self.events.empty():
                    raise AssertionError(f"process exited ({self.p.returncode}): {''.join(self.err)[-2000:]}")
                await asyncio.sleep(0.02)
                continue
            self.seen.append(ev)
            if pred(ev):
                return ev
        raise AssertionError(f"timed out; events so far: {self.seen[-10:]}; stderr: {''.join(self.err)[-1000:]}")

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)


class Hub(Proc):
    def __init__(self) -> None:
        self.home = tempfile.mkdtemp(prefix="fleet-py-hub-")
        super().__init__([NODE, os.path.join(REPO, "bin", "fleet.js"), "hub", "--port", "0", "--json"], {"FLEET_HOME": self.home, "FLEET_HUB": ""})
        self.port = 0

    async def start(self) -> "Hub":
        ev = await self.wait(lambda e: e.get("event") == "listening", 30)
        self.port = ev["port"]
        return self


class TsPeer(Proc):
    _tags = 0

    def __init__(self, port: int, agent: str, *args: str) -> None:
        super().__init__([TSX, PEER, str(port), agent, *args], {})
        self.agent = agent

    async def start(self) -> "TsPeer":
        await self.wait(lambda e: e.get("event") == "ready", 30)
        return self

    async def do(self, cmd: str, timeout: float = 20.0, **kw) -> dict:
        TsPeer._tags += 1
        tag = f"t{TsPeer._tags}"
        self.p.stdin.write(json.dumps({"cmd": cmd, "tag": tag, **kw}) + "\n")
        self.p.stdin.flush()
        return await self.wait(lambda e: e.get("event") == "done" and e.get("tag") == tag, timeout)

    async def message(self, pred, timeout: float = 20.0) -> dict:
        return await self.wait(lambda e: e.get("event") == "message" and pred(e), timeout)
