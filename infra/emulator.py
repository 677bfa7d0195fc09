"""moto server, with the fields its S3 event notifications leave out: the object's `sequencer` and `versionId`.

S3 puts an increasing sequencer in every notification of a key, and the classifier keeps a result only for a
newer sequencer than the stored one (so duplicates and late deliveries are ignored). moto sends none, so
every notification of a key looked like the same event, and a replaced drop-folder photo was never
classified again.

S3 also names the object version a notification is about (in a versioned bucket); the classifier judges
exactly that version, so the emulator adds it as S3 does.

    python -m infra.emulator -H 127.0.0.1 -p 4566     # the arguments of `python -m moto.server`
"""

import threading
import time
from typing import Any

from moto.s3 import notifications
from moto.server import main

_lock = threading.Lock()
_last = 0


def next_sequencer() -> str:
    """Strictly increasing, fixed-width upper-case hex (S3's are 16-18 hex digits)."""
    global _last
    with _lock:
        _last = max(_last + 1, time.time_ns())
        return f"{_last:018X}"


_s3_event = notifications._get_s3_event


def _s3_event_with_sequencer(event_name: str, bucket: Any, key: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    event = _s3_event(event_name, bucket, key, *args, **kwargs)
    version = getattr(key, "version_id", None) if getattr(bucket, "is_versioned", False) else None
    for record in event.get("Records", []):
        record["s3"]["object"].setdefault("sequencer", next_sequencer())
        if version and version != "null":
            record["s3"]["object"].setdefault("versionId", version)
    return event


notifications._get_s3_event = _s3_event_with_sequencer  # type: ignore[assignment]

if __name__ == "__main__":
    main()
