"""A real ``put`` SIGKILLed while it copies a big file: what it leaves behind is what gc collects.

The put stores ``a-small.csv`` first (its blob lands in ``objects/``, named by no
commit) and is killed while ``b-big.bin`` is being copied into ``tmp/``.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

from onepipe.data.objects import ObjectStore

BIG_BYTES = 64 << 20

PUT = """
import sys
from onepipe.data.local import LocalDataStore
LocalDataStore(sys.argv[1]).put("killed", [sys.argv[2], sys.argv[3]], message="never lands")
"""


def kill_a_put(store_root: Path, work: Path, tag: str) -> tuple[list[Path], Path]:
    """(temp files the killed put left, its unreferenced small blob)."""
    work.mkdir(parents=True, exist_ok=True)
    small = work / "a-small.csv"
    small.write_text(f"id,tag\n1,{tag}\n")
    big = work / "b-big.bin"
    if not big.exists():
        with open(big, "wb") as fh:
            fh.write(b"\0" * BIG_BYTES)
    digest = hashlib.sha256(small.read_bytes()).hexdigest()
    blob = ObjectStore(store_root).path(digest)
    before = set((store_root / "tmp").glob(".tmp-*"))
    for _ in range(5):  # the kill must land while the big file is copied; it nearly always does
        proc = subprocess.Popen([sys.executable, "-c", PUT, str(store_root), str(small), str(big)])
        deadline = time.monotonic() + 60
        while not blob.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        left = sorted(set((store_root / "tmp").glob(".tmp-*")) - before)
        if left and blob.exists():
            return left, blob
        for f in [*left, blob]:  # try again from scratch
            f.unlink(missing_ok=True)
    raise AssertionError("could not kill a put while it copied the big file")
