"""Engines and sessions. SQLite: WAL, one in-process writer, BEGIN IMMEDIATE; PostgreSQL: one pool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

from dvclab.catalog import PUBLIC_COLUMNS, load_catalog
from dvclab.portal.models import Base, Procedure
from dvclab.portal.settings import Settings, sqlite_path


def _sqlite_engine(settings: Settings, *, immediate: bool, pool_size: int) -> Engine:
    path = sqlite_path(settings.db_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        settings.db_url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout_s,
        connect_args={"check_same_thread": False, "timeout": settings.db_pool_timeout_s},
    )
    synchronous = settings.sqlite_synchronous.upper()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling defers it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.db_pool_timeout_s * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes the write lock up front: a deferred transaction that later upgrades can fail
        # with SQLITE_BUSY without waiting, which would surface as an error under load.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class SchemaMismatch(RuntimeError):
    """The database holds tables from an older version of the models."""


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if settings.is_sqlite:
            # One writer connection per process: writes queue in the pool (bounded by pool_timeout → 503)
            # instead of spinning in SQLite's busy handler; other processes wait on busy_timeout.
            self.write_engine = _sqlite_engine(settings, immediate=True, pool_size=1)
            self.read_engine = _sqlite_engine(settings, immediate=False, pool_size=8)
        else:
            url = settings.db_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            self.write_engine = create_engine(
                url,
                pool_size=10,
                max_overflow=10,
                pool_timeout=settings.db_pool_timeout_s,
                pool_pre_ping=False,
                connect_args={
                    "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
                    "connect_timeout": 5,
                },
            )
            self.read_engine = self.write_engine
        # SQLite in WAL mode: a read never waits for a writer and takes a fraction of a millisecond, less
        # than handing it to a thread and back; small indexed reads run inline on the event loop.
        self.inline_reads = settings.is_sqlite
        self._writer = sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction that may write; committed on success, rolled back on any exception."""
        with self._writer.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader.begin() as session:
            yield session

    @contextmanager
    def read_conn(self) -> Iterator[Connection]:
        """A Core connection for hot read paths (no ORM unit of work)."""
        with self.read_engine.connect() as conn:
            yield conn

    @contextmanager
    def write_conn(self) -> Iterator[Connection]:
        """A Core transaction for hot write paths; committed on success."""
        with self.write_engine.begin() as conn:
            yield conn

    def create_schema(self) -> None:
        """Create missing tables; refuse a database whose tables predate the current models (there are
        no migrations: the portal's database is a test fixture, start from a fresh one)."""
        Base.metadata.create_all(self.write_engine)
        inspector = inspect(self.write_engine)
        for table in Base.metadata.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            missing = sorted(c.name for c in table.columns if c.name not in present)
            if missing:
                raise SchemaMismatch(
                    f"table {table.name} lacks columns {', '.join(missing)}: this database was made by an "
                    "older portal; point --db at a fresh file or database"
                )

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


# The catalog columns the portal stores and serves (one list for loading and for the search index).
PROCEDURE_FIELDS = PUBLIC_COLUMNS


def load_procedures(db: Database, catalog_path: str) -> int:
    """Insert or refresh the procedure catalog; returns the number of procedures."""
    procedures = load_catalog(catalog_path)
    rows = [
        {**{field: getattr(p, field) for field in PROCEDURE_FIELDS}, "position": i}
        for i, p in enumerate(procedures)
    ]
    with db.write() as session:
        existing = set(session.scalars(select(Procedure.code)))
        new = [r for r in rows if r["code"] not in existing]
        old = [r for r in rows if r["code"] in existing]
        if new:
            session.execute(insert(Procedure), new)
        if old:
            session.execute(update(Procedure), old)
        return session.scalar(select(func.count()).select_from(Procedure)) or 0
