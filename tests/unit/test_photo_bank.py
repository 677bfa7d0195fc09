"""The photo-bank check (classify.photo_bank): PDQ hashes of the served pixels, copies of banked photos blocked in
any orientation, the same photo under many uploads sent to review, flat photos never matched."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from classify.checks import Subject
from classify.photo_bank import (
    MATCHES_BLOCKED_PHOTO,
    REUSED_PHOTO,
    BankSnapshot,
    PhotoBankCheck,
    chunk_keys,
    distance,
    from_hex,
    pdq_hashes,
    to_hex,
)
from classify.policy import ModerationPolicy, PhotoBankRules, PolicyError
from photomod_shared.photo_bank import BankEntry

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "imagenet-samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"the sample photos are not at {SAMPLES}")


def sample(name: str) -> Image.Image:
    with Image.open(next(SAMPLES.glob(f"*_{name}.JPEG"))) as image:
        return image.convert("RGB")


def reencoded(image: Image.Image, quality: int = 60, scale: float = 1.0) -> Image.Image:
    if scale != 1.0:
        image = image.resize((int(image.width * scale), int(image.height * scale)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


class FakeBank:
    def __init__(self) -> None:
        self.entries: dict[str, BankEntry] = {}
        self.asked: list[str] = []

    def block(self, image_id: str, image: Image.Image, at: str, removed: bool = False) -> None:
        words, quality = pdq_hashes(image)
        self.entries[image_id] = BankEntry(
            image_id=image_id,
            pdq=to_hex(words[0]),
            quality=quality,
            banked_at=at,
            changed_at=at,
            removed_at=at if removed else None,
        )

    def changed_since(self, since: str):
        self.asked.append(since)
        return sorted((e for e in self.entries.values() if e.changed_at >= since), key=lambda e: e.changed_at)


class FakeIndex:
    def __init__(self) -> None:
        self.keys: dict[str, dict[str, str]] = {}

    def add(self, image_id, pdq, chunk_keys):
        for key in chunk_keys:
            self.keys.setdefault(key, {})[image_id] = pdq

    def sharing_a_chunk(self, chunk_keys, per_chunk):
        return {
            image_id: pdq for key in chunk_keys for image_id, pdq in list(self.keys.get(key, {}).items())[:per_chunk]
        }


def subject(image: Image.Image, image_id: str = "a" * 32) -> Subject:
    return Subject(image_id, f"uploads/{image_id}.jpg", image)


def test_a_hash_round_trips_through_hex_and_its_chunks_name_their_position():
    words = np.array([1, 2, 3, 2**64 - 1], dtype=np.uint64)
    assert (from_hex(to_hex(words)) == words).all()
    keys = chunk_keys(words)
    assert len(keys) == 16 and keys[0] == "00000" and keys[15] == "fffff"
    assert distance(words, from_hex(to_hex(words))) == 0


@needs_samples
def test_a_mirrored_resized_reencoded_copy_of_a_banked_photo_is_blocked_naming_it(policy):
    bank = FakeBank()
    bank.block("b" * 32, sample("banjo"), "2026-12-03T10:00:00.000Z")
    check = PhotoBankCheck(bank, FakeIndex())

    copy = reencoded(ImageOps.mirror(sample("banjo")), quality=60, scale=0.5)
    result = check.inspect(subject(copy), policy)

    assert result.record.matched.image_id == "b" * 32 and result.record.matched.distance <= 31
    (reason,) = [reason for reason in result.reasons if reason.rule == MATCHES_BLOCKED_PHOTO]
    assert reason.action == "block" and reason.label == "b" * 32 and reason.category == "photo_bank"
    assert result.record.algorithm == "pdq" and result.record.version.startswith("pdqhash ")


@needs_samples
def test_other_photos_are_not_matched_and_a_removed_hash_no_longer_blocks(policy):
    bank = FakeBank()
    bank.block("b" * 32, sample("banjo"), "2026-12-03T10:00:00.000Z")
    check = PhotoBankCheck(bank, None)

    assert check.inspect(subject(sample("tree_frog")), policy).reasons == ()
    assert check.inspect(subject(sample("banjo")), policy).reasons != ()

    bank.block("b" * 32, sample("banjo"), "2026-12-03T10:05:00.000Z", removed=True)
    assert check.inspect(subject(sample("banjo")), policy).reasons == ()
    check.inspect(subject(sample("tree_frog")), policy)
    # The first look reads the whole bank; each later one only the changes since a minute before the last seen.
    assert bank.asked == ["", "2026-12-03T09:59:00.000Z", "2026-12-03T09:59:00.000Z", "2026-12-03T10:04:00.000Z"]


@needs_samples
def test_the_same_photo_under_the_policys_number_of_uploads_goes_to_review_with_the_count(policy):
    check = PhotoBankCheck(None, FakeIndex())
    photo = sample("banjo")
    counts, reasons = [], []
    for upload in range(6):
        result = check.inspect(subject(reencoded(photo, quality=70 + upload), f"{upload:032x}"), policy)
        counts.append(result.record.reuse_count)
        reasons.append([(r.rule, r.action, r.score) for r in result.reasons])
    assert counts == [1, 2, 3, 4, 5, 6]
    assert reasons[:4] == [[]] * 4
    assert reasons[4] == [(REUSED_PHOTO, "review", 5)]
    # A photo judged again under its own id (a new version) is one upload, not two.
    again = check.inspect(subject(photo, f"{0:032x}"), policy)
    assert again.record.reuse_count == 6


def test_a_flat_photo_is_hashed_but_never_matched(policy):
    bank = FakeBank()
    grey = Image.new("RGB", (300, 200), (128, 128, 128))
    bank.block("b" * 32, grey, "2026-12-03T10:00:00.000Z")
    result = PhotoBankCheck(bank, FakeIndex()).inspect(subject(grey), policy)
    assert result.record.quality < 50 and result.reasons == () and result.record.matched is None


def test_the_snapshot_finds_the_nearest_of_many_in_any_orientation():
    rng = np.random.default_rng(7)
    words = rng.integers(0, 2**63, size=(1000, 4), dtype=np.uint64)
    snapshot = BankSnapshot()
    snapshot.load(words, [f"{row:032x}" for row in range(1000)])
    probe = words[417].copy()
    probe[2] ^= np.uint64(0b1011)  # 3 bits off
    variants = np.stack([rng.integers(0, 2**63, size=4, dtype=np.uint64), probe])
    match = snapshot.nearest(variants, 31)
    assert match is not None and match.image_id == f"{417:032x}" and match.distance == 3
    assert snapshot.nearest(variants[:1], 31) is None


def test_the_policy_section_sets_the_actions_and_refuses_nonsense(class_index):
    document = json.loads(Path("functions/classify/classify/moderation_policy.json").read_text())
    assert ModerationPolicy.from_dict(document, class_index).check_rules("photo_bank") == PhotoBankRules()
    document["checks"] = {"photo_bank": {"bank_action": "review", "reuse_threshold": 0}}
    rules = ModerationPolicy.from_dict(document, class_index).check_rules("photo_bank")
    assert rules.bank_action == "review" and rules.reuse_threshold == 0 and rules.distance == 31
    for bad, message in (
        ({"distance": 100}, r"checks.photo_bank.distance must be an integer in \[0, 64\]"),
        ({"bank_action": "allow"}, r"checks.photo_bank.bank_action: action must be one of"),
        ({"radius": 3}, r"unknown key\(s\) \['radius'\]"),
        ({"min_quality": True}, r"min_quality must be an integer"),
    ):
        document["checks"] = {"photo_bank": bad}
        with pytest.raises(PolicyError, match=message):
            ModerationPolicy.from_dict(document, class_index)


def test_the_snapshot_applies_banks_removals_and_rebanks_by_id():
    def entry(number: int, words: np.ndarray, removed: bool = False) -> BankEntry:
        at = f"2026-12-03T10:0{number}:00.000Z"
        return BankEntry(f"{number:032x}", to_hex(words), 100, at, at, removed_at=at if removed else None)

    a, b, c = (np.array([value] * 4, dtype=np.uint64) for value in (0, 2**64 - 1, 0x5555555555555555))
    snapshot = BankSnapshot()
    snapshot.apply([entry(1, a), entry(2, b)])
    assert len(snapshot) == 2 and snapshot.nearest(a[None], 0).image_id == f"{1:032x}"

    snapshot.apply([entry(1, a, removed=True)])
    assert len(snapshot) == 1 and snapshot.nearest(a[None], 31) is None

    snapshot.apply([entry(1, c), entry(3, a), entry(3, c)])  # the last change of an id wins
    assert len(snapshot) == 3 and snapshot.nearest(a[None], 31) is None
    assert snapshot.nearest(c[None], 0).image_id in (f"{1:032x}", f"{3:032x}")
    # Four rows (id 1's changed hash joined as a new row), 65 bytes each: a bank this small is scanned, not indexed.
    assert snapshot.nbytes == 4 * (32 + 32 + 1)


def test_the_multi_index_finds_every_hash_within_31_bits_and_the_newest_banked_ones_too():
    rng = np.random.default_rng(11)
    words = rng.integers(0, 2**64, size=(5000, 4), dtype=np.uint64)
    snapshot = BankSnapshot()
    snapshot.load(words, [f"{row:032x}" for row in range(5000)])
    # 31 bits off, spread as evenly as they can be: 2 bits in 15 of the 16 chunks, 1 in the last.
    probe = words[1234].copy()
    for chunk in range(16):
        word, shift = divmod(chunk, 4)
        for bit in range(1 if chunk == 15 else 2):
            probe[word] ^= np.uint64(1 << (16 * shift + bit))
    match = snapshot.nearest(probe[None], 31)
    assert match is not None and (match.image_id, match.distance) == (f"{1234:032x}", 31)
    assert snapshot.nearest(probe[None], 30) is None
    assert snapshot.nearest(probe[None], 40).distance == 31  # beyond radius 1: the full scan answers

    # Banked after the index was built: scanned until the index is built again.
    newest = rng.integers(0, 2**64, size=4, dtype=np.uint64)
    at = "2026-12-03T11:00:00.000Z"
    snapshot.apply([BankEntry("f" * 32, to_hex(newest), 100, at, at)])
    assert snapshot.nearest(newest[None], 0).image_id == "f" * 32


def test_an_unreachable_index_sends_the_photo_to_review_as_the_checks_failure_and_loses_nothing(policy):
    from classify.checks import run_checks

    class DownIndex(FakeIndex):
        def sharing_a_chunk(self, chunk_keys, per_chunk):
            raise ConnectionError("DynamoDB is unreachable")

    photo = Image.new("RGB", (300, 200))
    photo.putdata([(x * 7 % 256, y * 5 % 256, (x * y) % 256) for y in range(200) for x in range(300)])
    report, served = run_checks((PhotoBankCheck(FakeBank(), DownIndex()),), subject(photo), policy)

    assert served is photo and "photo_bank" not in report.records
    assert [(r.category, r.action, r.rule) for r in report.reasons] == [("photo_bank", "review", "check_failed")]
