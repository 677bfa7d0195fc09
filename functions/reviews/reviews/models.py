from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ReviewDecision(BaseModel):
    # Strict: a decision of true or 1 is a client bug to report, not a value to guess at.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    decision: Literal["allow", "block"] = Field(description="The verdict the photo gets")
    note: str = Field(default="", max_length=1000, description="Why, for the next moderator")
