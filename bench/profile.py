"""py-spy samples of a running service during a load run, summarised by leaf and by frame."""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path


def pyspy() -> str | None:
    return shutil.which("py-spy") or (
        str(Path(sys.executable).parent / "py-spy")
        if (Path(sys.executable).parent / "py-spy").exists()
        else None
    )


def start(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    binary = pyspy()
    if binary is None:
        return None
    return subprocess.Popen(
        [
            *(binary, "record", "--pid", str(pid), "--duration", str(seconds)),
            *("--rate", "100", "--format", "raw", "--nonblocking", "--output", str(out)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarise(raw: Path, top: int = 15) -> dict[str, list[tuple[str, float]]]:
    """Self time by leaf frame and inclusive time by frame, as shares of all samples."""
    leaves: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        samples = int(count)
        total += samples
        leaves[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return {"self": [], "inclusive": []}
    return {
        "self": [(f, round(n / total, 3)) for f, n in leaves.most_common(top)],
        "inclusive": [(f, round(n / total, 3)) for f, n in inclusive.most_common(top * 3)],
    }
