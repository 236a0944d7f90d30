"""Undoing `Content-Encoding` (gzip, deflate) without ever holding more than the limit allows.

Shippers compress their batches. A compressed body is inflated in bounded steps
(`zlib.decompressobj` with `max_length`), and each step is checked against the decoded-size
limit and the expansion ratio before the next is taken, so a 300 KB body that would inflate to
300 MB is refused after a few megabytes of work, never allocated.
"""

from __future__ import annotations

import zlib
from typing import Final

from chalice.app import BadRequestError

from chalicelib.errors import PayloadTooLargeError, UnsupportedMediaTypeError

#: Decoded body bytes a request may carry, whatever its encoding. Lambda takes at most 6 MB
#: (6,291,456 bytes) in a synchronous invocation, and API Gateway sends a binary body in base64
#: (4 bytes for 3), so an uncompressed body cannot exceed about 4.5 MB on AWS anyway; 5 MiB
#: leaves a compressed batch the same room, and is what Datadog's logs API takes.
MAX_DECODED_BYTES: Final = 5 * 1024 * 1024
#: How many times its compressed size a body may inflate to, once past `RATIO_FREE_BYTES`. Text
#: logs compress 5 to 20 times, repetitive ones rarely more than 100; zlib's own ceiling is
#: about 1,032, the signature of a bomb.
MAX_EXPANSION_RATIO: Final = 200
#: Decoded bytes exempt from the ratio: a small body of repeated lines is no danger.
RATIO_FREE_BYTES: Final = 1024 * 1024
CODINGS: Final = ("gzip", "deflate", "identity")
_STEP: Final = 256 * 1024
_GZIP_MAGIC: Final = b"\x1f\x8b"


def _codings(header: str | None) -> list[str]:
    """The codings of a `Content-Encoding` header, in the order they were applied."""
    if header is None:
        return []
    codings = [part.strip().lower() for part in header.split(",")]
    for coding in codings:
        if coding == "x-gzip":  # RFC 9110: a recipient should treat it as gzip
            continue
        if coding not in CODINGS:
            shown = coding or "an empty coding"
            raise UnsupportedMediaTypeError(
                f"Content-Encoding {shown!r} is not supported: send {', '.join(CODINGS)}"
            )
    return ["gzip" if c == "x-gzip" else c for c in codings if c != "identity"]


def _too_large(decoded: int, compressed: int) -> PayloadTooLargeError | None:
    if decoded > MAX_DECODED_BYTES:
        return PayloadTooLargeError(
            f"the body inflates to more than {MAX_DECODED_BYTES} bytes, the limit on a decoded "
            "request body: send fewer logs a request"
        )
    if decoded > RATIO_FREE_BYTES and decoded > MAX_EXPANSION_RATIO * compressed:
        return PayloadTooLargeError(
            f"the body inflates more than {MAX_EXPANSION_RATIO} times its {compressed} "
            f"compressed bytes (past the first {RATIO_FREE_BYTES} bytes), the limit on the "
            "expansion ratio"
        )
    return None


def _wbits(coding: str, body: bytes) -> int:
    if coding == "gzip":
        return 16 + zlib.MAX_WBITS
    # HTTP's deflate is the zlib format (RFC 9110), but some clients send raw deflate: a zlib
    # stream announces itself with a header whose two bytes are a multiple of 31.
    if len(body) >= 2 and body[0] & 0x0F == 8 and int.from_bytes(body[:2], "big") % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS


def _member(
    coding: str, data: bytes, compressed: int, parts: list[bytes], decoded: int
) -> tuple[bytes, int]:
    """Inflate one gzip member (or the deflate stream) into `parts`, step by checked step.

    Returns the bytes after it and the decoded total so far.
    """
    inflater = zlib.decompressobj(_wbits(coding, data))
    pending = data
    while True:
        try:
            part = inflater.decompress(pending, _STEP)
        except zlib.error as error:
            raise BadRequestError(
                f"the body is not valid {coding} data (Content-Encoding: {coding}): {error}"
            ) from None
        decoded += len(part)
        refused = _too_large(decoded, compressed)
        if refused:
            raise refused
        parts.append(part)
        pending = inflater.unconsumed_tail
        if inflater.eof or not (part or pending):
            break
    if not inflater.eof:
        raise BadRequestError(
            f"the body's {coding} data is truncated (Content-Encoding: {coding}): it ends "
            f"after {decoded} decoded bytes"
        )
    return inflater.unused_data, decoded


def _inflate(coding: str, body: bytes, compressed: int) -> bytes:
    """One coding undone; `compressed`, the body's size as received, sizes the ratio."""
    if not body:
        raise BadRequestError(f"the body is empty, which is no {coding} data")
    if coding == "gzip" and not body.startswith(_GZIP_MAGIC):
        raise BadRequestError("the body is not gzip data (Content-Encoding: gzip): no gzip header")
    parts: list[bytes] = []
    decoded = 0
    pending = body
    while pending:
        pending, decoded = _member(coding, pending, compressed, parts, decoded)
        if pending and coding != "gzip":
            raise BadRequestError(
                f"the body has {len(pending)} bytes after the end of its {coding} data"
            )
        if pending and not pending.startswith(_GZIP_MAGIC):  # gzip members may be concatenated
            raise BadRequestError(
                f"the body has {len(pending)} bytes after the end of its gzip data that are not "
                "another gzip member"
            )
    return b"".join(parts)


def decode_body(content_encoding: str | None, body: bytes) -> bytes:
    """The body with its `Content-Encoding` undone, within `MAX_DECODED_BYTES`.

    Raises `UnsupportedMediaTypeError` (415) naming an unknown coding, `BadRequestError` (400)
    naming what is wrong with the compressed data, `PayloadTooLargeError` (413) naming the limit.
    """
    compressed = len(body)
    for coding in reversed(_codings(content_encoding)):
        body = _inflate(coding, body, compressed)
    if len(body) > MAX_DECODED_BYTES:
        raise PayloadTooLargeError(
            f"the body is {len(body)} bytes, more than {MAX_DECODED_BYTES} bytes, the limit on a "
            "decoded request body: send fewer logs a request"
        )
    return body
