from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class UndoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    object_version: str = Field(
        min_length=1, max_length=1024, description="The version whose decision is taken back (from the history)"
    )


class ReviewDecision(BaseModel):
    # Strict: a decision of true or 1 is a client bug to report, not a value to guess at.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    decision: Literal["allow", "block"] = Field(description="The verdict the photo gets")
    note: str = Field(default="", max_length=1000, description="Why, for the next moderator")
    object_version: str = Field(
        min_length=1,
        max_length=1024,
        description=(
            "The `object_version` of the queue item the moderator looked at: the decision applies to that "
            "version only (409 version_changed if the photo was replaced since)"
        ),
    )
