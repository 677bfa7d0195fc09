"""bench/text_eval.py, the text check's labelled set: every overlaid string is labelled with the rule it tests (and
matches no other), and the set is the same every run."""

import hashlib

import pytest
from PIL import Image

from bench.text_eval import STRINGS, overlay
from classify.text_check import RULES, ReadLine, find_rules

BOX = ((0, 0), (1, 0), (1, 1), (0, 1))


@pytest.mark.parametrize(("rule", "text"), [(rule, text) for rule in RULES for text in STRINGS[rule]])
def test_every_overlaid_string_matches_its_own_rule_and_no_other(rule, text):
    assert {found.rule for found in find_rules(ReadLine(text, BOX, 0.99))} == {rule}


def test_an_overlay_is_the_same_every_run_and_differs_by_seed():
    photo = Image.new("RGB", (640, 480), (90, 120, 60))

    def digest(seed: int) -> str:
        return hashlib.sha256(overlay(photo, "call +1 415 555 0199", seed).tobytes()).hexdigest()

    assert digest(3) == digest(3) != digest(4)
