"""The cold start's import breakdown would show OTLP's decoding if `/ingest` ever loaded it."""

from __future__ import annotations

from bench.coldstart import _import_rows, otlp_imports_note

FLOOR = {"boto3": 9_000, "botocore.session": 20_000}
#: More groups than the breakdown shows, each slower than protobuf would be here.
APP = FLOOR | {f"package{n}": 5_000 + n for n in range(20)} | {"chalicelib.ingest": 800}


def rows(app: dict[str, int]) -> list[str]:
    found, _, _ = _import_rows([app], [FLOOR])
    return [row.name for row in found]


def test_a_cold_start_without_protobuf_says_so() -> None:
    assert not any("google" in name or "opentelemetry" in name for name in rows(APP))
    assert "stays off" in otlp_imports_note([APP])


def test_protobuf_or_opentelemetry_imported_get_their_rows_however_small() -> None:
    loaded = APP | {
        "google.protobuf.message": 40,
        "google.protobuf.internal.builder": 30,
        "opentelemetry.proto.logs.v1.logs_pb2": 20,
    }
    names = rows(loaded)
    assert "app adds: google.protobuf" in names
    assert "app adds: opentelemetry" in names
    assert "app adds: everything else" in names  # the twenty packages are still cut short
    note = otlp_imports_note([loaded])
    assert "imports 3 modules" in note
    assert "google.protobuf.message" in note
