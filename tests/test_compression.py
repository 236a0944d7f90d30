"""Content-Encoding: round trips, and bombs refused after a bounded amount of work and memory."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Callable

import pytest
from chalice.app import BadRequestError
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.compression import (
    MAX_DECODED_BYTES,
    MAX_EXPANSION_RATIO,
    RATIO_FREE_BYTES,
    decode_body,
)
from chalicelib.errors import PayloadTooLargeError, UnsupportedMediaTypeError


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,  # HTTP's deflate: the zlib format
    "Deflate": raw_deflate,  # and the raw form some clients send
}


@given(data=st.binary(max_size=5000), coding=st.sampled_from(sorted(ENCODERS)))
def test_every_coding_round_trips(data: bytes, coding: str) -> None:
    assert decode_body(coding, ENCODERS[coding](data)) == data


@given(data=st.binary(max_size=2000))
def test_identity_and_no_header_leave_the_body_alone(data: bytes) -> None:
    assert decode_body(None, data) == decode_body("identity", data) == data


@given(parts=st.lists(st.binary(max_size=500), min_size=2, max_size=4))
def test_concatenated_gzip_members_are_one_body(parts: list[bytes]) -> None:
    assert decode_body("gzip", b"".join(map(gzip.compress, parts))) == b"".join(parts)


def test_stacked_codings_are_undone_last_first() -> None:
    data = b'{"tenant_id": "acme", "text": "hi"}'
    assert decode_body("deflate, gzip", gzip.compress(zlib.compress(data))) == data


def bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, wbits=16 + zlib.MAX_WBITS)
    chunk = bytes(1024 * 1024)
    body = b"".join(compressor.compress(chunk) for _ in range(size // len(chunk)))
    return body + compressor.flush()


def test_a_300_mb_bomb_is_a_413_without_holding_300_mb() -> None:
    body = bomb(300 * 1024 * 1024)
    assert len(body) < 400 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLargeError, match="limit on a decoded request body"):
            decode_body("gzip", body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * MAX_DECODED_BYTES


def test_the_ratio_limit_refuses_a_small_body_inflating_past_a_megabyte() -> None:
    body = gzip.compress(bytes(2 * RATIO_FREE_BYTES))
    assert MAX_EXPANSION_RATIO * len(body) < 2 * RATIO_FREE_BYTES
    with pytest.raises(PayloadTooLargeError, match="limit on the expansion ratio"):
        decode_body("gzip", body)


def test_a_small_repetitive_batch_is_not_judged_by_its_ratio() -> None:
    data = b'{"tenant_id": "acme", "text": "same line"}\n' * 20_000
    body = gzip.compress(data)
    assert len(data) < RATIO_FREE_BYTES
    assert len(data) > MAX_EXPANSION_RATIO * len(body)
    assert decode_body("gzip", body) == data


def test_an_uncompressed_body_over_the_limit_is_a_413() -> None:
    with pytest.raises(PayloadTooLargeError, match=str(MAX_DECODED_BYTES)):
        decode_body(None, bytes(MAX_DECODED_BYTES + 1))


@pytest.mark.parametrize(
    ("coding", "body", "says"),
    [
        ("gzip", gzip.compress(b"hello world")[:-6], "truncated"),
        ("gzip", b"hello world", "not gzip data"),
        ("gzip", b"", "empty"),
        ("gzip", gzip.compress(b"a") + b"junk", "not another gzip member"),
        ("gzip", b"\x1f\x8b" + bytes(20), "not valid gzip data"),
        ("deflate", zlib.compress(b"hello")[:-3], "truncated"),
        ("deflate", zlib.compress(b"hello") + b"more", "after the end of its deflate data"),
    ],
)
def test_broken_compressed_data_is_a_400_naming_the_problem(
    coding: str, body: bytes, says: str
) -> None:
    with pytest.raises(BadRequestError, match=says):
        decode_body(coding, body)


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip, br", ""])
def test_other_codings_are_a_415_naming_them(coding: str) -> None:
    with pytest.raises(UnsupportedMediaTypeError, match="is not supported"):
        decode_body(coding, b"x")
