"""A throwaway Valkey or Redis server for the tests and benchmarks: a real one, as a user would run it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


def server_binary() -> str | None:
    return shutil.which("valkey-server") or shutil.which("redis-server")


class StoreServer:
    """A throwaway Valkey/Redis on a free loopback port, nothing saved to disk."""

    def __init__(self, binary: str, folder: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.log = folder / "store.log"
        with self.log.open("w") as log:
            self.child = subprocess.Popen([*args, "--dir", str(folder)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.child.poll() is not None:
                raise RuntimeError(f"the store server did not start: {self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.child.terminate()
        self.child.wait(timeout=10)
