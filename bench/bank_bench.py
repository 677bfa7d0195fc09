"""Benchmark of the photo-bank check (classify.photo_bank): what it adds per photo, and the bank at scale.

    python -m bench.bank_bench [--photos DIR] [--bank-size 1000000] [--lookups 50]

1. the hash: PDQ of each sample photo in its 8 orientations, from the rendition's pixels (at most the rendition's
   long side, as the check gets them; shrunk to 512 px inside), per photo: median and p95;
2. the bank: a generated bank of --bank-size random 256-bit hashes in the in-memory snapshot the check scans (one
   near copy of a known hash planted in it): its memory, and the lookup time of all 8 orientations against it
   (median, p95 over --lookups); the planted copy must be found and random hashes must match nothing;
3. the reuse index's costs at 10 million photos, from its layout (16 items per photo; the queries' item counts);
4. the whole check per photo against the embedded emulator (moto server, the template's tables): the hash, the
   bank's changes, the 16 queries and the index write, for --emulator-photos sample photos (median, and each part).
The last line is `photo bank: hash p50 X ms, lookup p50 Y ms over N banked hashes (Z MB), check vs emulator W ms`.
"""

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image

from infra.paths import REPO_ROOT

sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]
from classify.photo_bank import CHUNKS, BankSnapshot, pdq_hashes  # noqa: E402
from classify.rendition import RenditionRules  # noqa: E402

DEFAULT_PHOTOS = REPO_ROOT.parent / "shared" / "data" / "imagenet-samples"
STORED_PHOTOS = 10_000_000
# DynamoDB's item size: attribute names and values, plus 100 bytes of overhead per item.
INDEX_ITEM_BYTES = len("chunk") + 5 + len("image_id") + 32 + len("pdq") + 64 + 100


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def hash_times(photos: Path) -> list[float]:
    times = []
    for path in sorted(photos.glob("*.JPEG")):
        with Image.open(path) as image:
            shown = image.convert("RGB")
        shown.thumbnail((RenditionRules().long_side, RenditionRules().long_side))
        started = time.perf_counter()
        pdq_hashes(shown)
        times.append((time.perf_counter() - started) * 1000)
    return times


def bank_lookups(size: int, lookups: int) -> dict[str, float | int | bool]:
    rng = np.random.default_rng(20)
    words = rng.integers(0, 2**64, size=(size, 4), dtype=np.uint64, endpoint=False)
    tracemalloc.start()
    snapshot = BankSnapshot()
    snapshot.load(words, [f"{row:032x}" for row in range(size)])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    planted = words[size // 2].copy()
    planted[1] ^= np.uint64(0xFFFF)  # 16 bits off
    times, false_matches = [], 0
    for _ in range(lookups):
        variants = rng.integers(0, 2**64, size=(8, 4), dtype=np.uint64, endpoint=False)
        started = time.perf_counter()
        false_matches += snapshot.nearest(variants, 31) is not None
        times.append((time.perf_counter() - started) * 1000)
    found = snapshot.nearest(np.stack([planted] * 8), 31)
    return {
        "banked": size,
        "snapshot_mb": snapshot.nbytes / 1e6,
        "load_peak_mb": peak / 1e6,
        "lookup_p50_ms": statistics.median(times),
        "lookup_p95_ms": percentile(times, 0.95),
        "planted_copy_found": found is not None and found.image_id == f"{size // 2:032x}" and found.distance == 16,
        "random_hashes_matched": false_matches,
    }


def index_costs(stored: int) -> dict[str, float]:
    items = stored * CHUNKS
    per_query = stored / 2**16  # photos sharing one 16-bit chunk value, on uniform hashes
    query_bytes = per_query * (INDEX_ITEM_BYTES - 100)
    return {
        "stored_photos": stored,
        "index_items": items,
        "index_gb": items * INDEX_ITEM_BYTES / 1e9,
        "writes_per_upload": CHUNKS,  # one WCU each (items under 1 KB), in one BatchWriteItem
        "queries_per_upload": CHUNKS,
        "items_per_query": per_query,
        # Eventually consistent: 0.5 read units per 4 KB read.
        "read_units_per_upload": CHUNKS * 0.5 * max(1.0, np.ceil(query_bytes / 4096)),
    }


def emulator_check(photos: Path, count: int) -> dict[str, float]:
    """The check as classify runs it, against moto server (patched as the local stack's emulator) with the
    template's tables: what the local stack pays (DynamoDB answers a query in a few ms, moto in several)."""
    import logging
    import os

    import boto3
    from moto.server import ThreadedMotoServer

    import infra.local.emulator  # noqa: F401 - moto as the local stack runs it (its speed patches)
    from classify.checks import Subject
    from classify.photo_bank import REUSE_READ_LIMIT, PhotoBankCheck, chunk_keys, to_hex
    from classify.policy import ModerationPolicy
    from infra.local.provision import provision
    from infra.template import LocalNames, ResolvedTemplate, load_template
    from photomod_shared.tables import PhotoBankTable, PhotoHashIndexTable

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1",
        )
        template = ResolvedTemplate(load_template(), LocalNames(endpoint_url=endpoint))
        provision(template, boto3.Session(region_name="us-east-1"), log=lambda _: None)
        dynamodb = boto3.resource("dynamodb")
        bank = PhotoBankTable(dynamodb.Table(template.physical_name("PhotoBankTable")))
        index = PhotoHashIndexTable(dynamodb.Table(template.physical_name("PhotoHashIndexTable")))
        check, policy = PhotoBankCheck(bank, index), ModerationPolicy.from_file()
        parts: dict[str, list[float]] = {
            "check": [],
            "hash": [],
            "bank changes": [],
            "16 queries": [],
            "index write": [],
        }
        for number, path in enumerate(sorted(photos.glob("*.JPEG"))[:count]):
            with Image.open(path) as image:
                shown = image.convert("RGB")
            image_id = f"{number:032x}"
            started = time.perf_counter()
            check.inspect(Subject(image_id, f"uploads/{image_id}.jpg", shown), policy)
            parts["check"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            words, _ = pdq_hashes(shown)
            parts["hash"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            list(bank.changed_since("2026-01-01T00:00:00.000Z"))
            parts["bank changes"].append((time.perf_counter() - started) * 1000)
            keys = chunk_keys(words[0])
            started = time.perf_counter()
            index.sharing_a_chunk(keys, REUSE_READ_LIMIT)
            parts["16 queries"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            index.add(f"{image_id[:-1]}f", to_hex(words[0]), keys)  # another upload of it: what a write costs
            parts["index write"].append((time.perf_counter() - started) * 1000)
        return {name: statistics.median(values) for name, values in parts.items()}
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--bank-size", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=50)
    parser.add_argument("--emulator-photos", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    hashes = hash_times(args.photos)
    print(
        f"PDQ, 8 orientations, {len(hashes)} photos at <= {RenditionRules().long_side} px: "
        f"median {statistics.median(hashes):.1f} ms, p95 {percentile(hashes, 0.95):.1f} ms per photo"
    )
    bank = bank_lookups(args.bank_size, args.lookups)
    print(
        f"bank of {bank['banked']:,} hashes: snapshot {bank['snapshot_mb']:.0f} MB (peak while loading "
        f"{bank['load_peak_mb']:.0f} MB); 8-orientation lookup median {bank['lookup_p50_ms']:.1f} ms, "
        f"p95 {bank['lookup_p95_ms']:.1f} ms; planted copy found: {bank['planted_copy_found']}; "
        f"random hashes matched: {bank['random_hashes_matched']}/{args.lookups}"
    )
    index = index_costs(STORED_PHOTOS)
    print(
        f"reuse index at {STORED_PHOTOS:,} photos: {index['index_items']:,} items ({index['index_gb']:.0f} GB); "
        f"per upload {index['writes_per_upload']} writes, {index['queries_per_upload']} queries of "
        f"~{index['items_per_query']:.0f} items, ~{index['read_units_per_upload']:.0f} read units"
    )
    emulator = emulator_check(args.photos, args.emulator_photos)
    print(
        f"the check against the embedded emulator, median per photo over {args.emulator_photos} photos: "
        + ", ".join(f"{name} {value:.1f} ms" for name, value in emulator.items())
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {"hash_ms": hashes, "bank": bank, "index": index, "emulator_check_ms": emulator}
        args.json.write_text(json.dumps(report, indent=2))
    print(
        f"photo bank: hash p50 {statistics.median(hashes):.1f} ms, lookup p50 {bank['lookup_p50_ms']:.1f} ms "
        f"over {bank['banked']:,} banked hashes ({bank['snapshot_mb']:.0f} MB), check vs emulator "
        f"{emulator['check']:.0f} ms"
    )
    return 0 if bank["planted_copy_found"] and not bank["random_hashes_matched"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
