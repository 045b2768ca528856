"""Client configuration: the one place that reads arguments and environment variables.

Example:
    >>> from compactifai._config import ClientConfig
    >>> cfg = ClientConfig.resolve(api_key="sk-test", base_url="http://127.0.0.1:8765/v1/")
    >>> cfg.base_url, cfg.max_retries
    ('http://127.0.0.1:8765/v1', 2)
    >>> "sk-test" in repr(cfg)
    False
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, Union

import httpx

from ._errors import ConfigurationError
from ._version import __version__

if TYPE_CHECKING:
    from ._ratelimit import RateLimit
    from .usage_tally import UsageTally

__all__ = [
    "API_KEY_ENV",
    "APP_ID_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "ENVIRONMENT",
    "HTTP_BACKENDS",
    "HTTP_BACKEND_ENV",
    "MODEL_ENV",
    "REGION_BASE_URLS",
    "REGION_ENV",
    "USER_AGENT",
    "ClientConfig",
    "Secret",
    "SecretLike",
    "TimeoutTypes",
    "default_base_url",
    "default_chat_model",
    "from_environment",
    "is_local_base_url",
]

API_KEY_ENV = "COMPACTIFAI_API_KEY"
BASE_URL_ENV = "COMPACTIFAI_BASE_URL"
HTTP_BACKEND_ENV = "COMPACTIFAI_HTTP_BACKEND"
REGION_ENV = "COMPACTIFAI_REGION"
APP_ID_ENV = "COMPACTIFAI_APP_ID"
#: The chat model examples and the integrations use when none is named (``default_chat_model``).
MODEL_ENV = "COMPACTIFAI_MODEL"
#: Regional hosts beside the global one (which routes to the fastest region).
REGION_BASE_URLS = {
    "eu": "https://api-eu.compactif.ai/v1",
    "us": "https://api-us.compactif.ai/v1",
}
#: What sends the async client's requests: httpx's own pool, or aiohttp under httpx's API
#: (``httpx-aiohttp``, the ``aiohttp`` extra). The sync client always uses httpx.
HTTP_BACKENDS = ("httpx", "aiohttp")
DEFAULT_BASE_URL = "https://api.compactif.ai/v1"
DEFAULT_MAX_RETRIES = 2
#: Connect within 10 s; wait at most 120 s for an answer, or for the next chunk of a stream.
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
#: The longest wait between two attempts, even when the server's Retry-After asks for more.
DEFAULT_MAX_RETRY_DELAY = 60.0
USER_AGENT = f"compactifai-python/{__version__}"

TimeoutTypes = Union[float, httpx.Timeout, None]  # noqa: UP007 - used at run time


def to_timeout(value: TimeoutTypes) -> httpx.Timeout:
    """Normalize seconds, an ``httpx.Timeout`` or ``None`` (the default) to ``httpx.Timeout``."""
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, httpx.Timeout):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return httpx.Timeout(float(value), connect=min(float(value), 10.0))
    raise ConfigurationError(
        f"timeout must be a positive number of seconds or an httpx.Timeout, not {value!r}"
    )


class Secret:
    """A string that never shows itself in a repr, a str or a log line.

    Accepts pydantic's ``SecretStr`` too (anything with ``get_secret_value``), without
    importing pydantic here: the transport's import time stays small.

    Example:
        >>> s = Secret("sk-123")
        >>> s, str(s), s.get_secret_value()
        (Secret('**********'), '**********', 'sk-123')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return (Secret, (self._value,))


SecretLike = Union[str, "SupportsSecret", None]


class SupportsSecret(Protocol):
    def get_secret_value(self) -> str: ...


def _secret(value: SecretLike) -> Secret | None:
    if value is None:
        return None
    if not isinstance(value, str):
        if not hasattr(value, "get_secret_value"):
            raise ConfigurationError(
                f"api_key must be a string or a SecretStr, not {type(value).__name__}"
            )
        value = value.get_secret_value()
    value = value.strip()
    return Secret(value) if value else None


#: Each client setting's environment variable. ``from_environment`` is the only place in the
#: package (the transport and both integrations) that reads them.
ENVIRONMENT = {
    "api_key": API_KEY_ENV,
    "base_url": BASE_URL_ENV,
    "region": REGION_ENV,
    "http_backend": HTTP_BACKEND_ENV,
    "app_id": APP_ID_ENV,
    "model": MODEL_ENV,
}


def from_environment(setting: str) -> str | None:
    """The environment's value for a client setting, or None when unset or blank.

    Example:
        >>> import os
        >>> os.environ["COMPACTIFAI_REGION"] = "eu"
        >>> from_environment("region"), from_environment("app_id")
        ('eu', None)
        >>> del os.environ["COMPACTIFAI_REGION"]
    """
    value = os.environ.get(ENVIRONMENT[setting], "").strip()
    return value or None


def default_base_url(region: str | None = None) -> str:
    """The URL a client uses when given none: the region's host, else the environment's
    base URL (or region), else the global host.

    Example:
        >>> default_base_url("us")
        'https://api-us.compactif.ai/v1'
    """
    if region:
        return _regional_url(region, None) or DEFAULT_BASE_URL
    return (
        from_environment("base_url")
        or _regional_url(from_environment("region"), None)
        or DEFAULT_BASE_URL
    )


_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0"})


def is_local_base_url(base_url: str) -> bool:
    """True for a URL on this machine (localhost, 127.x.x.x, ::1): the local server's place.

    Example:
        >>> is_local_base_url("http://127.0.0.1:8765/v1"), is_local_base_url(DEFAULT_BASE_URL)
        (True, False)
    """
    host = httpx.URL(base_url).host if "://" in base_url else ""
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def default_chat_model(base_url: str | None = None) -> str:
    """The chat model to use when none is named, the one place examples read it from.

    ``COMPACTIFAI_MODEL`` when set; else, when the base URL (this argument, else the
    environment's) is on this machine, the local server's chat model
    (``smollm2-135m-instruct``); else a current model of the service (``hypernova-60b``).
    For another server on this machine, set ``COMPACTIFAI_MODEL``.

    Example:
        >>> import os
        >>> os.environ.pop("COMPACTIFAI_MODEL", None) and None
        >>> default_chat_model("https://api.compactif.ai/v1")
        'hypernova-60b'
        >>> default_chat_model("http://127.0.0.1:8765/v1")
        'smollm2-135m-instruct'
        >>> os.environ["COMPACTIFAI_MODEL"] = "glm-5-1"
        >>> default_chat_model("http://127.0.0.1:8765/v1")
        'glm-5-1'
        >>> del os.environ["COMPACTIFAI_MODEL"]
    """
    from ._catalogue import DEFAULT_CHAT_MODEL, LOCAL_CHAT_MODEL

    chosen = from_environment("model")
    if chosen:
        return chosen
    url = base_url or from_environment("base_url")
    return LOCAL_CHAT_MODEL if url and is_local_base_url(url) else DEFAULT_CHAT_MODEL


def _regional_url(region: str | None, base_url: str | None) -> str | None:
    if not region:
        return None
    url = REGION_BASE_URLS.get(region.strip().lower())
    if url is None:
        raise ConfigurationError(
            f"region must be one of {', '.join(REGION_BASE_URLS)} (or unset for the global "
            f"host), not {region!r}"
        )
    if base_url is not None and base_url.rstrip("/") != url:
        raise ConfigurationError(
            f"region={region!r} means base_url {url}, but base_url={base_url!r} was given too: "
            "pass one of them"
        )
    return url


def _http_backend(name: str | None) -> str:
    backend = (name or "httpx").strip().lower()
    if backend not in HTTP_BACKENDS:
        raise ConfigurationError(
            f"http_backend must be one of {', '.join(HTTP_BACKENDS)}, not {name!r} "
            f"(argument http_backend=... or the {HTTP_BACKEND_ENV} environment variable)"
        )
    if backend == "aiohttp":
        import importlib.util

        if importlib.util.find_spec("httpx_aiohttp") is None:
            raise ConfigurationError(
                "http_backend='aiohttp' needs the httpx-aiohttp package: "
                "pip install 'compactifai-integrations[aiohttp]'"
            )
    return backend


@dataclass(frozen=True)
class ClientConfig:
    """Everything a client needs to talk to the API; the key is kept as a ``SecretStr``.

    Example:
        >>> cfg = ClientConfig.resolve(api_key="sk-test", max_retries=5)
        >>> cfg.base_url, cfg.max_retries, cfg.api_key
        ('https://api.compactif.ai/v1', 5, Secret('**********'))
    """

    api_key: Secret = field(repr=False)
    base_url: str
    timeout: httpx.Timeout
    max_retries: int
    max_retry_delay: float
    default_headers: Mapping[str, str]
    rate_limit: RateLimit | None = None
    http_backend: str = "httpx"
    #: Sent as ``x-app-id`` (the service's optional per-application tag), when set.
    app_id: str | None = None
    #: Where every chat/text completion answer's ``usage`` is added (``compactifai.usage_tally``).
    usage_tally: UsageTally | None = field(default=None, compare=False)

    @classmethod
    def resolve(
        cls,
        *,
        api_key: SecretLike = None,
        base_url: str | None = None,
        timeout: TimeoutTypes = None,
        max_retries: int | None = None,
        max_retry_delay: float | None = None,
        default_headers: Mapping[str, str] | None = None,
        rate_limit: RateLimit | None = None,
        http_backend: str | None = None,
        region: str | None = None,
        app_id: str | None = None,
        usage_tally: UsageTally | None = None,
    ) -> ClientConfig:
        """Build a configuration from arguments, falling back to the environment.

        ``region`` ("eu" or "us") picks a regional host; ``base_url`` wins when both are given
        and agree, and a clash is refused.
        """
        key = _secret(api_key) or _secret(from_environment("api_key"))
        if key is None:
            raise ConfigurationError(
                "no CompactifAI API key: pass api_key=... or set the "
                f"{API_KEY_ENV} environment variable (for the local server, use the key "
                "that `compactifai-local` prints at start)"
            )
        # An argument beats the environment; within each, base_url beats region.
        url = (_regional_url(region, base_url) if region else None) or base_url
        url = (url or default_base_url()).strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"base_url must start with http:// or https://, got {url!r}"
            )
        retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"max_retries must be an integer >= 0, not {retries!r}")
        delay = DEFAULT_MAX_RETRY_DELAY if max_retry_delay is None else float(max_retry_delay)
        if rate_limit is not None and not callable(getattr(rate_limit, "reserve", None)):
            raise ConfigurationError(
                f"rate_limit must be a compactifai.RateLimit, not {type(rate_limit).__name__}"
            )
        if usage_tally is not None and not callable(getattr(usage_tally, "record_answer", None)):
            raise ConfigurationError(
                "usage_tally must be a compactifai.usage_tally.UsageTally, not "
                f"{type(usage_tally).__name__}"
            )
        headers = dict(default_headers or {})
        for name in headers:
            if name.lower() == "authorization":
                raise ConfigurationError(
                    "default_headers may not set Authorization: pass the key as api_key"
                )
        return cls(
            api_key=key,
            base_url=url,
            timeout=to_timeout(timeout),
            max_retries=retries,
            max_retry_delay=delay,
            default_headers=headers,
            rate_limit=rate_limit,
            http_backend=_http_backend(http_backend or from_environment("http_backend")),
            app_id=(app_id or from_environment("app_id") or "").strip() or None,
            usage_tally=usage_tally,
        )

    def headers(self) -> dict[str, str]:
        """The headers every request carries (the key included: never log this)."""
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            **self.default_headers,
            "Authorization": f"Bearer {self.api_key.get_secret_value()}",
        }
        if self.app_id:
            headers["x-app-id"] = self.app_id
        return headers
