"""Command-line tools for the people who use photomod (`python -m tools ingest DIR`).

The tools are API clients; they share the functions' image-format sniffer so that both sides agree which
files are images, hence functions/shared on the import path.
"""

import sys
from pathlib import Path

_SHARED = str(Path(__file__).resolve().parents[1] / "functions" / "shared")
if _SHARED not in sys.path:
    sys.path.append(_SHARED)
