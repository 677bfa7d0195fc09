"""photomod_shared.ids: which object keys belong to which image, and which keys are refused."""

import uuid

import pytest

from photomod_shared import ids

IMAGE_ID = "9f2c1e4b7a6d4c3e8b1a0f9e8d7c6b5a"


def test_new_image_ids_are_32_lowercase_hex_and_unique():
    first, second = ids.new_image_id(), ids.new_image_id()

    assert ids.is_image_id(first) and ids.is_image_id(second)
    assert first != second


@pytest.mark.parametrize(
    "value",
    ["", IMAGE_ID.upper(), IMAGE_ID[:-1], IMAGE_ID + "0", str(uuid.UUID(IMAGE_ID)), "../" + IMAGE_ID[3:]],
)
def test_is_image_id_rejects_anything_but_32_lowercase_hex(value):
    assert not ids.is_image_id(value)


def test_upload_key_round_trips_to_its_image_id():
    key = ids.upload_key(IMAGE_ID, "jpg")

    assert key == f"uploads/{IMAGE_ID}.jpg"
    assert ids.image_id_for_key(key) == IMAGE_ID
    assert ids.source_for_key(key) == ids.SOURCE_UPLOAD


def test_drop_folder_ids_are_stable_and_distinct_per_key():
    key = "incoming/summer sale/shoe(1).jpg"

    image_id = ids.image_id_for_key(key)

    assert ids.is_image_id(image_id)
    assert ids.image_id_for_key(key) == image_id  # the API finds it again from the key alone
    assert ids.image_id_for_key("incoming/summer sale/shoe(2).jpg") != image_id
    assert ids.source_for_key(key) == ids.SOURCE_DROP_FOLDER


def test_drop_folder_id_is_a_version_5_uuid_of_the_key():
    """Pinned: changing the namespace would orphan every drop-folder prediction already stored."""
    assert uuid.UUID(ids.image_id_for_key("incoming/a.jpg")).version == 5
    assert ids.image_id_for_key("incoming/a.jpg") == uuid.uuid5(ids._DROP_FOLDER_NAMESPACE, "incoming/a.jpg").hex


@pytest.mark.parametrize(
    "key",
    [
        f"uploads/{IMAGE_ID}",  # no extension
        f"uploads/{IMAGE_ID.upper()}.jpg",
        f"uploads/{IMAGE_ID}.jpeg.exe",
        f"uploads/nested/{IMAGE_ID}.jpg",
        "uploads/shoe.jpg",  # a client-chosen name: upload keys are always server-generated
        f"uploads/../uploads/{IMAGE_ID}.jpg",
        f"../incoming/{IMAGE_ID}.jpg",
        "/incoming/a.jpg",
        "Incoming/a.jpg",
        "photos/a.jpg",
        "incoming/",  # the prefix alone names no object
        "incoming/line\nbreak.jpg",
        "incoming/tab\t.jpg",
        "incoming/nul\x00.jpg",
        "incoming/del\x7f.jpg",
        "incoming/" + "é" * 508,  # 1025 bytes in UTF-8, though only 517 characters
        "",
    ],
)
def test_keys_outside_the_classified_prefixes_are_unrecognised(key):
    with pytest.raises(ids.UnrecognisedKey):
        ids.image_id_for_key(key)


def test_drop_folder_keys_may_be_as_long_as_s3_allows():
    longest = "incoming/" + "a" * (ids.MAX_KEY_LENGTH - len("incoming/"))

    assert ids.is_drop_folder_key(longest)
    assert not ids.is_drop_folder_key(longest + "a")


@pytest.mark.parametrize("key", ["incoming/a.jpg", "incoming/summer sale/shoe(1).jpg", "incoming/ünïcödé/写真.png"])
def test_printable_keys_under_incoming_are_drop_folder_keys(key):
    assert ids.is_drop_folder_key(key)
