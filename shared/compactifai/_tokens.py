"""Offline token estimates: no tokenizer is downloaded, no model file read.

CompactifAI serves several model families (Llama 3, Mistral, SmolLM2 ...), each with its own
tokenizer, none of which ships with this package; the exact count of a request is the ``usage``
the server reports. Until then both integrations answer "how many tokens?" (LangChain's
``get_num_tokens``, LlamaIndex's ``tokenizer``) with the estimate here instead of their
frameworks' defaults, which fetch a GPT-2 tokenizer from a hub or a tiktoken file from a CDN.

The estimate splits text the way byte-pair tokenizers pre-split it (words with their leading
space, digit runs, punctuation runs, whitespace runs) and prices each piece:

- a word of up to :data:`WORD_CHARS` ASCII letters is one token, longer ones one more per
  :data:`WORD_CHARS` further letters; each non-ASCII letter is one token on its own
  (:data:`NON_ASCII_PER_TOKEN`), since BPE vocabularies hold few of them merged;
- digits are grouped by :data:`DIGITS_PER_TOKEN` (between Llama 3's threes and the single
  digits of SmolLM2 and Mistral);
- punctuation by :data:`PUNCT_PER_TOKEN` characters; a whitespace run is one token.

Measured against two real byte-pair tokenizers (SmolLM2's, which the local server runs, and
Whisper's GPT-2 one), estimate / real count on 3-20 kB samples:

=====================  =======  =======  =================
sample                 SmolLM2  Whisper  chars/4 vs SmolLM2
=====================  =======  =======  =================
README (markdown)      1.01     0.90     0.76
Python source          1.12     0.68     0.94
JSON (OpenAPI)         1.26     0.85     0.87
English prose          1.10     0.93     0.78
French / Spanish       0.89     1.1      0.77 / 0.70
German                 0.69     0.90     0.73
numbers                0.49     1.01     0.25
=====================  =======  =======  =================

So: close on English, prose and code, somewhat high on JSON, low on long compound words and on
digits for tokenizers that split every digit (GPT-2 does not merge indentation, hence 0.68).
Treat it as an estimate within about a third; read ``usage`` for exact counts.

Example:
    >>> from compactifai._tokens import estimate_text_tokens, estimate_chat_tokens
    >>> estimate_text_tokens("Hello world, this is a test.")
    8
    >>> estimate_chat_tokens([{"role": "user", "content": "Hello world"}])
    9
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "IMAGE_TOKENS",
    "MESSAGE_OVERHEAD",
    "REPLY_OVERHEAD",
    "approximate_token_ids",
    "estimate_chat_tokens",
    "estimate_text_tokens",
    "text_pieces",
]

#: ASCII letters one word token covers (common English words are single tokens; longer words
#: one more token per this many letters).
WORD_CHARS = 5
#: Non-ASCII letters per token (accents, Cyrillic, CJK: mostly one token each, or split bytes).
NON_ASCII_PER_TOKEN = 1
#: Digits per token (Llama 3 groups digits in threes, SmolLM2 and Mistral split each one).
DIGITS_PER_TOKEN = 2
#: Punctuation characters per token.
PUNCT_PER_TOKEN = 2
#: Tokens a chat template adds around each message (role header, separators, end of turn).
MESSAGE_OVERHEAD = 4
#: Tokens that open the model's reply (the assistant header) and begin the sequence.
REPLY_OVERHEAD = 3
#: What one image part is counted as: images are priced by each model's own vision encoder,
#: unknown here; this is LangChain's low-resolution figure (``count_tokens_approximately``).
IMAGE_TOKENS = 85

# Pieces as byte-pair tokenizers pre-split text (GPT-2's pattern, in Python's ``re``):
# contractions, a word, a number or a punctuation run with its leading space, whitespace
# (a run before a word leaves its last space to the word).
_PIECES = re.compile(
    r"'(?:[sdmt]|ll|ve|re)\b| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+",
    re.IGNORECASE,
)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _piece_tokens(piece: str) -> int:
    """The estimated token count of one pre-split piece."""
    body = piece[1:] if len(piece) > 1 and piece[0] == " " else piece
    head = body[0]
    if head.isdigit():
        return _ceil_div(len(body), DIGITS_PER_TOKEN)
    if head.isspace():
        return 1
    if head.isalpha():
        if body.isascii():
            return 1 + _ceil_div(max(0, len(body) - WORD_CHARS), WORD_CHARS)
        narrow = sum(1 for c in body if c.isascii())
        wide = len(body) - narrow
        return _ceil_div(narrow, WORD_CHARS) + _ceil_div(wide, NON_ASCII_PER_TOKEN)
    return _ceil_div(len(body), PUNCT_PER_TOKEN)


def text_pieces(text: str) -> list[str]:
    """``text`` split as a byte-pair tokenizer pre-splits it (every character kept).

    Example:
        >>> text_pieces("It's 2026,  isn't it?")
        ['It', "'s", ' 2026', ',', ' ', ' isn', "'t", ' it', '?']
    """
    return _PIECES.findall(text)


def estimate_text_tokens(text: str) -> int:
    """An offline estimate of the tokens of ``text`` (0 for "").

    Example:
        >>> estimate_text_tokens(""), estimate_text_tokens("internationalization")
        (0, 4)
    """
    if not text:
        return 0
    return sum(_piece_tokens(piece) for piece in text_pieces(text))


def approximate_token_ids(text: str) -> list[int]:
    """Stand-in token ids, one per estimated token (``len(...)`` is
    :func:`estimate_text_tokens`).

    They are NOT the model's vocabulary ids and cannot be decoded: each is a stable hash of
    the piece it stands for (the same text gives the same ids in every process), good for
    counting, for splitting text at token boundaries, and for comparing. For real ids, tokenize
    with the model's own tokenizer (LangChain: ``custom_get_token_ids=...``).

    Example:
        >>> ids = approximate_token_ids("Hello world")
        >>> len(ids), ids == approximate_token_ids("Hello world")
        (2, True)
    """
    ids: list[int] = []
    for piece in text_pieces(text):
        count = _piece_tokens(piece)
        size = _ceil_div(len(piece), count)
        for start in range(0, size * count, size):
            digest = hashlib.blake2b(piece[start : start + size].encode(), digest_size=4)
            ids.append(int.from_bytes(digest.digest(), "big") & 0x7FFFFFFF)
    return ids


_Count = Callable[[str], int]


def _content_tokens(content: Any, count: _Count) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return count(content)
    if isinstance(content, Mapping):
        return _part_tokens(content, count)
    if isinstance(content, Iterable):
        return sum(_content_tokens(part, count) for part in content)
    return count(str(content))


def _part_tokens(part: Mapping[str, Any], count: _Count) -> int:
    kind = part.get("type")
    if kind == "text" or (kind is None and "text" in part):
        return count(str(part.get("text") or ""))
    if kind in ("image_url", "image"):
        return IMAGE_TOKENS
    # Audio and files are priced by the model's own encoders, unknown here: their JSON text
    # (base64 included) is an upper bound no real count exceeds.
    return count(json.dumps(part, ensure_ascii=False, default=str))


def estimate_chat_tokens(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    count: Callable[[str], int] = estimate_text_tokens,
) -> int:
    """An offline estimate of the prompt tokens of a chat request (wire messages and tools).

    Each message costs its content, its name, its tool calls' names and arguments, and
    :data:`MESSAGE_OVERHEAD` for the chat template; the reply adds :data:`REPLY_OVERHEAD`;
    tool definitions are counted as their JSON text (templates render them so, roughly).
    ``count`` counts a text's tokens (a real tokenizer's, when the caller has one).

    Example:
        >>> estimate_chat_tokens([{"role": "system", "content": "Be brief."},
        ...                       {"role": "user", "content": "Hi"}])
        15
    """
    total = REPLY_OVERHEAD
    for message in messages:
        total += MESSAGE_OVERHEAD + _content_tokens(message.get("content"), count)
        if message.get("name"):
            total += count(str(message["name"]))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            total += count(str(function.get("name") or ""))
            total += count(str(function.get("arguments") or ""))
    if tools:
        total += count(json.dumps(list(tools), ensure_ascii=False, default=str))
    return total
