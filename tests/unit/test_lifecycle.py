"""photomod_shared.lifecycle: the one rule for when an upload that never arrived is given up on."""

from datetime import UTC, datetime, timedelta

from photomod_shared.clock import iso
from photomod_shared.lifecycle import ARRIVAL_GRACE, FAILURE_CODES, UPLOAD_NOT_RECEIVED, may_still_arrive

EXPIRES = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_an_upload_may_still_arrive_until_the_grace_after_its_expiry_has_passed():
    assert may_still_arrive(iso(EXPIRES), EXPIRES)
    assert may_still_arrive(iso(EXPIRES), EXPIRES + ARRIVAL_GRACE)
    assert not may_still_arrive(iso(EXPIRES), EXPIRES + ARRIVAL_GRACE + timedelta(microseconds=1))


def test_a_photo_without_an_upload_window_has_nothing_to_wait_for():
    assert not may_still_arrive(None, EXPIRES)
    assert not may_still_arrive("", EXPIRES)


def test_the_failure_codes_include_the_ones_upload_and_reconcile_write():
    assert UPLOAD_NOT_RECEIVED.code == "upload_not_received"
    assert {"upload_not_received", "object_missing", "not_classified", "retries_exhausted"} <= FAILURE_CODES
