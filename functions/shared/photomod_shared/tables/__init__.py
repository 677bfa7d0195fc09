"""The DynamoDB tables: the only code that builds a DynamoDB request (tests/unit/test_table_access.py).

`PredictionTable` is the predictions table's adapter, one module per concern, all over one boto3 `Table`:
- intake.py: a row created pending, ended failed;
- reconciliation.py: the reconciler's sparse index of pending rows and its place in the drop folder;
- outcomes.py: results written in the order of their S3 events, solo attempts;
- moderation.py: the review queue (a sparse index), decisions, shoppers' reports.
What an item holds is `photomod_shared.prediction_table`'s (the storage format) and the record's
(`photomod_shared.prediction.Prediction`); the roles the functions take it as are in `roles.py`.

feedback.py holds the two other tables' adapters: shoppers' feedback and the report-limit counters;
photo_bank.py the photo bank's and the photo-hash index's (classify.photo_bank).
"""

from photomod_shared.tables.feedback import FeedbackTable, ReportQuotaTable
from photomod_shared.tables.intake import IntakeTable
from photomod_shared.tables.moderation import ModerationTable
from photomod_shared.tables.outcomes import OutcomeTable
from photomod_shared.tables.photo_bank import PhotoBankTable, PhotoHashIndexTable
from photomod_shared.tables.reconciliation import ReconciliationTable


class PredictionTable(IntakeTable, ReconciliationTable, OutcomeTable, ModerationTable):
    """Adapter over the DynamoDB predictions table (a boto3 `Table` resource): it plays every role of `roles`."""


__all__ = ["FeedbackTable", "PhotoBankTable", "PhotoHashIndexTable", "PredictionTable", "ReportQuotaTable"]
