"""Operators' metrics locally: the classifier's EMF lines land in the function's log under the run directory,
where CloudWatch would extract them on AWS (and `make stats` reads them)."""

import pytest

from tests.integration.helpers import DOG_PHOTO, unique, upload_photo, wait_for_final, wait_until
from tests.support.metrics import emf_documents

pytestmark = pytest.mark.integration


def test_a_classified_photo_is_counted_in_the_classify_log(local_stack):
    log = local_stack.run_dir / "logs" / "ClassifyFunction.log"
    image_id = upload_photo(local_stack, DOG_PHOTO.read_bytes(), f"{unique()}.jpg")["image_id"]
    verdict = wait_for_final(local_stack, image_id)["verdict"]

    def counted() -> list[dict] | None:
        documents = [
            document
            for document in emf_documents(log.read_text(errors="replace"))
            if "PhotosClassified" in document and document.get("verdict") == verdict
        ]
        return documents or None

    documents = wait_until(counted, timeout_s=30, what="a PhotosClassified EMF line in ClassifyFunction.log")
    directive = documents[-1]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "photomod"
    assert {"Name": "PhotosClassified", "Unit": "Count"} in directive["Metrics"]
