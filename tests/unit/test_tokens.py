"""Offline token estimates (compactifai._tokens): what they count, and that they stay offline."""

from __future__ import annotations

import pytest

from compactifai._tokens import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    REPLY_OVERHEAD,
    approximate_token_ids,
    estimate_chat_tokens,
    estimate_text_tokens,
    text_pieces,
)


@pytest.mark.parametrize(
    "text",
    ["", "Hello world", "  indented\n\tcode_here();", "Málaga, ¿dónde?", "12345 + 0.5", "日本語"],
)
def test_pieces_keep_every_character(text: str) -> None:
    assert "".join(text_pieces(text)) == text


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("Hello", 1),
        (" world", 1),
        ("internationalization", 4),  # 20 letters: one token per 5 after the first 5
        ("2026", 2),  # two digits a token
        ("!!!!", 2),  # two punctuation characters a token
        ("   \n", 1),  # a whitespace run
        ("日本語", 3),  # a non-ASCII letter is a token
        ("It's", 2),
    ],
)
def test_piece_prices(text: str, tokens: int) -> None:
    assert estimate_text_tokens(text) == tokens


def test_ids_stand_for_the_estimated_tokens_and_are_stable() -> None:
    text = "Tensor networks compress internationalization 2026 models!"
    ids = approximate_token_ids(text)
    assert len(ids) == estimate_text_tokens(text)
    assert ids == approximate_token_ids(text)
    assert all(0 <= i < 2**31 for i in ids)
    assert approximate_token_ids("Hello") != approximate_token_ids("Bye")


def test_chat_estimate_adds_template_images_tool_calls_and_tools() -> None:
    user = {"role": "user", "content": "Hello world"}
    assert estimate_chat_tokens([user]) == REPLY_OVERHEAD + MESSAGE_OVERHEAD + 2
    image = {
        "role": "user",
        "content": [
            {"type": "text", "text": "Hello world"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 10_000}},
        ],
    }
    assert estimate_chat_tokens([image]) == estimate_chat_tokens([user]) + IMAGE_TOKENS
    call = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
        ],
    }
    assert estimate_chat_tokens([call]) > REPLY_OVERHEAD + MESSAGE_OVERHEAD + 1
    tool = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
    assert estimate_chat_tokens([user], [tool]) > estimate_chat_tokens([user]) + 5
    assert estimate_chat_tokens([user], count=len) == REPLY_OVERHEAD + MESSAGE_OVERHEAD + 11


def test_the_estimate_imports_only_the_standard_library() -> None:
    import ast
    from pathlib import Path

    import compactifai._tokens as module

    assert module.__file__ is not None
    imported: set[str] = set()
    for node in ast.walk(ast.parse(Path(module.__file__).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").partition(".")[0])
    assert imported <= {"__future__", "hashlib", "json", "re", "collections", "typing"}
