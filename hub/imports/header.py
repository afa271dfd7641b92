"""Finding an import's columns in a CSV header: a name mapped in hub.yaml, else one of the usual names.

Header names are compared after folding case and turning spaces, dashes and dots into `_`, so
`Receipt No.`, `receipt-no` and `RECEIPT_NO` are the same column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from hub.imports.base import ImportFileError

_FOLD = re.compile(r"[\s\-.]+")


def fold(name: str) -> str:
    return _FOLD.sub("_", name.strip().lower()).strip("_")


def find_columns(
    name: str,
    header: list[str],
    usual: Mapping[str, tuple[str, ...]],
    *,
    required: tuple[str, ...],
    mapped: Mapping[str, str] | None = None,
    config_key: str = "",
) -> dict[str, int]:
    """Field -> index in `header` for every field of `usual` that is present.

    ImportFileError (line 1) when a required field has no column, or a mapped name is not in the header.
    """
    folded = [fold(h) for h in header]
    mapped = mapped or {}
    found: dict[str, int] = {}
    for fld, names in usual.items():
        if fld in mapped:
            target = fold(mapped[fld])
            if target not in folded:
                raise ImportFileError(
                    f"{name}:1: {config_key}.{fld} names the column {mapped[fld]!r}, which is not in the"
                    f" header ({','.join(header)})"
                )
            found[fld] = folded.index(target)
            continue
        for candidate in names:
            if candidate in folded:
                found[fld] = folded.index(candidate)
                break
    for fld in required:
        if fld not in found:
            looked = ", ".join(usual[fld][:4])
            where = f"; or name it in hub.yaml {config_key}.{fld}" if config_key else ""
            raise ImportFileError(
                f"{name}:1: no {fld} column (looked for {looked}{where}; found {','.join(header)})"
            )
    unknown = sorted(set(mapped) - set(usual))
    if unknown:
        raise ImportFileError(
            f"{name}:1: {config_key}.{unknown[0]} is not a field (fields: {', '.join(usual)})"
        )
    return found


def decode(name: str, data: bytes) -> str:
    """The file's text (UTF-8, a BOM allowed); ImportFileError naming the first bad byte, and the
    encoding by name when the file is GBK (Chinese Windows)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        where = f"{name}: not UTF-8 text (byte {exc.start})"
    try:  # Excel on a Chinese Windows saves CSV as GBK: say so, never guess it into the database
        gbk = data.decode("gb18030")  # GBK's superset: a ¥ is not in GBK itself
    except UnicodeDecodeError:
        gbk = ""
    if any("\u4e00" <= c <= "\u9fff" for c in gbk):
        where += (f"; it reads as GBK (Chinese Windows), which is not imported: save it as UTF-8"
                  f" (iconv -f GB18030 -t UTF-8 {name} > utf8-{name})")
    raise ImportFileError(where)


def delimiter(first_line: str) -> str:
    """';' when the header has more semicolons than commas (European spreadsheet exports), else ','."""
    return ";" if first_line.count(";") > first_line.count(",") else ","
