from pydantic import Field

from feedback.limits import DEFAULT_HIDES_PER_ADDRESS
from photomod_shared.settings import ApiSettings, PublishingSettings, Text, VerdictEventSettings


class FeedbackSettings(ApiSettings, VerdictEventSettings, PublishingSettings):
    """The feedback function's (FeedbackFunction) environment."""

    feedback_table: Text
    # The Cognito group whose members may export (the template's AnalystsGroup).
    export_group: Text
    # Counters of feedback.limits (reports that may hide photos, per client address).
    report_limits_table: Text
    report_hides_per_address: int = Field(DEFAULT_HIDES_PER_ADDRESS, ge=1, le=100_000)
