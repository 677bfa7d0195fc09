"""The policy in force: a shop's own document kept in AWS when there is a valid one, else the built-in policy.

Pure Python: the document is read through `read_document` (classify.storage.PolicyParameter reads SSM Parameter
Store with Powertools' Parameters utility) at most once per `refresh_s`, so a new document takes effect within that
time without a redeploy. A document that cannot be read or is invalid never stops classification: the last good policy
stays in force (the built-in one if there was none) and the error is logged.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from classify.labels import ClassIndex
from classify.policy import ModerationPolicy, PolicyError, Verdict, parse_document

logger = logging.getLogger(__name__)


class LivePolicy:
    def __init__(
        self,
        builtin: ModerationPolicy,
        read_document: Callable[[], str | None],
        class_index: ClassIndex,
        refresh_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._builtin = builtin
        self._read = read_document
        self._class_index = class_index
        self._refresh_s = refresh_s
        self._clock = clock
        self._policy = builtin
        self._digest: str | None = None  # of the document in force (None: the built-in policy)
        self._read_at: float | None = None

    def current(self) -> ModerationPolicy:
        """The policy to judge with now (read again once `refresh_s` has passed)."""
        now = self._clock()
        if self._read_at is not None and now - self._read_at < self._refresh_s:
            return self._policy
        self._read_at = now
        try:
            text = self._read()
        except Exception:
            logger.exception("could not read the shop's policy; keeping policy %s", self._policy.version)
            return self._policy
        if text is None:
            if self._digest is not None:
                logger.info("the shop's policy was removed; back to the built-in policy %s", self._builtin.version)
            self._policy, self._digest = self._builtin, None
            return self._policy
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest != self._digest:
            try:
                policy = parse_document(text, self._class_index)
            except PolicyError as error:
                logger.error("the shop's policy is invalid (%s); keeping policy %s", error, self._policy.version)
                return self._policy
            logger.info("policy %s in force (was %s)", policy.version, self._policy.version)
            self._policy, self._digest = policy, digest
        return self._policy

    # The ModerationPolicy interface, judged by the policy in force.
    @property
    def version(self) -> str:
        return self.current().version

    @property
    def k(self) -> int:
        return self.current().k

    def decide(
        self, probabilities: np.ndarray, safety: np.ndarray | None = None, second_opinion: float | None = None
    ) -> Verdict:
        return self.current().decide(probabilities, safety, second_opinion)

    def category_of(self, wnid: str) -> str | None:
        return self.current().category_of(wnid)

    def __getattr__(self, name: str) -> Any:  # anything else ModerationPolicy offers
        return getattr(self.current(), name)
