"""An in-memory stand-in for photomod_shared.tables.PredictionTable, for the upload domain's tests."""

from typing import Any

from photomod_shared.prediction import STATUS_FAILED, STATUS_PENDING, Failure, Prediction


class FakePredictions:
    """Keeps the table's conditions: create only once, fail only what is still pending.

    `outcome` (item attributes) is what the classifier writes once `after_gets` reads have happened.
    """

    def __init__(self, outcome: dict[str, Any] | None = None, after_gets: int = 0) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.outcome = outcome
        self.after_gets = after_gets
        self.gets = 0

    def create_pending(self, prediction: Prediction) -> None:
        assert prediction.image_id not in self.items
        self.items[prediction.image_id] = {**prediction.to_item(), "status": STATUS_PENDING}

    def get(self, image_id: str) -> Prediction | None:
        self.gets += 1
        if self.outcome is not None and self.gets > self.after_gets and image_id in self.items:
            self.items[image_id].update(self.outcome)
        item = self.items.get(image_id)
        return Prediction.from_item(item) if item else None

    def fail_if_pending(self, image_id: str, error: Failure, failed_at: str) -> bool:
        item = self.items.get(image_id)
        if item is None or item["status"] != STATUS_PENDING:
            return False
        item.update(status=STATUS_FAILED, error=error.to_dict(), classified_at=failed_at)
        return True
