from pydantic import BaseModel, ConfigDict, Field, field_validator

# The types the classifier decodes, with the extension the server-generated key gets.
EXTENSIONS_BY_CONTENT_TYPE = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
    "image/heic": "heic",
    "image/heif": "heif",
}


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    filename: str = Field(min_length=1, max_length=255, description="The shopper's file name; stored, never used as a key")
    content_type: str = Field(min_length=1, max_length=100, description="One of the supported image types")
    size: int = Field(gt=0, description="Size of the file in bytes")

    @field_validator("filename")
    @classmethod
    def printable_filename(cls, value: str) -> str:
        if any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise ValueError("filename must not contain control characters")
        return value


class PresignedPost(BaseModel):
    url: str
    fields: dict[str, str]


class UploadCreated(BaseModel):
    image_id: str
    upload: PresignedPost
    expires_in: int
    result_url: str
