"""The documented backup procedure (docs/operations/backup.md) restores every payment.

Payments are written through the real ledger code into a throwaway PostgreSQL database,
dumped with `infra/backup/pg_backup.sh`, restored with `infra/backup/pg_restore.sh` into a
fresh database, and read back through the ledger again.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from serving.ledger import Ledger
from tests.pg import scratch_database
from tests.serving.ledger.conftest import new_payment

BACKUP = Path(__file__).resolve().parents[2] / "infra" / "backup"


async def _write_payments(url: str) -> None:
    ledger = Ledger(url)
    try:
        await ledger.migrate()
        for i in range(20):
            pid = await new_payment(ledger, 1_000 + i, first_gateway="stripe")
            if i % 2:
                await ledger.record(
                    pid,
                    "captured",
                    "stripe ch",
                    gateway="stripe",
                    gateway_ref=f"ch_{i}",
                )
    finally:
        await ledger.close()


async def _payments(url: str) -> dict[str, tuple]:
    ledger = Ledger(url)
    try:
        await (
            ledger.migrate()
        )  # a no-op on a restored database: its schema version came along
        return {
            p["id"]: (p["status"], p["amount_minor"], p["currency"])
            for p in await ledger.every_payment()
        }
    finally:
        await ledger.close()


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def backed_up(prod_server, tmp_path):
    """(source, empty target, dump of the source holding 20 payments)."""
    host, port = prod_server("postgres")
    dump = tmp_path / "ledger.dump"
    with scratch_database(host, port) as source, scratch_database(host, port) as target:
        asyncio.run(_write_payments(source))
        backup = _run(BACKUP / "pg_backup.sh", source, dump)
        assert backup.returncode == 0, backup.stderr
        yield source, target, dump


@pytest.mark.prod
def test_a_dump_restored_into_a_fresh_database_holds_every_payment(backed_up):
    source, target, dump = backed_up
    written = asyncio.run(_payments(source))
    restore = _run(BACKUP / "pg_restore.sh", dump, target)
    assert restore.returncode == 0, restore.stderr
    assert asyncio.run(_payments(target)) == written
    assert len(written) == 20
    assert [s for s, _, _ in written.values()].count("captured") == 10


@pytest.mark.prod
def test_a_truncated_archive_is_refused_before_any_row_is_restored(backed_up):
    source, target, dump = backed_up
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    assert _run(BACKUP / "pg_restore.sh", dump, target).returncode != 0
    import psycopg

    with psycopg.connect(target.replace("+psycopg", "")) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()[0]
    assert tables == 0  # one transaction: nothing half-restored
