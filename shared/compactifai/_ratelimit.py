"""A client-side rate limit: requests per second and tokens per minute, for one process.

Give every client of a process the same :class:`RateLimit` and they share its budget; give each
of N workers ``account limit / N`` and together they stay under the account's limit. 429s are
still handled by the pipeline's retries; this only keeps them rare.

Tokens are not known before an answer, so a request reserves an estimate (its prompt's length
in characters / 4, plus ``max_tokens`` when set) and the budget is corrected with the usage the
server reports.

Example:
    >>> from compactifai import CompactifAIClient, RateLimit
    >>> limit = RateLimit(requests_per_second=5, tokens_per_minute=20_000)
    >>> client = CompactifAIClient(api_key="sk-...", rate_limit=limit)  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import ConfigurationError

__all__ = ["RateLimit", "estimate_tokens"]


class RateLimit:
    """Token buckets for requests/s and tokens/min; thread safe, shared by sync and async.

    Example:
        >>> limit = RateLimit(requests_per_second=2)
        >>> [round(limit.reserve(), 2) for _ in range(4)]  # seconds to wait before each request
        [0.0, 0.0, 0.5, 1.0]
    """

    def __init__(
        self,
        requests_per_second: float | None = None,
        tokens_per_minute: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("requests_per_second", requests_per_second),
                            ("tokens_per_minute", tokens_per_minute)):
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise ConfigurationError(f"{name} must be a positive number or None, not {value!r}")
        if requests_per_second is None and tokens_per_minute is None:
            raise ConfigurationError("give requests_per_second, tokens_per_minute, or both")
        self.requests_per_second = requests_per_second
        self.tokens_per_minute = tokens_per_minute
        self._clock = clock
        self._lock = threading.Lock()
        # Buckets start full: one second of requests, one minute of tokens.
        self._requests = float(max(requests_per_second or 0.0, 1.0))
        self._tokens = float(tokens_per_minute or 0.0)
        self._last = clock()

    def __repr__(self) -> str:
        return (f"RateLimit(requests_per_second={self.requests_per_second}, "
                f"tokens_per_minute={self.tokens_per_minute})")

    def __reduce__(self) -> Any:
        # A worker gets a fresh, full budget with the same limits (locks do not pickle).
        return (RateLimit, (self.requests_per_second, self.tokens_per_minute))

    def _refill(self, now: float) -> None:
        elapsed = max(now - self._last, 0.0)
        self._last = now
        if self.requests_per_second:
            cap = max(self.requests_per_second, 1.0)
            self._requests = min(cap, self._requests + elapsed * self.requests_per_second)
        if self.tokens_per_minute:
            cap = self.tokens_per_minute
            self._tokens = min(cap, self._tokens + elapsed * self.tokens_per_minute / 60.0)

    def reserve(self, tokens: int = 0) -> float:
        """Take one request and ``tokens`` from the budget; return how long to wait first."""
        with self._lock:
            self._refill(self._clock())
            wait = 0.0
            if self.requests_per_second:
                self._requests -= 1.0
                if self._requests < 0:
                    wait = -self._requests / self.requests_per_second
            if self.tokens_per_minute:
                self._tokens -= tokens
                if self._tokens < 0:
                    wait = max(wait, -self._tokens * 60.0 / self.tokens_per_minute)
            return wait

    def correct(self, estimated: int, actual: int) -> None:
        """Give back (or take) the difference between a reservation and the real usage."""
        if not self.tokens_per_minute or actual == estimated:
            return
        with self._lock:
            self._tokens = min(self.tokens_per_minute, self._tokens + estimated - actual)


def _text_length(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(p.get("text") or "") for p in content if isinstance(p, Mapping))
    return 0


def estimate_tokens(body: Mapping[str, Any]) -> int:
    """A cheap upper-side guess of a request's tokens (about 4 characters a token)."""
    chars = 0
    messages = body.get("messages")
    if messages:
        for message in messages:
            chars += _text_length(message.get("content")) + 8
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        chars += len(prompt)
    elif isinstance(prompt, list):
        chars += sum(len(p) for p in prompt)
    out = body.get("max_completion_tokens") or body.get("max_tokens") or 0
    n_prompts = len(prompt) if isinstance(prompt, list) else 1
    return chars // 4 + 1 + int(out) * n_prompts
