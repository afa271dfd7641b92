"""What every importer returns or raises."""

from __future__ import annotations

from dataclasses import dataclass


class ImportFileError(ValueError):
    """A file that cannot be imported; the message reads `pos.csv:17: net_amount: 'abc' is not ...`."""


@dataclass(frozen=True)
class ImportResult:
    """What an import did, for the user: re-imports and overlaps are said, not hidden."""

    name: str
    sha256: str
    rows_n: int
    added_n: int
    imported_before_at: str | None = None

    def summary(self) -> str:
        """One line for the CLI."""
        if self.imported_before_at is not None:
            return (
                f"{self.name}: nothing imported: this file was already imported at {self.imported_before_at}"
            )
        if self.added_n == 0 and self.rows_n > 0:
            were = "was" if self.rows_n == 1 else "were"
            return f"{self.name}: nothing imported: its {_rows(self.rows_n)} {were} already in the database"
        if self.added_n < self.rows_n:
            return (
                f"{self.name}: {self.added_n:,} of {_rows(self.rows_n)} imported "
                f"({self.rows_n - self.added_n:,} already in the database)"
            )
        return f"{self.name}: {_rows(self.added_n)} imported"


def _rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"
