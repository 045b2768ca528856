"""The catalogue helpers and the package surface."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

import langchain_compactifai
from langchain_compactifai import get_compactifai_model_profile, list_compactifai_models

from .wire import model_list, route

MODELS = model_list(
    **{
        "hypernova-60b": {"supports_function_calling": True},
        "mistral-small-3-1": {"supports_image": True},
    }
)


def client(handler: object) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_list_models() -> None:
    handler = route(models=MODELS)
    models = list_compactifai_models(
        api_key="k", base_url="https://compactifai.test/v1", http_client=client(handler)
    )
    assert [m.id for m in models.data] == ["hypernova-60b", "mistral-small-3-1"]
    assert models.data[1].capabilities.supports_image is True
    assert models.data[1].capabilities.supports_function_calling is None  # not stated: unknown


def test_model_profile() -> None:
    handler = route(models=MODELS)
    profile = get_compactifai_model_profile(
        "hypernova-60b",
        api_key="k",
        base_url="https://compactifai.test/v1",
        http_client=client(handler),
    )
    assert profile.supports_function_calling is True
    assert profile.supports_image is None  # not stated: unknown, the server decides
    assert profile.context_window == 131072
    assert profile.source == "api"


def test_public_names() -> None:
    assert set(langchain_compactifai.__all__) <= set(dir(langchain_compactifai))
    for name in langchain_compactifai.__all__:
        assert getattr(langchain_compactifai, name).__doc__


def test_unknown_attribute() -> None:
    import pytest

    with pytest.raises(AttributeError):
        langchain_compactifai.Nope  # noqa: B018


def test_package_import_is_light() -> None:
    code = (
        "import sys, langchain_compactifai; "
        "print(any(m.startswith('langchain_core.language_models') for m in sys.modules))"
    )
    root = Path(langchain_compactifai.__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "False"
