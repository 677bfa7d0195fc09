"""classify.judging (DetectModerationLabels' synchronous judgement) with the checks beyond the models: their reasons
count, but a check's retouched pixels are not what the caller will show, so the models judge the photo's own."""

from dataclasses import replace

from classify.judging import judge_photo
from tests.support.images import solid_jpeg
from tests.unit.test_classify_service import GREEN, RED, Batch, RecolouringCheck


def test_a_checks_reason_counts_but_the_models_judge_the_callers_own_pixels(class_index, policy):
    batch = Batch(class_index, policy, {})
    work = replace(batch.work, checks=(RecolouringCheck(colour=GREEN),))

    judged = judge_photo(solid_jpeg(RED), work)

    assert judged.top[0].label == "tabby"  # the red photo as sent, not the green the check would have served
    assert judged.verdict.action == "review"
    assert [(reason.category, reason.rule) for reason in judged.verdict.reasons] == [("recolouring", "found_something")]
