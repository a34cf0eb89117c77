"""Floor A served the way the API is: the Procfile's ``web:`` command with the floor app swapped in."""

from __future__ import annotations

from pathlib import Path

from bench.procs import ROOT, Child, child_env, free_port, wait_http

API_APP = "api.app:create_app"
FLOOR_APP = "bench.floors.app:create_app"


def web_command(procfile: Path = ROOT / "Procfile") -> str:
    """The Procfile's ``web:`` command with floor A's app in place of the API's."""
    for line in procfile.read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == "web":
            if API_APP not in command:
                raise RuntimeError(f"the Procfile's web command does not name {API_APP}: cannot serve floor A alike")
            return command.strip().replace(API_APP, FLOOR_APP)
    raise RuntimeError("the Procfile has no web: process")


class FloorServer:
    """Floor A listening on a free port of 127.0.0.1 with *web_concurrency* processes."""

    def __init__(self, web_concurrency: int, logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = child_env({"PORT": str(self.port), "WEB_CONCURRENCY": str(web_concurrency), "HOST": "127.0.0.1"})
        self.child = Child("floor-a", ["/bin/sh", "-c", "exec " + web_command()], env, logs, cwd=ROOT)
        try:
            wait_http(f"{self.url}/health", timeout=60, child=self.child)
        except BaseException:
            self.child.stop()
            raise

    def stop(self) -> None:
        self.child.stop()
