"""moto server, with the fields its S3 event notifications leave out: the object's `sequencer` and `versionId`.

S3 puts an increasing sequencer in every notification of a key, and the classifier keeps a result only for a
newer sequencer than the stored one (so duplicates and late deliveries are ignored). moto sends none, so
every notification of a key looked like the same event, and a replaced drop-folder photo was never
classified again.

S3 also names the object version a notification is about (in a versioned bucket); the classifier judges
exactly that version, so the emulator adds it as S3 does.

    python -m infra.local.emulator -H 127.0.0.1 -p 4566     # the arguments of `python -m moto.server`
    python -m infra.local.emulator --state-file .run/state/emulator.pickle -H 127.0.0.1 -p 4566

moto keeps everything in memory. With --state-file, the S3, SQS and DynamoDB state (photos with their
version ids, queued messages, predictions, feedback) is restored from that file at start and written back
when the emulator stops (SIGTERM/SIGINT), so `make down` / `make up` keeps it; `make reset` deletes the file.
"""

import _thread
import base64
import copyreg
import inspect
import os
import pickle
import sys
import threading
import time
from pathlib import Path
from typing import Any

from joserfc.jwk import RSAKey
from moto import backends as moto_backends
from moto.cognitoidp.models import cognitoidp_backends
from moto.core import serialize
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.s3 import notifications
from moto.s3.models import s3_backends
from moto.server import main
from moto.sqs.models import sqs_backends

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


# Speed (issue 22 point 6; profile in docs/benchmark.md). No patch changes an answer.
#
# moto finds the service of every request by listing its own package folder (a listdir and a stat per entry,
# ~1 ms) while it holds the dispatcher's one lock, so every request of every client queued behind it. The
# folder does not change while the emulator runs: it is listed once.
_MOTO_MODULES = tuple(moto_backends.list_of_moto_modules())
moto_backends.list_of_moto_modules = lambda: _MOTO_MODULES  # type: ignore[assignment]


class _NotWireShaped(Exception):
    pass


def _blob(value: Any) -> str:
    data = value.encode("utf-8") if isinstance(value, str) else value
    if not isinstance(data, bytes):
        raise _NotWireShaped
    return base64.b64encode(data).strip().decode("utf-8")


def _attribute_value(value: Any) -> dict[str, Any]:
    """One DynamoDB AttributeValue as moto's model-driven serializer writes it, without walking the model per key."""
    if not isinstance(value, dict) or any(kind not in _ATTRIBUTE_KINDS for kind in value):
        raise _NotWireShaped
    wire: dict[str, Any] = {}
    for kind, member in value.items():
        if member is None:
            continue
        if kind in ("S", "N"):
            wire[kind] = member if member in ({}, []) else str(member)
        elif kind == "B":
            wire[kind] = _blob(member)
        elif kind in ("SS", "NS"):
            wire[kind] = [item if item in (None, {}, []) else str(item) for item in member]
        elif kind == "BS":
            wire[kind] = [_blob(item) for item in member]
        elif kind == "M":
            wire[kind] = {name: _attribute_value(item) for name, item in member.items()}
        elif kind == "L":
            wire[kind] = [_attribute_value(item) for item in member]
        else:  # NULL, BOOL
            wire[kind] = member
    return wire


_ATTRIBUTE_KINDS = frozenset(("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"))


class DynamoDBSerializer(serialize.JSONSerializer):
    """moto's JSON serializer, with DynamoDB's AttributeValue written directly.

    The generic serializer resolves every member of every attribute value through five alias rules (~4 ms of
    CPU for one GetItem of a prediction row, more than everything else the emulator does for it). An attribute
    value is already in wire form in moto's results (a dict with one of the ten kinds), so it is copied with
    the generic rules for each kind: strings as str, blobs base64. Anything else takes the generic path.
    """

    def _serialize_type_structure(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and value is not None:
            try:
                serialized[self.get_serialized_name(shape, key)] = _attribute_value(value)
                return
            except _NotWireShaped:
                pass
        super()._serialize_type_structure(serialized, value, shape, key)


serialize.SERVICE_SPECIFIC_SERIALIZERS.setdefault("dynamodb", {})["json"] = DynamoDBSerializer

# moto answers a Query on a table's own key by sorting every item of the table and keeping the partition's, so a
# query's cost grows with the table: the photo-hash index (16 queries a photo, 16 items a photo) got slower with
# every photo judged (7 ms a query at 1,000 items, 25 ms at 5,000). DynamoDB reads only the partition: so does this,
# by handing moto's own query the partition's items (per thread: moto serves requests on several).
_table_query = Table.query
_table_all_items = Table.all_items
_one_partition = threading.local()
_QUERY_PARAMETERS = inspect.signature(_table_query)


def _all_items(self: Table) -> Any:
    table, items = getattr(_one_partition, "items", (None, None))
    return items if table is self else _table_all_items(self)


def _query_one_partition(self: Table, *args: Any, **kwargs: Any) -> Any:
    given = _QUERY_PARAMETERS.bind(self, *args, **kwargs).arguments  # moto passes index_name by position
    hash_key = given.get("hash_key")
    if given.get("index_name") is not None or hash_key is None:
        return _table_query(self, *args, **kwargs)
    partition = self.items.get(hash_key)
    items = [] if partition is None else list(partition.values()) if self.range_key_attr else [partition]
    _one_partition.items = (self, items)
    try:
        return _table_query(self, *args, **kwargs)
    finally:
        _one_partition.items = (None, None)


Table.all_items = _all_items  # type: ignore[method-assign]
Table.query = _query_one_partition  # type: ignore[method-assign]


# DynamoDB applies a write to an item all at once: no read sees half of an UpdateItem. moto changes the stored item
# one attribute at a time while it serves other requests on other threads, so a reader could see a row `done`
# without the records written after its status (seen: a photo's `photo_bank` missing from a final answer). One
# DynamoDB request at a time closes that gap (each takes about a millisecond here).
_dynamodb_call_action = DynamoHandler.call_action
_one_dynamodb_request = threading.RLock()


def _whole_request(self: DynamoHandler) -> Any:
    with _one_dynamodb_request:
        return _dynamodb_call_action(self)


DynamoHandler.call_action = _whole_request  # type: ignore[method-assign]

# The services whose state is kept. SQS queues hold locks: a restored queue gets new ones.
# Cognito: the staff accounts `make user` added (each pool holds its signing key, kept as its JWK).
PERSISTED: dict[str, Any] = {
    "s3": s3_backends,
    "sqs": sqs_backends,
    "dynamodb": dynamodb_backends,
    "cognito-idp": cognitoidp_backends,
}
copyreg.pickle(RSAKey, lambda key: (RSAKey.import_key, (key.as_dict(private=True),)))
copyreg.pickle(type(threading.RLock()), lambda _lock: (threading.RLock, ()))
copyreg.pickle(_thread.LockType, lambda _lock: (threading.Lock, ()))


def save_state(path: Path) -> None:
    """Writes the state atomically: a stop that is cut short leaves the previous file, never half of one."""
    for attempt in range(5):
        try:
            data = pickle.dumps({name: dict(backends) for name, backends in PERSISTED.items()})
            break
        except RuntimeError:  # a request still changing a dict while it is pickled: try again
            if attempt == 4:
                raise
            time.sleep(0.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(data)
    os.replace(partial, path)
    print(f"[emulator] state saved to {path} ({len(data) / 1e6:.1f} MB)", flush=True)


def restore_state(path: Path) -> bool:
    """Loads a saved state; an unreadable one (e.g. from another moto version) is set aside, never deleted."""
    if not path.exists():
        return False
    try:
        saved = pickle.loads(path.read_bytes())  # noqa: S301 - our own file, written by save_state
        for name, backends in PERSISTED.items():
            backends.update(saved.get(name, {}))
    except Exception as error:
        aside = path.with_name(path.name + f".unreadable-{int(time.time())}")
        os.replace(path, aside)
        print(f"[emulator] could not restore {path} ({error!r}); kept it as {aside}, starting empty", flush=True)
        return False
    global _last
    _last = max(_last, time.time_ns())
    print(f"[emulator] state restored from {path}", flush=True)
    return True


def run(argv: list[str]) -> None:
    state_file = None
    if "--state-file" in argv:
        index = argv.index("--state-file")
        state_file = Path(argv[index + 1])
        argv = argv[:index] + argv[index + 2 :]
        restore_state(state_file)
    try:
        main(argv)  # moto's own SIGTERM/SIGINT handler ends it with SystemExit
    finally:
        if state_file is not None:
            save_state(state_file)


if __name__ == "__main__":
    run(sys.argv[1:])
