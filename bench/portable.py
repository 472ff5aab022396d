"""Result files say how to reproduce them on any machine: no absolute paths of the machine that wrote them.

    portable("/home/me/vitrine/outputs/run /home/me/shared/data /tmp/x/model")
        -> "outputs/run ../shared/data SCRATCH/x/model"      (checkout at /home/me/vitrine)

The checkout's own paths become relative to it, paths beside it (`../shared`) stay relative to it, the temp
directory (where a benchmark's scratch space lives by default) becomes SCRATCH and the home directory `~`.
"""
import os
import pathlib
import re
import sys
import tempfile
from typing import List, Optional

REPO = pathlib.Path(__file__).resolve().parents[1]


def _prefixes():
    pairs = [(str(REPO), "."), (str(REPO.parent), ".."), (tempfile.gettempdir(), "SCRATCH"),
             (os.path.expanduser("~"), "~")]
    # the most specific first: a checkout under the temp dir (as on CI) stays relative to itself
    return sorted(((p.rstrip(os.sep), r) for p, r in pairs if p not in ("", os.sep)), key=lambda pr: -len(pr[0]))


def portable(text: Optional[str]) -> Optional[str]:
    """`text` with every machine-specific path prefix (at a path boundary) replaced; None stays None."""
    if text is None:
        return None
    for prefix, replacement in _prefixes():
        # a path starts the string or follows a separator; it ends the string or goes on with "/" or a separator
        pattern = re.compile(r"(?<![\w./~-])" + re.escape(prefix) + r"(?=/|$|[\s\"',:;=)\]])")
        text = pattern.sub(replacement, text)
    return re.sub(r"(?<![\w./~-])\./(?=\S)", "", text)  # "./outputs/x" -> "outputs/x"


def portable_command(script: str, argv: Optional[List[str]] = None) -> str:
    """The command line that ran `script` (bench/<name>.py), with portable paths."""
    args = sys.argv[1:] if argv is None else argv
    return portable(" ".join(["python", script, *args]))
