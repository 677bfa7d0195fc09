"""bench.evaluate_second_opinion's tallies (what `make eval` prints about the two explicit-content models)."""

import numpy as np

from bench.evaluate_second_opinion import ALLOW, BLOCK, REVIEW, Scored, combined, nsfwjs_alone, summarise
from classify.labels import ClassIndex
from classify.policy import ModerationPolicy


def test_summarise_counts_false_blocks_false_reviews_and_swimwear_reaching_review():
    def photo(name: str, group: str, porn: float, sexy: float, open_nsfw: float) -> Scored:
        return Scored(name, group, np.array([0, 0, 1 - porn - sexy, porn, sexy], dtype=np.float32), open_nsfw)

    photos = [
        photo("truck", "ordinary", 0.9, 0.0, 0.01),
        photo("sock", "ordinary", 0.0, 0.99, 0.05),
        photo("mug", "ordinary", 0.0, 0.0, 0.0),
        photo("bikini", "swimwear", 0.0, 0.99, 0.6),
        photo("explicit", BLOCK, 0.95, 0.0, 0.97),
        photo("fine", ALLOW, 0.0, 0.0, 0.0),
    ]

    result = summarise(photos, nsfwjs_alone(0.7, None, 0.8))

    assert result["false_blocks"] == ["truck"] and result["false_reviews"] == ["sock"]
    assert result["swimwear_reaching_review"] == ["bikini"]
    assert result["labelled_confusion"] == {"allow->allow": 1, "block->block": 1}
    assert result["block_recall"] == result["block_reaching_review"] == 1.0


def test_the_combination_turns_nsfwjs_alone_blocks_into_reviews_where_open_nsfw_disagrees():
    class_index = ClassIndex.from_file()
    decide = combined(ModerationPolicy.from_file(class_index=class_index), class_index)
    truck = Scored("garbage_truck", "ordinary", np.array([0, 0, 0.1, 0.9, 0], dtype=np.float32), 0.006)

    assert nsfwjs_alone(0.7, 0.3, 0.8)(truck) == BLOCK
    assert decide(truck) == REVIEW
