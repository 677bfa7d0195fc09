"""Where the repository is: the one REPO_ROOT that infra/, bench/, tools/ and the tests build their paths from."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
