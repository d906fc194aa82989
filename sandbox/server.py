"""Run the sandbox over real HTTP: in a thread for tests (``SandboxServer``) or in the foreground (``serve``).

with SandboxServer(seed=1, size="small") as sb:
    requests.get(sb.base_url + "/_sandbox/credentials")
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Literal

import uvicorn
from starlette.applications import Starlette

from sandbox.app import close_app, create_app
from sandbox.config import SandboxConfig
from sandbox.limits import preset
from sandbox.world import World

Size = Literal["tiny", "small", "large"]
STARTUP_TIMEOUT_S = 10.0


class SandboxServer:
    """A sandbox on a free local port, served by uvicorn in a daemon thread.

    Pass ``world`` to serve a hand-built world; otherwise one is generated from ``seed`` and ``size``.
    Pass ``app`` to serve an app already built with ``create_app`` (its world and config are used).
    """

    def __init__(
        self,
        world: World | None = None,
        *,
        seed: int = 1,
        size: Size = "small",
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        app: Starlette | None = None,
        legacy: bool = False,
    ) -> None:
        if app is None:
            if world is None:
                from sandbox.generator import generate

                world = generate(seed, size, legacy=legacy)
            app = create_app(world, config or SandboxConfig())
        self.app = app
        self.host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def world(self) -> World:
        return self.app.state.world

    @property
    def config(self) -> SandboxConfig:
        return self.app.state.config

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def port(self) -> int:
        if self._server is None or not self._server.servers:
            raise RuntimeError("the sandbox is not running; use it as a context manager or call start()")
        return self._server.servers[0].sockets[0].getsockname()[1]

    def start(self) -> SandboxServer:
        config = uvicorn.Config(
            self.app, host=self.host, port=self._port, log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="sandbox-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start on {self.host}:{self._port}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        close_app(self.app)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int = 1,
    size: Size = "small",
    rate_limits: str = "zoho",
    legacy: bool = False,
) -> None:
    """Serve a generated sandbox in the foreground until interrupted (``bpsync sandbox``).

    ``legacy``: Books also holds what Zoho's legacy integration left (sandbox/seed_legacy.py)."""
    from sandbox.generator import generate

    config = SandboxConfig(rate_limits=preset(rate_limits))
    app = create_app(generate(seed, size, legacy=legacy), config)
    server = _AnnouncingServer(
        uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="off"),
        announce=lambda bound: _print_connect_help(app, _reachable_url(host, bound)),
    )
    try:
        server.run()
    finally:
        close_app(app)


class _AnnouncingServer(uvicorn.Server):
    """Prints how to reach the sandbox once it listens, so the printed port is the bound one (``--port 0``)."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[int], None]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit and self.servers:
            self._announce(self.servers[0].sockets[0].getsockname()[1])


def _reachable_url(host: str, port: int) -> str:
    # a wildcard bind is reached through loopback from this machine; an IPv6 literal needs brackets in a URL
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _print_connect_help(app: Starlette, base_url: str) -> None:
    from sandbox.connect_help import connect_help

    lines = connect_help(app.state.world, base_url, app.state.config.rate_limits)
    print("\n".join(lines), flush=True)
