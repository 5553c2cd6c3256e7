"""The CLI's one boundary: expected failures that escape every precise check still become one
``Error:`` line and exit 2; a bug is exit 1 with a trace and where to report it."""
from __future__ import annotations

import errno
import gzip
import zlib

import pytest

from backtests.cli import main as cli
from backtests.core.errors import DataError, describe_failure, reading


def _expected():
    import pyarrow as pa
    import requests

    try:
        gzip.decompress(b"\x1f\x8b\x08\x00" + b"\x00" * 20)
    except (OSError, EOFError, zlib.error) as exc:
        bad_gzip = exc
    try:
        b"\xb6\xb9".decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_utf8 = exc
    return {
        "disk_full": (OSError(errno.ENOSPC, "No space left on device", "out/x.csv"),
                      ["out/x.csv", "No space left on device", "disk full"]),
        "read_only": (OSError(errno.EROFS, "Read-only file system", "store/m.json"),
                      ["store/m.json", "Read-only file system"]),
        "permission": (PermissionError(errno.EACCES, "Permission denied", "p.csv"),
                       ["p.csv", "Permission denied"]),
        "rename_pair": (OSError(errno.EXDEV, "Invalid cross-device link", "a", None, "b"),
                        ["a -> b", "cross-device"]),
        "zlib": (zlib.error("Error -3 while decompressing data: invalid stored block lengths"),
                 ["compressed", "invalid stored block"]),
        "gzip": (bad_gzip, ["compressed"]),
        "utf8": (bad_utf8, ["not UTF-8", "0xb6", "offset 0"]),
        "arrow_utf8": (pa.ArrowInvalid("CSV conversion error to string: invalid UTF8 data"),
                       ["not UTF-8"]),
        "arrow": (pa.ArrowInvalid("Parquet magic bytes not found in footer.\nEither the file "
                                  "is corrupted or this is not a parquet file."),
                  ["ArrowInvalid", "Parquet magic bytes"]),
        "requests": (requests.ConnectionError("Max retries exceeded"),
                     ["network", "ConnectionError"]),
    }


@pytest.mark.parametrize("case", sorted(_expected()))
def test_expected_failure_is_one_error_line_exit_2(monkeypatch, capsys, case):
    exc, needles = _expected()[case]
    from backtests.cli import scan as cmd_scan

    def boom(args):
        raise exc

    monkeypatch.setattr(cmd_scan, "run", boom)
    code = cli.main(["scan", "--date", "2024-12-03"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("Error: hypebt scan: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert describe_failure(exc) is not None


def test_a_bug_is_exit_1_with_a_trace_and_where_to_report(monkeypatch, capsys):
    from backtests.cli import scan as cmd_scan

    def bug(args):
        return {}["missing"]

    monkeypatch.setattr(cmd_scan, "run", bug)
    assert cli.main(["scan", "--date", "2024-12-03"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError" in err
    assert "bug in hypebt" in err and "report it" in err
    assert not any(line.startswith("Error:") for line in err.splitlines())


@pytest.mark.parametrize("exc", [KeyError("x"), ValueError("v"), TypeError("t"),
                                 AssertionError("a"), ZeroDivisionError()])
def test_bugs_are_not_described_as_user_errors(exc):
    assert describe_failure(exc) is None


def test_reading_names_the_file_and_passes_bugs_and_user_errors_through(tmp_path):
    with pytest.raises(DataError, match=r"^names file n\.csv: cannot read it: Permission denied$"):
        with reading("n.csv", "names file"):
            raise PermissionError(errno.EACCES, "Permission denied", "n.csv")
    with pytest.raises(KeyError), reading("n.csv", "names file"):
        raise KeyError("bug")
    with pytest.raises(DataError, match="^precise$"), reading("n.csv", "names file"):
        raise DataError("precise")
