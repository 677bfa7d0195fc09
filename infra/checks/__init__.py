"""Checks of what a local run recorded against the template (the functions' AWS calls against their policies)."""
