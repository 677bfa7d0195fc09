"""The photo-bank check: every judged photo's PDQ hash, copies of photos moderators blocked, reused photos.

- The hash: Meta's PDQ (pdqhash) of the served rendition's pixels, shrunk to at most 512 px first (PDQ reduces
  every photo to 64x64 luminance anyway; 512 px keeps its cost at 15-39 ms), with its 8 orientations
  (`compute_dihedral`: rotations and mirrors), so a mirrored or rotated copy matches too.
- The bank (photos moderators blocked, photomod_shared.photo_bank): held in memory as a snapshot, 32 bytes per
  hash, scanned in full with numpy's popcount for each of the 8 orientations (docs/benchmark.md#photo-bank:
  1M banked hashes, measured). Before each photo the snapshot reads the bank's changes since it last looked
  (one strongly consistent query on the bank's change index, nearly always empty), so a block or a removal counts
  from the next photo judged.
- Reuse (the same photo under many reviews): every hash is indexed in DynamoDB by its 16 chunks of 16 bits
  (multi-index hashing): by pigeonhole, a copy within 15 bits shares a chunk exactly, and most copies within 31 do
  (measured by `make eval`). The 16 small queries find the candidates; their whole hashes decide.

Why not one scheme for both: the bank must find every copy within 31 bits in any orientation, which only the full
scan guarantees (a shared-chunk index would need 32 chunks of 8 bits, whose buckets hold 1/256 of every photo),
and a million hashes scan in tens of milliseconds; 10 million judged photos (320 MB) would not, and reuse is
counted among copies of one upload's own orientation, which the index finds with 16 reads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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


class BankSnapshot:
    """The banked hashes held in memory: word-major uint64 arrays (4 x N, 32 bytes a hash), scanned in full."""

    def __init__(self) -> None:
        self._rows: dict[str, int] = {}  # image id -> row
        self._ids: list[str] = []
        self._words: list[np.ndarray] = []
        self._active: list[bool] = []
        self._matrix = np.zeros((WORDS, 0), dtype=np.uint64)
        self._live = np.zeros(0, dtype=bool)
        self._stale = False

    def __len__(self) -> int:
        return int(sum(self._active))

    def apply(self, entries: Iterable[BankEntry]) -> None:
        """Banked entries join (or replace their earlier hash), removed ones leave."""
        for entry in entries:
            row = self._rows.get(entry.image_id)
            if row is None:
                row = self._rows[entry.image_id] = len(self._ids)
                self._ids.append(entry.image_id)
                self._words.append(from_hex(entry.pdq))
                self._active.append(entry.active)
            else:
                self._words[row], self._active[row] = from_hex(entry.pdq), entry.active
            self._stale = True

    def load(self, words: np.ndarray, image_ids: Sequence[str]) -> None:
        """A whole bank at once ((N, 4) uint64 words, their image ids): the benchmark's generated bank."""
        self._rows = {image_id: row for row, image_id in enumerate(image_ids)}
        self._ids, self._words, self._active = list(image_ids), list(words), [True] * len(image_ids)
        self._matrix, self._live, self._stale = np.ascontiguousarray(words.T), np.ones(len(image_ids), bool), False

    def nearest(self, variants: np.ndarray, max_distance: int) -> BankMatch | None:
        """The banked photo nearest to any of the hash's orientations, if within `max_distance` bits."""
        if self._stale:
            self._matrix = np.ascontiguousarray(np.stack(self._words).T) if self._words else self._matrix
            self._live, self._stale = np.array(self._active, dtype=bool), False
        if not self._live.any():
            return None
        best_row, best = -1, HASH_BITS + 1
        for variant in variants:
            bits = np.bitwise_count(self._matrix[0] ^ variant[0]).astype(np.uint16)
            for word in range(1, WORDS):
                bits += np.bitwise_count(self._matrix[word] ^ variant[word])
            bits[~self._live] = HASH_BITS + 1
            row = int(bits.argmin())
            if bits[row] < best:
                best_row, best = row, int(bits[row])
        return BankMatch(image_id=self._ids[best_row], distance=best) if best <= max_distance else None

    @property
    def nbytes(self) -> int:
        return int(self._matrix.nbytes + self._live.nbytes)


# ---------------------------------------------------------------------------- the check


class BankChanges(Protocol):
    """The bank's entries banked or removed at `since` or later (photomod_shared.tables.PhotoBankTable)."""

    def changed_since(self, since: str) -> Iterable[BankEntry]: ...


class HashIndex(Protocol):
    """Every judged photo's hash by its chunks (photomod_shared.tables.PhotoHashIndexTable)."""

    def add(self, image_id: str, pdq: str, chunk_keys: Sequence[str]) -> None: ...

    def sharing_a_chunk(self, chunk_keys: Sequence[str]) -> Mapping[str, str]: ...


@dataclass
class _Refresh:
    seen_up_to: str = ""  # the latest changed_at read; "" before the first load


class PhotoBankCheck:
    """The check (classify.checks.Check). `bank` None: no bank (nothing matches); `index` None: no reuse count."""

    name = CHECK_NAME

    def __init__(self, bank: BankChanges | None, index: HashIndex | None, snapshot: BankSnapshot | None = None):
        self._bank, self._index = bank, index
        self.snapshot = snapshot or BankSnapshot()
        self._refresh = _Refresh()
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
            others = {
                image_id
                for image_id, other in self._index.sharing_a_chunk(keys).items()
                if image_id != subject.image_id and distance(variants[0], from_hex(other)) <= rules.distance
            }
            self._index.add(subject.image_id, pdq, keys)
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
        seen = self._refresh.seen_up_to
        since = iso(parse_iso(seen) - CHANGES_OVERLAP) if seen else ""
        changes = list(self._bank.changed_since(since))
        self.snapshot.apply(changes)
        if changes:
            self._refresh.seen_up_to = max(self._refresh.seen_up_to, *(entry.changed_at for entry in changes))
