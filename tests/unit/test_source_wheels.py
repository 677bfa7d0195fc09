"""What PyPI has only as source (pdqhash) is built into wheels in the classify image's own stage, with the compiler
the runtime image lacks, and the local build reads that stage to do the same (infra.dockerfile)."""

from pathlib import Path

import pytest

from infra.dockerfile import DockerfileError, read_dockerfile
from infra.paths import REPO_ROOT

CLASSIFY = REPO_ROOT / "functions" / "classify"


def test_the_classify_image_builds_pdqhash_from_source_and_installs_that_wheel():
    image = read_dockerfile(CLASSIFY / "Dockerfile", REPO_ROOT)
    source = CLASSIFY / "requirements-source.txt"

    assert image.source_builds == (source,)
    assert "pdqhash==0.2.8" in source.read_text().splitlines()
    assert "-r requirements-source.txt" in (CLASSIFY / "requirements.txt").read_text().splitlines()
    dockerfile = (CLASSIFY / "Dockerfile").read_text()
    assert "dnf install -y gcc-c++" in dockerfile  # only in the wheels stage: the runtime has no compiler
    assert dockerfile.count("--find-links /tmp/wheels") == 2  # the model stage and the runtime


def test_a_wheel_build_of_a_file_no_stage_copied_is_refused(tmp_path: Path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM x AS wheels\nRUN pip wheel --no-deps -w /w -r /tmp/missing.txt\nFROM y\n")

    with pytest.raises(DockerfileError, match="pip builds wheels of /tmp/missing.txt"):
        read_dockerfile(dockerfile, tmp_path)
