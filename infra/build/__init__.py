"""Builds what the functions run: their deployment packages (as `sam build` does) and the served models."""
