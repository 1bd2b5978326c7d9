"""Page tokens and page sizes shared by every List RPC (AIP-158).

Each list keeps its own token text (tests and clients holding tokens rely on them: catalog
`"{collection}:{offset}"`, profiles a small JSON object, runs `"benchmarkRuns<{sequence}"`), but
all are decoded here, the same defensive way: a length limit before anything else (a 5,000-digit
offset once hit Python's int-digit limit outside the try; nested JSON hit the recursion limit),
URL-safe base64 of ASCII, and numbers bounded before they reach SQLite's 64-bit integers. Every
refusal is INVALID_ARGUMENT naming `page_token`, never a crash.
"""

from __future__ import annotations

import base64
import binascii

from flopwatt.service.errors import InvalidArgument

# Our tokens are ≤ 40 characters; 64 leaves room for new formats and refuses anything built to
# hurt a decoder (huge digit strings, deeply nested JSON) before it is decoded.
MAX_PAGE_TOKEN_CHARS = 64
# An offset or sequence past 10^15 points at no page of any store; below 2^63 it also stays a
# valid SQLite INTEGER (a token decoding to 10^30 raised OverflowError in the query).
MAX_TOKEN_NUMBER = 10**15
DEFAULT_PAGE_SIZE = 50  # benchmark.proto: "0: 50"
MAX_PAGE_SIZE = 1000  # benchmark.proto: "at most 1000"


def refuse_token(problem: str) -> InvalidArgument:
    """The one error every undecodable token gets."""
    return InvalidArgument.field("page_token", problem)


def encode_token_text(text: str) -> str:
    """Opaque form of a token's text (URL-safe base64, unpadded)."""
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")


def decode_token_text(token: str, problem: str) -> str:
    """The ASCII text of a token; `refuse_token(problem)` when it is too long or not ours."""
    if len(token) > MAX_PAGE_TOKEN_CHARS:
        raise refuse_token(problem)
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise refuse_token(problem) from None


def token_number(value: object, problem: str, maximum: int = MAX_TOKEN_NUMBER) -> int:
    """A non-negative whole number from a token's text (ASCII digits) or JSON (an int, not a
    bool), at most `maximum`; `refuse_token(problem)` otherwise."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > len(str(maximum)):
            raise refuse_token(problem)
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise refuse_token(problem)
    return value


def bounded_page_size(requested: int, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    """The page size of a list with a server default (0 → `default`); negative or above
    `maximum` is INVALID_ARGUMENT naming `page_size`."""
    if not 0 <= requested <= maximum:
        raise InvalidArgument.field(
            "page_size", f"must be between 0 (default {default}) and {maximum}, got {requested}"
        )
    return requested or default
