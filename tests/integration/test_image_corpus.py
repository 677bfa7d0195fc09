"""Every case of the image corpus dropped through the running stack ends in its expected state and code, and
the classifier is still alive afterwards (no case crashed, hung or poisoned its execution environment)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.helpers import DOG_PHOTO, find_prediction, unique, upload_photo, wait_for_final, wait_until
from tests.support.imagecorpus import CorpusCase, build_corpus

pytestmark = pytest.mark.integration

CASES = build_corpus()
# ~70 objects, a third of them classifiable, on two cores: generous, but bounded.
CORPUS_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def corpus_results(local_stack) -> dict[str, dict[str, Any]]:
    """Drops every case under incoming/corpus/<run>/ at once, then waits for all of them: name -> result."""
    prefix = f"incoming/corpus/{unique('run')}/"
    s3 = local_stack.client("s3")

    def drop(case: CorpusCase) -> None:
        s3.put_object(Bucket=local_stack.bucket, Key=prefix + case.name, Body=case.data, ContentType=case.content_type)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(drop, CASES))

    results: dict[str, dict[str, Any]] = {}

    def all_final() -> bool:
        for case in CASES:
            if case.name in results:
                continue
            reply = find_prediction(local_stack, prefix + case.name)
            if reply.status_code == 200 and reply.json()["status"] in ("done", "failed"):
                results[case.name] = reply.json()
        return len(results) == len(CASES)

    wait_until(
        all_final,
        timeout_s=CORPUS_TIMEOUT_S,
        interval_s=1.0,
        what="every corpus case to be classified",
        last_seen=lambda: f"still pending: {sorted({case.name for case in CASES} - set(results))}",
    )
    return results


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_case_ends_in_its_expected_state(corpus_results: dict[str, dict[str, Any]], case: CorpusCase) -> None:
    result = corpus_results[case.name]

    assert result["source"] == "drop-folder"
    if case.expected_status == "done":
        assert result["status"] == "done", result["error"]
        assert len(result["labels"]) == 5
        assert result["verdict"] in ("allow", "review", "block")
        assert result["error"] is None
    else:
        assert result["status"] == "failed", result
        assert result["error"]["code"] == case.expected_code, result["error"]
        assert result["error"]["message"]
        assert result["labels"] == [] and result["verdict"] is None


def test_classifier_still_works_after_the_corpus(local_stack, corpus_results) -> None:
    created = upload_photo(local_stack, DOG_PHOTO.read_bytes(), "after-corpus.jpg")

    assert wait_for_final(local_stack, created["image_id"])["status"] == "done"
