"""The safety classes and the CSV formula defence, each written once in the shared layer and read everywhere."""

import pytest

from classify import safety
from feedback.export import COLUMNS, csv_cell
from photomod_shared.prediction import SAFETY_CLASSES, Safety, SafetyProbabilities
from photomod_shared.spreadsheet import FORMULA_TRIGGERS, neutralise_formula
from tools import ingest


def test_the_safety_classes_are_nsfwjs_output_order():
    assert SAFETY_CLASSES == ("drawing", "hentai", "neutral", "porn", "sexy")
    assert safety.SAFETY_CLASSES is SAFETY_CLASSES


def test_the_export_has_one_column_per_safety_class_in_their_order():
    columns = [column.removeprefix("safety_") for column in COLUMNS if column.startswith("safety_")]
    assert columns == ["class", *SAFETY_CLASSES]


def test_the_api_documents_exactly_the_safety_classes():
    assert tuple(SafetyProbabilities.model_fields) == SAFETY_CLASSES
    assert Safety.model_json_schema()["properties"]["top_class"]["enum"] == list(SAFETY_CLASSES)


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
def test_the_export_and_the_ingest_report_neutralise_the_same_triggers(trigger):
    text = trigger + "HYPERLINK(1)"
    assert neutralise_formula(text) == "'" + text
    assert csv_cell(text) == "'" + text
    assert ingest.neutralise_formula is neutralise_formula
