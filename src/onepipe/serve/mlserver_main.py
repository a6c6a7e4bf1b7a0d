"""``python -m onepipe.serve.mlserver_main FOLDER [--socket PATH]``: ``mlserver start FOLDER``,
with the REST API on a Unix socket.

``mlserver start`` can only listen on TCP. MLServer's Python API hands extra uvicorn
settings to its REST server (``Settings._custom_rest_server_settings``, which
settings.json cannot set), and uvicorn listens on a Unix socket given ``uds``. The rest
is what ``mlserver start`` does: the same settings loading, the same event loop. The
umask keeps every file MLServer makes (sockets included) its owner's only.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from mlserver.cli.serve import load_settings
from mlserver.server import MLServer
from mlserver.utils import install_uvloop_event_loop


async def _start(folder: str, socket: str | None) -> None:
    settings, models = await load_settings(folder)
    if socket:
        settings._custom_rest_server_settings = {"uds": socket}
    await MLServer(settings).start(models)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m onepipe.serve.mlserver_main")
    parser.add_argument("folder", help="the folder holding settings.json")
    parser.add_argument("--socket", help="serve the REST API on this Unix socket")
    args = parser.parse_args(argv)
    os.umask(0o077)
    install_uvloop_event_loop()
    asyncio.run(_start(args.folder, args.socket))


if __name__ == "__main__":
    main()
