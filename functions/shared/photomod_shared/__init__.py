"""Code shared by the photomod functions (deployed as a Lambda layer)."""
