import copy
import json

import numpy as np
import pytest

from classify.labels import ClassIndex
from classify.policy import DEFAULT_POLICY_PATH, ModerationPolicy, PolicyError, Verdict


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


def reasons_of(verdict: Verdict) -> list[dict]:
    """The verdict's reasons as the record stores them (a `rule` only where the explicit table gave one)."""
    return [reason.model_dump() for reason in verdict.reasons]


def reason(category: str, action: str, label: str, wnid: str | None, score, **rule: str) -> dict:
    return {"category": category, "action": action, "label": label, "wnid": wnid, "score": score, **rule}


# --- decisions with the shipped policy -------------------------------------------------------------


def test_confident_revolver_is_blocked_with_a_weapons_reason(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {"revolver": 0.8}))

    assert verdict.action == "block"
    assert reasons_of(verdict) == [
        reason("weapons", "block", "revolver", "n04086273", pytest.approx(0.8)),
    ]


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

    assert verdict.policy_version == policy.version == "2026-12-03.3"


def test_a_verdicts_reasons_are_json_friendly_records(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {"revolver": 0.8}, dtype=np.float32))

    as_json = json.loads(json.dumps(reasons_of(verdict)))

    assert as_json == [
        {
            "category": "weapons",
            "action": "block",
            "label": "revolver",
            "wnid": "n04086273",
            "score": pytest.approx(0.8),
        }
    ]
    assert type(verdict.reasons[0].score) is float  # a numpy float32 became a plain float


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
def test_porn_or_hentai_is_blocked_only_where_both_models_are_confident(policy, class_index, name):
    verdict = policy.decide(
        probabilities(class_index, {"tabby": 0.9}), safety(**{name: 0.92, "neutral": 0.08}), second_opinion=0.9
    )

    assert verdict.action == "block"
    assert reasons_of(verdict) == [
        reason("explicit", "block", name, None, pytest.approx(0.92), rule="nsfwjs_confident+open_nsfw_confident"),
    ]


# Every pair of opinions -> the verdict (issue 23): nsfwjs' max(porn, hentai) in its band, Open-NSFW's P(NSFW) in
# Yahoo's. The scores are chosen inside each band, and at its lower edge in the edge test below.
NSFWJS_SCORES = {"low": 0.1, "uncertain": 0.35, "likely": 0.6, "confident": 0.9}
OPEN_NSFW_SCORES = {"low": 0.05, "uncertain": 0.5, "confident": 0.9, "absent": None}
EXPECTED_TABLE = {
    #            Open-NSFW:  low       uncertain  confident  absent
    "confident": ("review", "review", "block", "review"),
    "likely": ("review", "review", "review", "review"),
    "uncertain": ("allow", "review", "review", "review"),
    "low": ("allow", "allow", "review", "allow"),
}
PAIRS = [
    (nsfwjs, open_nsfw, EXPECTED_TABLE[nsfwjs][column])
    for nsfwjs in NSFWJS_SCORES
    for column, open_nsfw in enumerate(OPEN_NSFW_SCORES)
]


@pytest.mark.parametrize("nsfwjs, open_nsfw, expected", PAIRS)
def test_each_pair_of_opinions_gives_the_tables_verdict_and_names_its_rule(
    policy, class_index, nsfwjs, open_nsfw, expected
):
    porn = NSFWJS_SCORES[nsfwjs]

    verdict = policy.decide(
        probabilities(class_index, {"tabby": 0.9}),
        safety(porn=porn, neutral=1 - porn),
        second_opinion=OPEN_NSFW_SCORES[open_nsfw],
    )

    assert verdict.action == expected
    if expected == "allow":
        assert verdict.reasons == ()
    else:
        assert reasons_of(verdict) == [
            reason(
                "explicit", expected, "porn", None, pytest.approx(porn), rule=f"nsfwjs_{nsfwjs}+open_nsfw_{open_nsfw}"
            ),
        ]


@pytest.mark.parametrize(
    "porn, open_nsfw, rule",
    [
        (0.7, 0.8, "nsfwjs_confident+open_nsfw_confident"),
        (np.nextafter(np.float32(0.7), 0), 0.8, "nsfwjs_likely+open_nsfw_confident"),
        (0.45, 0.1, "nsfwjs_likely+open_nsfw_low"),
        (0.3, 0.2, "nsfwjs_uncertain+open_nsfw_uncertain"),
        (0.7, float(np.nextafter(np.float32(0.8), 0)), "nsfwjs_confident+open_nsfw_uncertain"),
    ],
)
def test_a_band_starts_at_its_threshold_inclusive(policy, class_index, porn, open_nsfw, rule):
    verdict = policy.decide(probabilities(class_index, {}), safety(porn=porn), second_opinion=open_nsfw)

    assert [reason.rule for reason in verdict.reasons] == [rule]


@pytest.mark.parametrize("open_nsfw", [None, 0.01, 0.5, 0.95])
def test_porn_between_the_review_and_the_block_threshold_goes_to_review(policy, class_index, open_nsfw):
    # Issue 17: porn 0.65 with sexy 0.3 triggered nothing and was allowed, whatever the second opinion says.
    verdict = policy.decide(
        probabilities(class_index, {"tabby": 0.9}), safety(porn=0.65, sexy=0.3, neutral=0.05), second_opinion=open_nsfw
    )

    assert verdict.action == "review"
    assert [(reason.category, reason.label) for reason in verdict.reasons] == [("explicit", "porn")]


def test_the_more_explicit_of_porn_and_hentai_is_the_opinion(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {}), safety(porn=0.35, hentai=0.55), second_opinion=0.05)

    assert reasons_of(verdict) == [
        reason("explicit", "review", "hentai", None, pytest.approx(0.55), rule="nsfwjs_likely+open_nsfw_low"),
    ]


def test_a_confident_nsfwjs_alone_is_never_an_automatic_block(policy, class_index):
    # On ordinary photos nsfwjs alone blocks a garbage truck, a matchstick, an acoustic guitar (issue 23): a person
    # looks instead, unless Open-NSFW agrees. Without the second opinion nothing is blocked either.
    for open_nsfw in (None, 0.006, 0.12, 0.79):
        verdict = policy.decide(
            probabilities(class_index, {}), safety(porn=0.95, neutral=0.05), second_opinion=open_nsfw
        )
        assert verdict.action == "review"


def test_nsfwjs_uncertain_with_open_nsfw_low_is_allowed(policy, class_index):
    # Below 0.45 nsfwjs' uncertainty alone is no reason when Open-NSFW calls the photo safe (< 0.2).
    for scores, open_nsfw in ((safety(porn=0.44, sexy=0.35), 0.0004), (safety(hentai=0.33, porn=0.07), 0.021)):
        assert policy.decide(probabilities(class_index, {"tabby": 0.9}), scores, second_opinion=open_nsfw).action == (
            "allow"
        )


def test_sexy_is_only_reviewed_however_confident(policy, class_index):
    for open_nsfw in (None, 0.0, 0.99):
        verdict = policy.decide(
            probabilities(class_index, {"bikini": 0.1}), safety(sexy=0.99, neutral=0.01), second_opinion=open_nsfw
        )

        assert verdict.action == "review"
        assert ("explicit", "sexy") in [(reason.category, reason.label) for reason in verdict.reasons]


def test_the_most_severe_of_both_models_wins(policy, class_index):
    verdict = policy.decide(
        probabilities(class_index, {"beer_bottle": 0.6}), safety(porn=0.95, neutral=0.05), second_opinion=0.97
    )

    assert verdict.action == "block"
    assert {reason.category for reason in verdict.reasons} == {"explicit", "alcohol"}


def test_a_second_opinion_outside_zero_to_one_is_refused(policy, class_index):
    with pytest.raises(ValueError, match="probability"):
        policy.decide(probabilities(class_index, {}), safety(porn=0.5), second_opinion=1.5)


def test_reasons_carry_the_rule_only_where_a_combination_fired(policy, class_index):
    verdict = policy.decide(probabilities(class_index, {}), safety(porn=0.6, sexy=0.9), second_opinion=0.1)

    as_dicts = reasons_of(verdict)

    assert as_dicts[0]["rule"] == "nsfwjs_likely+open_nsfw_low"
    assert "rule" not in as_dicts[1] and as_dicts[1]["label"] == "sexy"


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


@pytest.fixture
def combined_document(explicit_document) -> dict:
    explicit = explicit_document["categories"]["explicit"]
    explicit["safety_classes"] = [{"class": "sexy", "action": "review", "threshold": 0.8}]
    explicit["second_opinion"] = json.loads(DEFAULT_POLICY_PATH.read_text())["categories"]["explicit"]["second_opinion"]
    return explicit_document


def test_the_test_documents_combination_is_accepted(combined_document, class_index):
    policy = ModerationPolicy.from_dict(combined_document, class_index)

    assert policy.combination is not None and policy.combination.nsfwjs_classes == ("porn", "hentai")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["table"]["likely"].update(low="block"), "only agreement of both may block"),
        (lambda c: c["table"]["low"].pop("absent"), "one action per Open-NSFW band"),
        (lambda c: c["table"].pop("likely"), "one row per nsfwjs band"),
        (lambda c: c["table"]["low"].update(low="maybe"), "must be one of"),
        (lambda c: c["nsfwjs_bands"].update(likely=0.2), "must rise"),
        (lambda c: c["open_nsfw_bands"].pop("confident"), "lowest score of each band"),
        (lambda c: c.update(nsfwjs_classes=["nude"]), "nsfwjs_classes"),
        (lambda c: c.update(extra=1), "unknown key"),
    ],
)
def test_malformed_combinations_are_rejected(combined_document, class_index, change, message):
    change(combined_document["categories"]["explicit"]["second_opinion"])

    with pytest.raises(PolicyError, match=message):
        ModerationPolicy.from_dict(combined_document, class_index)


def test_a_class_both_combined_and_listed_on_its_own_is_rejected(combined_document, class_index):
    combined_document["categories"]["explicit"]["safety_classes"].append({"class": "porn"})

    with pytest.raises(PolicyError, match="both"):
        ModerationPolicy.from_dict(combined_document, class_index)


def test_a_checks_section_naming_no_check_is_refused(class_index):
    document = json.loads(DEFAULT_POLICY_PATH.read_text())
    document["checks"] = {"horoscope": {"action": "block"}}

    with pytest.raises(PolicyError, match=r"unknown check\(s\) \['horoscope'\]"):
        ModerationPolicy.from_dict(document, class_index)
