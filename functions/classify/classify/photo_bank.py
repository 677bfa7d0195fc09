"""The photo-bank check: every judged photo's PDQ hash, copies of photos moderators blocked, reused photos.

- The hash: Meta's PDQ (pdqhash) of the served rendition's pixels, shrunk to at most 512 px first (PDQ reduces
  every photo to 64x64 luminance anyway), with its 8 orientations (`compute_dihedral`: rotations and mirrors), so
  a mirrored or rotated copy matches too. Hashes under the policy's min_quality (flat photos) are never matched.
- The bank (photos moderators blocked, photomod_shared.photo_bank): an in-memory snapshot with a multi-index over
  16 chunks of 16 bits. Two hashes within 31 bits differ by at most 1 bit in some chunk, so probing every chunk of
  every orientation at radius 1 finds every banked hash within 31, exactly, reading ~33,000 candidates of a
  million (3.6 ms, 133 MB: docs/benchmark.md#photo-bank). Before each photo the snapshot reads the bank's changes
  since it last looked (one strongly consistent query on the bank's change index, nearly always empty), so a block
  or a removal counts from the next photo judged.
- Reuse (the same photo under many reviews): every hash is indexed in DynamoDB by the same 16 chunks, exact
  values only: a copy within 15 bits shares a chunk by pigeonhole and most copies within 31 do (`make eval`:
  re-encoded 117/117, resized 116/117); the 16 small queries find the candidates, their whole hashes decide.
  Only the upload's own orientation is indexed (mirrored re-uploads are not counted as reuse; the bank, which
  blocks, looks at all 8).

Why not one scheme for both: the bank must find every copy within 31 bits, which radius-1 probing gives in memory
(2,176 probes a photo, too many for DynamoDB), and a million banked hashes fit a function's memory; ten million
judged photos would not (270 MB and a full load per cold start), and for counting reuse 16 exact reads suffice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from importlib.metadata import version
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pdqhash
from PIL import Image

from classify.checks import CheckResult, Subject
from photomod_shared.clock import iso, parse_iso
from photomod_shared.photo_bank import BankEntry
from photomod_shared.prediction import BankMatch, PhotoBankRecord, VerdictReason

if TYPE_CHECKING:
    from classify.policy import ModerationPolicy, PhotoBankRules

CHECK_NAME = "photo_bank"
ALGORITHM = "pdq"
PDQ_VERSION = f"pdqhash {version('pdqhash')}"
# The reasons' rules (VerdictReason.rule); the reason's label names the banked photo, its score the distance/count.
MATCHES_BLOCKED_PHOTO = "matches_blocked_photo"
REUSED_PHOTO = "reused_photo"
HASH_LONG_SIDE = 512
HASH_BITS = 256
WORDS = HASH_BITS // 64
CHUNKS = 16  # of 16 bits each: the reuse index's keys
# Photos read per chunk key when counting reuse: counts past about a hundred become lower bounds (far above any
# threshold), and a photo uploaded a hundred thousand times costs no more to look up than any other.
REUSE_READ_LIMIT = 256
# Each refresh reads the bank's changes again from this long before the latest it saw: the reviews function's
# clocks (which stamp changed_at) may differ a little, and re-applying a change is harmless.
CHANGES_OVERLAP = timedelta(seconds=60)


# ---------------------------------------------------------------------------- the hash


def pdq_hashes(image: Image.Image) -> tuple[np.ndarray, int]:
    """The photo's PDQ hash in its 8 orientations, as (8, 4) uint64 words (the first: the photo as it is), and
    PDQ's quality (0-100)."""
    image = image.convert("RGB")
    if max(image.size) > HASH_LONG_SIDE:
        image = image.copy()
        image.thumbnail((HASH_LONG_SIDE, HASH_LONG_SIDE), Image.Resampling.BILINEAR)
    vectors, quality = pdqhash.compute_dihedral(np.asarray(image))
    return np.stack([_words(vector) for vector in vectors]), int(quality)


def _words(bits: np.ndarray) -> np.ndarray:
    return np.frombuffer(np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes(), dtype=">u8").astype(np.uint64)


def to_hex(words: np.ndarray) -> str:
    return "".join(f"{int(word):016x}" for word in words)


def from_hex(text: str) -> np.ndarray:
    if len(text) != HASH_BITS // 4:
        raise ValueError(f"a PDQ hash is {HASH_BITS // 4} hexadecimal characters, got {len(text)}")
    return np.array([int(text[i : i + 16], 16) for i in range(0, len(text), 16)], dtype=np.uint64)


def distance(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.bitwise_count(a ^ b).sum())


def chunk_keys(words: np.ndarray) -> list[str]:
    """The reuse index's keys of a hash: each 16-bit chunk's position and value (`<position hex><4 hex digits>`)."""
    text = to_hex(words)
    return [f"{position:x}{text[position * 4 : position * 4 + 4]}" for position in range(CHUNKS)]


# ---------------------------------------------------------------------------- the bank, in memory


# The snapshot's multi-index: each hash's 16 chunks of 16 bits, one sorted index per chunk position. Two hashes
# within 31 bits differ by at most 1 bit in some chunk (16 chunks of 2 or more bits would differ by 32), so probing
# each chunk of each orientation at radius 1 (itself and its 16 one-bit neighbours) finds every hash within 31.
CHUNK_BITS = 16
CHUNKS_PER_WORD = 64 // CHUNK_BITS
_NEIGHBOURS = np.array([0, *(1 << bit for bit in range(CHUNK_BITS))], dtype=np.uint64)
# Hashes banked since the index was last built are scanned in full; past this many the index is built again.
UNINDEXED_LIMIT = 4096


class BankSnapshot:
    """The banked hashes held in memory as numpy arrays: the hashes word-major (4 x N uint64, 32 bytes a hash),
    the image ids (32 bytes each), which are live, and the multi-index over the chunks (16 sorted positions of 4
    bytes a hash, plus 16 x 65,537 bucket offsets): about 135 MB for a million banked photos, whose lookup reads
    a few thousand candidates instead of all of them (docs/benchmark.md#photo-bank). Changes arrive in batches and
    are rare (a block, a removal); the lookup runs for every photo."""

    def __init__(self) -> None:
        self._ids = np.zeros(0, dtype="S32")
        self._hashes = np.zeros((0, WORDS), dtype=np.uint64)  # row-major: a candidate's 32 bytes in one cache line
        self._live = np.zeros(0, dtype=bool)
        self._indexed = 0  # rows [0, indexed) are in the multi-index; the rest are scanned
        self._order = np.zeros((CHUNKS, 0), dtype=np.int32)
        self._offsets = np.zeros((CHUNKS, 0), dtype=np.int32)  # built with the index: 16 x 65,537

    def __len__(self) -> int:
        return int(self._live.sum())

    def apply(self, entries: Iterable[BankEntry]) -> None:
        """Banked entries join (or replace their earlier hash), removed ones leave; the last change of an id wins."""
        latest = {entry.image_id: entry for entry in entries}
        if not latest:
            return
        ids = np.array(list(latest), dtype="S32")
        words = np.stack([from_hex(entry.pdq) for entry in latest.values()])
        live = np.array([entry.active for entry in latest.values()], dtype=bool)
        rows = self._rows_of(ids)
        known = rows >= 0
        replaced = known.copy()
        if known.any():
            replaced[known] = (self._hashes[rows[known]] != words[known]).any(axis=1)
        self._live[rows[known]] = live[known]
        # A hash that changed under a known id leaves its row (the index holds the old one) and joins as new.
        self._live[rows[replaced]] = False
        joining = ~known | replaced
        self._ids = np.concatenate([self._ids, ids[joining]])
        self._hashes = np.concatenate([self._hashes, words[joining]])
        self._live = np.concatenate([self._live, live[joining]])
        if len(self._ids) - self._indexed > UNINDEXED_LIMIT:
            self._build_index()

    def load(self, words: np.ndarray, image_ids: Sequence[str]) -> None:
        """A whole bank at once ((N, 4) uint64 words, distinct image ids): the benchmark's generated bank."""
        self._ids = np.array(image_ids, dtype="S32")
        self._hashes = np.ascontiguousarray(words, dtype=np.uint64)
        self._live = np.ones(len(self._ids), dtype=bool)
        self._build_index()

    def _build_index(self) -> None:
        chunks = _chunks(self._hashes)  # (16, N) chunk values
        self._order = np.argsort(chunks, axis=1, kind="stable").astype(np.int32)
        values = np.arange(2**CHUNK_BITS + 1)
        self._offsets = np.stack(
            [np.searchsorted(chunk[order], values) for chunk, order in zip(chunks, self._order, strict=True)]
        ).astype(np.int32)
        self._indexed = len(self._ids)

    def _rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Each id's latest row in the snapshot, -1 where it has none."""
        if not len(self._ids):
            return np.full(len(ids), -1)
        order = np.argsort(self._ids, kind="stable")
        positions = np.searchsorted(self._ids, ids, side="right", sorter=order) - 1
        rows = order[np.maximum(positions, 0)]
        return np.where((positions >= 0) & (self._ids[rows] == ids), rows, -1)

    def _candidates(self, variants: np.ndarray) -> np.ndarray:
        """The rows sharing a chunk (at radius 1) with any orientation, and every row not indexed yet."""
        probes = _chunks(variants)[:, :, None] ^ _NEIGHBOURS  # (16 chunks, 8 orientations, 17)
        unindexed = np.arange(self._indexed, len(self._ids))
        if not self._indexed:
            return unindexed
        values = probes.reshape(CHUNKS, -1).astype(np.int64)  # (16, 136)
        positions = np.arange(CHUNKS)[:, None]
        starts = (self._offsets[positions, values] + positions * self._indexed).ravel()
        lengths = (self._offsets[positions, values + 1] - self._offsets[positions, values]).ravel()
        starts, lengths = starts[lengths > 0], lengths[lengths > 0]
        # Every bucket's slice of the flattened (16 x N) sorted positions, gathered at once.
        within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        found = self._order.ravel()[np.repeat(starts, lengths) + within]
        return np.concatenate([found, unindexed])  # with repeats: cheaper to measure twice than to deduplicate

    def nearest(self, variants: np.ndarray, max_distance: int) -> BankMatch | None:
        """The banked photo nearest to any of the hash's orientations, if within `max_distance` bits."""
        if not self._live.any():
            return None
        # Radius 1 finds everything within 31 bits; a policy asking for more is answered by the full scan.
        rows = self._candidates(variants) if max_distance < 2 * CHUNKS else np.arange(len(self._ids))
        rows = rows[self._live[rows]]
        if not len(rows):
            return None
        best_row, best = -1, HASH_BITS + 1
        for start in range(0, len(rows), _SCAN_BLOCK):  # blocks: the full scan's temporaries stay small
            block = rows[start : start + _SCAN_BLOCK]
            bits = _distances(np.take(self._hashes, block, axis=0), variants)
            row, orientation = np.unravel_index(int(bits.argmin()), bits.shape)
            if bits[row, orientation] < best:
                best_row, best = int(block[row]), int(bits[row, orientation])
        if best > max_distance:
            return None
        return BankMatch(image_id=self._ids[best_row].decode(), distance=best)

    @property
    def nbytes(self) -> int:
        arrays = (self._hashes, self._ids, self._live, self._order, self._offsets)
        return int(sum(array.nbytes for array in arrays))


_SCAN_BLOCK = 65_536


def _distances(hashes: np.ndarray, variants: np.ndarray) -> np.ndarray:
    """(N, 4) hashes, (8, 4) orientations -> (N, 8) bits apart (a word at a time: numpy's popcount is vectorised,
    its sums over a short last axis are not)."""
    bits = np.bitwise_count(hashes[:, 0, None] ^ variants[None, :, 0]).astype(np.uint16)
    for word in range(1, WORDS):
        bits += np.bitwise_count(hashes[:, word, None] ^ variants[None, :, word])
    return bits


def _chunks(hashes: np.ndarray) -> np.ndarray:
    """(N, 4) uint64 words -> (16, N) chunk values (each word's four 16-bit chunks, low bits first)."""
    mask = np.uint64(2**CHUNK_BITS - 1)
    words = hashes.T
    return np.concatenate(
        [(words >> np.uint64(CHUNK_BITS * part)) & mask for part in range(CHUNKS_PER_WORD)], axis=0
    ).astype(np.uint16)


# ---------------------------------------------------------------------------- the check


class BankChanges(Protocol):
    """The bank's entries banked or removed at `since` or later (photomod_shared.tables.PhotoBankTable)."""

    def changed_since(self, since: str) -> Iterable[BankEntry]: ...


class HashIndex(Protocol):
    """Every judged photo's hash by its chunks (photomod_shared.tables.PhotoHashIndexTable)."""

    def add(self, image_id: str, pdq: str, chunk_keys: Sequence[str]) -> None: ...

    def sharing_a_chunk(self, chunk_keys: Sequence[str], per_chunk: int) -> Mapping[str, str]: ...


class PhotoBankCheck:
    """The check (classify.checks.Check). `bank` None: no bank (nothing matches); `index` None: no reuse count."""

    name = CHECK_NAME

    def __init__(self, bank: BankChanges | None, index: HashIndex | None, snapshot: BankSnapshot | None = None):
        self._bank, self._index = bank, index
        self.snapshot = snapshot or BankSnapshot()
        self._seen_up_to = ""  # the latest changed_at read from the bank; "" before the first load
        self._lock = threading.Lock()  # classify decodes photos (and runs the checks) on several threads

    def inspect(self, subject: Subject, policy: ModerationPolicy) -> CheckResult:
        rules: PhotoBankRules = policy.check_rules(self.name)
        variants, quality = pdq_hashes(subject.image)
        pdq = to_hex(variants[0])
        record = PhotoBankRecord(algorithm=ALGORITHM, version=PDQ_VERSION, pdq=pdq, quality=quality)
        if quality < rules.min_quality:
            return CheckResult(record=record)  # too flat to match anything reliably: stored, never matched
        reasons = []
        with self._lock:
            self._read_bank_changes()
            matched = self.snapshot.nearest(variants, rules.distance)
        if matched is not None:
            record = PhotoBankRecord.model_validate(record.model_dump() | {"matched": matched.model_dump()})
            reasons.append(
                VerdictReason(
                    category=self.name,
                    action=rules.bank_action,
                    rule=MATCHES_BLOCKED_PHOTO,
                    label=matched.image_id,
                    score=matched.distance,
                )
            )
        if self._index is not None and subject.image_id:  # DetectModerationLabels' photos are no uploads
            keys = chunk_keys(variants[0])
            with self._lock:  # boto3 resources are not thread-safe
                sharing = self._index.sharing_a_chunk(keys, REUSE_READ_LIMIT)
                self._index.add(subject.image_id, pdq, keys)
            others = {
                image_id
                for image_id, other in sharing.items()
                if image_id != subject.image_id and distance(variants[0], from_hex(other)) <= rules.distance
            }
            count = len(others) + 1
            record = PhotoBankRecord.model_validate(record.model_dump() | {"reuse_count": count})
            if rules.reuse_threshold and count >= rules.reuse_threshold:
                reasons.append(
                    VerdictReason(category=self.name, action=rules.reuse_action, rule=REUSED_PHOTO, score=count)
                )
        return CheckResult(record=record, reasons=tuple(reasons))

    def _read_bank_changes(self) -> None:
        if self._bank is None:
            return
        seen = self._seen_up_to
        since = iso(parse_iso(seen) - CHANGES_OVERLAP) if seen else ""
        changes = list(self._bank.changed_since(since))
        self.snapshot.apply(changes)
        if changes:
            self._seen_up_to = max(seen, *(entry.changed_at for entry in changes))
