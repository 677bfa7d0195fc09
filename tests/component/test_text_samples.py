"""Issue 20's false-positive measure of the text check on the 117 sample photos, with rapidocr itself: the built-in
rules flag no more photos than docs/using.md states (5, all photographers' URL watermarks), and allow-listing those
watermarks' domains leaves none flagged. What `make eval` prints (bench/text_eval.py), as a test."""

import copy
import json

import pytest

from bench.text_eval import DEFAULT_PHOTOS, rendition_pixels
from classify.checks import Subject
from classify.labels import ClassIndex
from classify.ocr import load_reader
from classify.policy import DEFAULT_POLICY_PATH, ModerationPolicy
from classify.text_check import URL, TextCheck

pytestmark = pytest.mark.skipif(not DEFAULT_PHOTOS.is_dir(), reason="needs the sample photos in ../shared/data")

# docs/using.md#text-in-photos and docs/benchmark.md#text-check state this rate: 5 of 117.
MEASURED_FLAGGED = 5


@pytest.fixture(scope="module")
def check() -> TextCheck:
    return TextCheck(load_reader())


@pytest.fixture(scope="module")
def matches(check) -> dict[str, list]:
    policy = ModerationPolicy.from_file()
    found = {}
    for path in sorted(DEFAULT_PHOTOS.glob("*.JPEG")):
        result = check.inspect(Subject(path.stem, path.name, rendition_pixels(path.read_bytes())), policy)
        found[path.stem] = list(result.record.matches)  # type: ignore[union-attr]
    return found


def test_ordinary_sample_photos_are_flagged_no_more_than_the_measured_rate_and_only_for_watermark_urls(matches):
    flagged = {name: found for name, found in matches.items() if found}

    assert len(matches) == 117
    assert len(flagged) <= MEASURED_FLAGGED, {name: [m.text for m in found] for name, found in flagged.items()}
    assert {match.rule for found in flagged.values() for match in found} <= {URL}


def test_allow_listing_the_watermark_domains_clears_every_sample_photo(check, matches):
    flagged = [name for name, found in matches.items() if found]
    # The registrable part of each watermark's host (www.ciao.es -> ciao.es), as a shop would write it.
    hosts = {match.text.lower().split("//")[-1].split("/")[0] for name in flagged for match in matches[name]}
    document = copy.deepcopy(json.loads(DEFAULT_POLICY_PATH.read_text()))
    document["checks"]["text"]["allowed_domains"] = sorted({".".join(host.split(".")[-2:]) for host in hosts})
    policy = ModerationPolicy.from_dict(document, ClassIndex.from_file())

    for name in flagged:
        photo = DEFAULT_PHOTOS / f"{name}.JPEG"
        result = check.inspect(Subject(name, photo.name, rendition_pixels(photo.read_bytes())), policy)
        assert result.reasons == (), name
        assert {match.action for match in result.record.matches} == {"allowed"}  # type: ignore[union-attr]
