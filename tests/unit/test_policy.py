import copy
import json

import numpy as np
import pytest

from classify.labels import ClassIndex
from classify.policy import DEFAULT_POLICY_PATH, ModerationPolicy, PolicyError, Reason, Verdict


@pytest.fixture
def document() -> dict:
    return {
        "version": "test.1",
        "description": "small policy for tests",
        "top_k": 5,
        "categories": {
            "weapons": {
                "action": "block",
                "threshold": 0.5,
                "classes": [
                    {"wnid": "n04086273", "label": "revolver"},
                    {"wnid": "n03041632", "label": "cleaver", "action": "review", "threshold": 0.6},
                ],
            },
            "swimwear_and_underwear": {
                "action": "review",
                "threshold": 0.3,
                "classes": [{"wnid": "n02837789", "label": "bikini"}],
            },
        },
    }


def probabilities(class_index: ClassIndex, scores: dict[str, float], dtype=np.float64) -> np.ndarray:
    """A probability vector with the named classes (label or wnid) at the given scores, the rest spread evenly."""
    remaining = 1.0 - sum(scores.values())
    assert remaining >= 0, "scores must sum to at most 1"
    vector = np.full(len(class_index), remaining / (len(class_index) - len(scores)), dtype=dtype)
    for name, score in scores.items():
        vector[class_index.index_of(name)] = score
    return vector


# --- decisions with the shipped policy -------------------------------------------------------------


def test_confident_revolver_is_blocked_with_a_weapons_reason(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {"revolver": 0.8}))

    assert verdict.action == "block"
    assert verdict.reasons == (
        Reason(category="weapons", action="block", label="revolver", wnid="n04086273", score=pytest.approx(0.8)),
    )


def test_running_shoe_is_allowed_without_reasons(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {"running_shoe": 0.9}))

    assert verdict == Verdict(action="allow", reasons=(), policy_version=policy.version)


def test_revolver_below_threshold_is_allowed(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {"revolver": 0.1, "running_shoe": 0.6}))

    assert verdict.action == "allow"
    assert verdict.reasons == ()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_score_exactly_at_threshold_triggers(class_index, document, dtype):
    # 0.7 is not exactly representable; in float32 it is below the float64 0.7 unless compared at float32.
    document["categories"]["weapons"]["threshold"] = 0.7
    policy = ModerationPolicy.from_dict(document, class_index)

    verdict = policy.decide(probabilities(class_index, {"revolver": 0.7}, dtype=dtype))

    assert verdict.action == "block"


def test_score_just_below_threshold_does_not_trigger(class_index, document):
    policy = ModerationPolicy.from_dict(document, class_index)

    verdict = policy.decide(probabilities(class_index, {"revolver": 0.4999}))

    assert verdict.action == "allow"


def test_confident_bikini_is_sent_to_review(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {"bikini": 0.7}))

    assert verdict.action == "review"
    assert [(reason.category, reason.label) for reason in verdict.reasons] == [("swimwear_and_underwear", "bikini")]


def test_block_beats_review_and_every_trigger_is_a_reason(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {"bikini": 0.35, "revolver": 0.55}))

    assert verdict.action == "block"
    assert [(reason.label, reason.action) for reason in verdict.reasons] == [
        ("revolver", "block"),
        ("bikini", "review"),
    ]


def test_block_class_ranked_sixth_does_not_trigger(class_index, document):
    # Given a block class above its threshold but pushed out of the top five
    document["categories"]["weapons"]["threshold"] = 0.1
    policy = ModerationPolicy.from_dict(document, class_index)
    scores = {"running_shoe": 0.17, "sandal": 0.16, "clog": 0.15, "Loafer": 0.14, "cowboy_boot": 0.13}

    # When the revolver ranks sixth
    verdict = policy.decide(probabilities(class_index, {**scores, "revolver": 0.12}))

    # Then it is not considered at all
    assert verdict.action == "allow"
    assert policy.decide(probabilities(class_index, {**scores, "revolver": 0.135})).action == "block"


def test_dual_use_cleaver_is_reviewed_not_blocked(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {"cleaver": 0.9}))

    assert verdict.action == "review"
    assert verdict.reasons[0].category == "weapons"


def test_class_threshold_override_applies(class_index, document):
    policy = ModerationPolicy.from_dict(document, class_index)

    assert policy.decide(probabilities(class_index, {"cleaver": 0.55})).action == "allow"
    assert policy.decide(probabilities(class_index, {"cleaver": 0.6})).action == "review"


def test_untrained_model_output_is_allowed(policy, class_index):
    assert policy.decide(probabilities(class_index, {})).action == "allow"


def test_decide_rejects_a_vector_of_the_wrong_length(policy):
    with pytest.raises(ValueError, match="1000"):
        policy.decide(np.full(999, 1 / 999))


def test_verdict_carries_the_policy_version(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {"revolver": 0.8}))

    assert verdict.policy_version == policy.version == "2026-12-03.1"


def test_verdict_to_dict_is_json_friendly(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {"revolver": 0.8}, dtype=np.float32))

    as_dict = json.loads(json.dumps(verdict.to_dict()))

    assert as_dict == {
        "action": "block",
        "reasons": [
            {
                "category": "weapons",
                "action": "block",
                "label": "revolver",
                "wnid": "n04086273",
                "score": pytest.approx(0.8),
            }
        ],
        "policy_version": "2026-12-03.1",
    }


# --- the shipped policy file -----------------------------------------------------------------------


def test_shipped_policy_names_real_classes_with_matching_labels(class_index):
    document = json.loads(DEFAULT_POLICY_PATH.read_text())
    entries = [entry for category in document["categories"].values() for entry in category.get("classes", [])]

    assert entries
    for entry in entries:
        index = class_index.index_of(entry["wnid"])
        assert class_index.wnid(index) == entry["wnid"]
        assert class_index.label(index) == entry["label"], entry


def test_shipped_policy_covers_the_agreed_categories(class_index):
    document = json.loads(DEFAULT_POLICY_PATH.read_text())

    agreed = {"explicit", "weapons", "alcohol", "drugs_and_medical", "swimwear_and_underwear", "violence", "off_topic"}
    assert agreed <= set(document["categories"])
    assert document["version"] and document["description"]
    assert all(category["description"] for category in document["categories"].values())


# --- malformed documents ---------------------------------------------------------------------------


def test_from_dict_accepts_the_valid_test_document(class_index, document):
    policy = ModerationPolicy.from_dict(document, class_index)

    assert (policy.version, policy.k) == ("test.1", 5)


DELETE = object()


def _mutate(document: dict, path: tuple, value) -> dict:
    mutated = copy.deepcopy(document)
    target = mutated
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return mutated


WEAPONS = ("categories", "weapons")
REVOLVER = (*WEAPONS, "classes", 0)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ((*WEAPONS, "action"), DELETE, r"missing key\(s\) \['action'\]"),
        ((*REVOLVER, "label"), DELETE, r"missing key\(s\) \['label'\]"),
        ((*WEAPONS, "action"), "allow", "action must be one of"),
        ((*REVOLVER, "action"), "ban", "action must be one of"),
        ((*WEAPONS, "threshold"), 0, r"threshold must be a number in \(0, 1\]"),
        ((*WEAPONS, "threshold"), 1.5, r"threshold must be a number in \(0, 1\]"),
        ((*WEAPONS, "threshold"), -0.2, r"threshold must be a number in \(0, 1\]"),
        ((*WEAPONS, "threshold"), "0.5", r"threshold must be a number in \(0, 1\]"),
        ((*WEAPONS, "threshold"), True, r"threshold must be a number in \(0, 1\]"),
        ((*REVOLVER, "threshold"), 0, r"threshold must be a number in \(0, 1\]"),
        ((*REVOLVER, "wnid"), "n99999999", "unknown wnid 'n99999999'"),
        ((*REVOLVER, "wnid"), "revolver", "is a label, not a wnid"),
        ((*REVOLVER, "label"), "pistol", "label 'pistol' does not match n04086273, which is 'revolver'"),
        ((*REVOLVER, "colour"), "red", r"unknown key\(s\) \['colour'\]"),
        ((*WEAPONS, "severity"), "high", r"unknown key\(s\) \['severity'\]"),
        (("owner",), "trust-and-safety", r"unknown key\(s\) \['owner'\]"),
        (("top_k",), 0, "'top_k' must be an integer between 1 and 1000"),
        (("top_k",), 2.5, "'top_k' must be an integer between 1 and 1000"),
        (("version",), "", "'version' must be a non-empty string"),
        (("categories",), {}, "'categories' must be a non-empty object"),
        ((*WEAPONS, "classes"), [], "'classes' must be a non-empty list"),
    ],
)
def test_from_dict_rejects_bad_documents_with_a_clear_message(class_index, document, path, value, message):
    bad = _mutate(document, path, value)

    with pytest.raises(PolicyError, match=message):
        ModerationPolicy.from_dict(bad, class_index)


def test_from_dict_rejects_a_class_listed_in_two_categories(class_index, document):
    document["categories"]["swimwear_and_underwear"]["classes"].append({"wnid": "n04086273", "label": "revolver"})

    with pytest.raises(PolicyError, match="already listed in category 'weapons'"):
        ModerationPolicy.from_dict(document, class_index)


def test_from_file_names_the_file_in_load_errors(tmp_path, class_index, document):
    path = tmp_path / "policy.json"
    document["categories"]["weapons"]["threshold"] = 0
    path.write_text(json.dumps(document))

    with pytest.raises(PolicyError, match=r"policy\.json: category 'weapons': threshold"):
        ModerationPolicy.from_file(path, class_index)


def test_from_file_rejects_invalid_json(tmp_path, class_index):
    path = tmp_path / "policy.json"
    path.write_text("{not json")

    with pytest.raises(PolicyError, match="not valid JSON"):
        ModerationPolicy.from_file(path, class_index)


# --- the explicit category (safety model) ----------------------------------------------------------


def safety(drawing=0.0, hentai=0.0, neutral=0.0, porn=0.0, sexy=0.0, dtype=np.float32) -> np.ndarray:
    return np.array([drawing, hentai, neutral, porn, sexy], dtype=dtype)


@pytest.fixture
def explicit_document(document) -> dict:
    document["categories"]["explicit"] = {
        "action": "block",
        "threshold": 0.7,
        "safety_classes": [
            {"class": "porn"},
            {"class": "hentai"},
            {"class": "sexy", "action": "review", "threshold": 0.8},
        ],
    }
    return document


@pytest.mark.parametrize("name", ["porn", "hentai"])
def test_porn_or_hentai_above_the_threshold_is_blocked_as_explicit(policy, class_index, name):
    verdict = policy.decide(probabilities(class_index, {"tabby": 0.9}), safety(**{name: 0.92, "neutral": 0.08}))

    assert verdict.action == "block"
    assert verdict.reasons == (Reason("explicit", "block", name, None, pytest.approx(0.92)),)


def test_the_highest_porn_and_hentai_scores_of_the_sample_photos_are_allowed(policy, class_index):
    # The highest scores the shipped model gives the ordinary sample photos (docs/benchmark.md).
    verdict = policy.decide(probabilities(class_index, {"tabby": 0.9}), safety(porn=0.53, hentai=0.33, neutral=0.14))

    assert (verdict.action, verdict.reasons) == ("allow", ())


def test_sexy_is_only_reviewed_however_confident(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {"bikini": 0.1}), safety(sexy=0.99, neutral=0.01))

    assert verdict.action == "review"
    assert [(reason.category, reason.label) for reason in verdict.reasons] == [("explicit", "sexy")]


def test_the_most_severe_of_both_models_wins(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {"beer_bottle": 0.6}), safety(porn=0.95, neutral=0.05))

    assert verdict.action == "block"
    assert {reason.category for reason in verdict.reasons} == {"explicit", "alcohol"}


def test_safety_threshold_is_inclusive_at_the_models_precision(explicit_document, class_index):
    policy = ModerationPolicy.from_dict(explicit_document, class_index)

    assert policy.decide(probabilities(class_index, {}), safety(porn=0.7, neutral=0.3)).action == "block"


def test_without_safety_scores_the_explicit_category_cannot_fire(policy, class_index):
    assert policy.decide(probabilities(class_index, {"tabby": 0.9})).action == "allow"


def test_decide_rejects_safety_scores_of_the_wrong_length(policy, class_index):
    with pytest.raises(ValueError, match="5 safety probabilities"):
        policy.decide(probabilities(class_index, {}), np.array([0.5, 0.5]))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.update(safety_classes=[{"class": "nude"}]), "unknown safety class 'nude'"),
        (lambda c: c.update(safety_classes=[]), "non-empty list"),
        (lambda c: c.update(classes=[{"wnid": "n04086273", "label": "revolver"}]), "exactly one of"),
        (lambda c: c.update(safety_classes=[{"class": "porn"}, {"class": "porn"}]), "already listed"),
        (lambda c: c.update(safety_classes=[{"class": "porn", "wnid": "n1"}]), "unknown key"),
        (lambda c: c.update(safety_classes=[{"class": "porn", "threshold": 1.5}]), "threshold"),
    ],
)
def test_malformed_safety_categories_are_rejected(explicit_document, class_index, change, message):
    change(explicit_document["categories"]["explicit"])

    with pytest.raises(PolicyError, match=message):
        ModerationPolicy.from_dict(explicit_document, class_index)


def test_a_category_without_any_classes_is_rejected(document, class_index):
    del document["categories"]["weapons"]["classes"]

    with pytest.raises(PolicyError, match="exactly one of"):
        ModerationPolicy.from_dict(document, class_index)
