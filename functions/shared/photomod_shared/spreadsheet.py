"""Text a spreadsheet will open, kept as text: OWASP's CSV injection defence, for every CSV the project writes
(the feedback export, ingest's report)."""

# A spreadsheet evaluates a cell that starts with one of these as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """Prefixes a cell a spreadsheet would run as a formula with `'`, which makes it plain text."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
