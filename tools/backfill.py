"""Rendition backfill: rows judged before renditions existed get a rendition, and the verdict to go with it.

    make backfill-renditions [STACK=name]                  # the stack of `make up`, or a deployed one
    .venv/bin/python -m tools backfill-renditions [--stack NAME] [--dry-run] [--state FILE]

A `done` row needs one when its judged version has no `renditions/<image_id>/<version>.jpg`: nothing of it is served
then (the gate and the CDN serve renditions only), and its verdict was made on pixels no longer served (an
animation's first frame, a resize an attacker could steer). For each such row:

- **no moderator's decision**: it is judged again by the classifier, the way every photo is. The tool copies the
  judged version onto its key (the same bytes and metadata: a new object version), S3 notifies the classifier, and
  the classifier makes the rendition, judges it and publishes it only if it is allowed. Until then the old verdict
  stays on view with nothing to serve;
- **a moderator's decision**: a person judged that photo and their decision stays (re-judging could replace a
  moderator's block with the model's verdict). The tool makes the rendition of the judged version here, with the
  classifier's own code (classify.rendition), and publishes it if the decision is `allow`.

Idempotent: a row whose version has its rendition is skipped (a re-judged row names its new version, which has one).
Resumable: after each page of the table's scan the position and the counts are saved in the state file
(`.run/backfill-renditions.json` by default), and a later run goes on from there; `--restart` starts over. A Scan
reads the whole table once: run it once after upgrading, at a quiet hour (its reads are charged like any other).
Let the classifier finish before a run from the start, or a row still being re-judged is copied once more (harmless:
the newest version wins).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infra.paths import REPO_ROOT

# The rendition is made with the classifier's own code: the same decode, the same rules.
sys.path[:0] = [str(REPO_ROOT / "functions" / "classify"), str(REPO_ROOT / "functions" / "shared")]

from classify.rendition import make_rendition  # noqa: E402
from photomod_shared import ids  # noqa: E402
from photomod_shared.prediction import STATUS_DONE, VERDICT_ALLOW  # noqa: E402
from photomod_shared.publication import PublishedRenditions  # noqa: E402
from tools.policy import Refused, stack_outputs  # noqa: E402

PAGE_SIZE = 100


@dataclass
class Progress:
    checked: int = 0
    rejudged: int = 0  # sent to the classifier again
    rendered: int = 0  # a moderator's decision: rendition made here
    skipped: int = 0  # already has its rendition, or not done
    errors: int = 0
    start_key: dict[str, Any] | None = None  # where the scan goes on
    finished: bool = False

    def line(self) -> str:
        return (
            f"checked {self.checked}: re-judged {self.rejudged}, rendered {self.rendered}, "
            f"skipped {self.skipped}, errors {self.errors}"
        )


def backfill(
    table: Any,
    s3: Any,
    bucket: str,
    progress: Progress,
    *,
    save: Callable[[Progress], None],
    publisher: PublishedRenditions,
    dry_run: bool = False,
    page_size: int = PAGE_SIZE,
    max_pages: int | None = None,
    say: Callable[[str], None] = print,
) -> Progress:
    """Scans the table from `progress.start_key`, page by page, saving progress after each."""
    pages = 0
    while not progress.finished and (max_pages is None or pages < max_pages):
        request: dict[str, Any] = {"Limit": page_size}
        if progress.start_key:
            request["ExclusiveStartKey"] = progress.start_key
        page = table.scan(**request)
        for row in page.get("Items", []):
            progress.checked += 1
            try:
                done = _backfill_row(row, s3, bucket, publisher, dry_run)
            except Exception as error:  # one row never stops the run; the next run tries it again
                progress.errors += 1
                say(f"  {row.get('image_id')}: {error!r}")
                continue
            if done == "rejudged":
                progress.rejudged += 1
            elif done == "rendered":
                progress.rendered += 1
            else:
                progress.skipped += 1
        progress.start_key = page.get("LastEvaluatedKey")
        progress.finished = progress.start_key is None
        pages += 1
        if not dry_run:
            save(progress)
        say(progress.line())
    return progress


def _backfill_row(row: dict[str, Any], s3: Any, bucket: str, publisher: PublishedRenditions, dry_run: bool) -> str:
    if row.get("status") != STATUS_DONE or not row.get("s3_key"):
        return "skipped"  # pending, failed, or not a photo's row (the reconciler's state item)
    image_id, key, version = str(row["image_id"]), str(row["s3_key"]), row.get("object_version")
    if _exists(s3, bucket, ids.rendition_key(image_id, version)):
        return "skipped"
    source: dict[str, Any] = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
    if row.get("moderation"):
        if not dry_run:
            original = s3.get_object(**source)["Body"].read()
            rendition = make_rendition(original, lambda image: None)
            s3.put_object(
                Bucket=bucket, Key=ids.rendition_key(image_id, version), Body=rendition.data, ContentType="image/jpeg"
            )
            if row.get("verdict") == VERDICT_ALLOW:
                publisher.publish(image_id, version)
        return "rendered"
    if not dry_run:
        head = s3.head_object(**source)
        # A copy onto its own key is a new version (and an S3 notification) only with its metadata restated.
        s3.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource=source,
            MetadataDirective="REPLACE",
            Metadata=head.get("Metadata", {}),
            ContentType=head.get("ContentType", "application/octet-stream"),
        )
    return "rejudged"


def _exists(s3: Any, bucket: str, key: str) -> bool:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return any(item["Key"] == key for item in listed.get("Contents", []))


def load_progress(path: Path) -> Progress:
    if not path.is_file():
        return Progress()
    return Progress(**json.loads(path.read_text()))


def save_progress(path: Path) -> Callable[[Progress], None]:
    def save(progress: Progress) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(progress), default=str))
        temporary.replace(path)  # a run stopped mid-write keeps the previous page's position

    return save


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools backfill-renditions", description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", type=Path, default=REPO_ROOT / ".run", help="the local stack's run folder")
    parser.add_argument("--stack", help="a deployed CloudFormation stack instead of the local one")
    parser.add_argument(
        "--state", type=Path, help="where progress is kept (default: <run-dir>/backfill-renditions.json)"
    )
    parser.add_argument("--restart", action="store_true", help="start the scan over, forgetting saved progress")
    parser.add_argument("--dry-run", action="store_true", help="count what would be done; change nothing")
    options = parser.parse_args(argv)
    state = options.state or options.run_dir / "backfill-renditions.json"
    try:
        outputs, session = stack_outputs(options.run_dir, options.stack)
    except Refused as refusal:
        print(refusal, file=sys.stderr)
        return 2
    endpoint = outputs.get("AwsEndpointUrl")
    s3 = session.client("s3", endpoint_url=endpoint)
    table = session.resource("dynamodb", endpoint_url=endpoint).Table(outputs["PredictionsTableName"])
    bucket = outputs["ImagesBucketName"]
    progress = Progress() if options.restart else load_progress(state)
    if progress.finished:
        print(f"{state} says the backfill finished ({progress.line()}); --restart to scan again")
        return 0
    if progress.start_key:
        print(f"resuming from {state} ({progress.line()})")
    # No CDN invalidation: publishing a photo never shown before leaves nothing cached to drop.
    publisher = PublishedRenditions(s3, bucket)
    backfill(table, s3, bucket, progress, save=save_progress(state), publisher=publisher, dry_run=options.dry_run)
    print(("would do: " if options.dry_run else "done: ") + progress.line())
    return 1 if progress.errors else 0
