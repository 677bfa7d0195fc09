"""web/formats.js is the web pages' copy of photomod_shared.formats' table, and every consumer reads the table."""

import re
from pathlib import Path

import pytest

from infra.build import web_formats
from photomod_shared.formats import (
    BY_CONTENT_TYPE,
    DECODABLE_FORMATS,
    EXTENSIONS_BY_CONTENT_TYPE,
    IMAGE_TYPES,
    SUPPORTED_IN_WORDS,
)

WEB = Path(__file__).resolve().parents[2] / "web"


def test_web_formats_js_is_generated_from_the_table():
    assert web_formats.WEB_FORMATS.read_text() == web_formats.render(), (
        "web/formats.js is stale: run `make web-formats`"
    )


def test_every_page_loading_messages_js_loads_formats_js_before_it():
    for page in WEB.glob("*.html"):
        scripts = re.findall(r'<script src="([^"]+)"', page.read_text())
        if "messages.js" in scripts:
            assert "formats.js" in scripts, page.name
            assert scripts.index("formats.js") < scripts.index("messages.js"), page.name


def test_no_web_script_keeps_its_own_list_of_image_types():
    for script in WEB.glob("*.js"):
        if script.name != "formats.js":
            text = script.read_text()
            assert "image/heic" not in text, f"{script.name} lists image types: read PHOTOMOD_FORMATS"
            assert SUPPORTED_IN_WORDS not in text, f"{script.name} names the types: read PHOTOMOD_FORMATS.inWords"


def test_each_content_type_has_one_row_with_its_key_extension():
    assert len(BY_CONTENT_TYPE) == len(IMAGE_TYPES)
    assert EXTENSIONS_BY_CONTENT_TYPE["image/jpeg"] == "jpg"
    assert EXTENSIONS_BY_CONTENT_TYPE["image/heic"] == "heic"
    extensions = [extension for image_type in IMAGE_TYPES for extension in image_type.file_extensions]
    assert len(extensions) == len(set(extensions)), "a file extension must name one type"


@pytest.mark.parametrize("image_type", IMAGE_TYPES, ids=lambda image_type: image_type.content_type)
def test_every_row_is_a_format_the_sniffer_answers_and_the_classifier_decodes(image_type):
    assert image_type.pillow_format in DECODABLE_FORMATS
    assert image_type.extension in image_type.file_extensions
    assert image_type.content_type.startswith("image/")


def test_the_formats_in_words_name_each_format_once():
    assert SUPPORTED_IN_WORDS == "JPEG, PNG, GIF, WebP, BMP, TIFF or HEIC"
