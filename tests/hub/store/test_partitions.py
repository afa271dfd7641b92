"""Monthly partitions on PostgreSQL: the right month for every second, made once however many workers
meet a new month together."""

from __future__ import annotations

import threading
from contextlib import closing
from datetime import UTC, datetime

import psycopg

from hub.store.postgres.migrate import apply
from hub.store.postgres.partitions import Partitions, month_start, months, next_month, partition_name


def test_a_month_runs_from_its_first_second_to_the_next_months_first_across_a_year_end() -> None:
    """December's partition ends where January's begins: no second of New Year's Eve is left out."""
    dec = datetime(2026, 12, 1, tzinfo=UTC)
    assert next_month(dec) == datetime(2027, 1, 1, tzinfo=UTC)
    last_second = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp()) - 1
    assert month_start(last_second) == dec
    assert month_start(last_second + 1) == datetime(2027, 1, 1, tzinfo=UTC)
    assert months([last_second, last_second + 1, last_second - 86400 * 40]) == {
        datetime(2026, 11, 1, tzinfo=UTC), dec, datetime(2027, 1, 1, tzinfo=UTC)}
    assert partition_name("visits", dec) == "visits_y2026m12"


def test_two_workers_meeting_a_new_month_make_its_partition_once(pg_url: str) -> None:
    """Workers that both get the first row of a month at the same moment: one makes the partition, the
    other finds it, neither fails."""
    apply(pg_url)
    month = {"visits": {datetime(2027, 3, 1, tzinfo=UTC)}, "doors": {datetime(2027, 3, 1, tzinfo=UTC)}}
    made: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker() -> None:
        try:
            with closing(psycopg.connect(pg_url, autocommit=True)) as conn:
                start.wait()
                made.append(Partitions().ensure(conn, month))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(made) == [0, 0, 0, 2]
    with closing(psycopg.connect(pg_url)) as conn:
        bounds = conn.execute("SELECT pg_get_expr(relpartbound, oid) FROM pg_class"
                              " WHERE relname = 'visits_y2027m03'").fetchall()
    assert bounds == [("FOR VALUES FROM ('1803859200') TO ('1806537600')",)]
