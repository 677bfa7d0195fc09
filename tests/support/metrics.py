"""CloudWatch embedded-metric-format (EMF) documents, as a function writes them to its log."""

import json
from typing import Any


def emf_documents(log_text: str) -> list[dict[str, Any]]:
    """The EMF documents among a function's log lines (every other line is left out)."""
    documents = []
    for line in log_text.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            documents.append(document)
    return documents
