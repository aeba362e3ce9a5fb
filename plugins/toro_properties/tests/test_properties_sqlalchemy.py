"""The README's association example: a user's failed jobs, through ``properties->>'user_id'``.

The mapping below is the README's, verbatim apart from the engine: SQLAlchemy needs no toro
support, only the table and a relationship whose join casts the property.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from properties_workers import ProcessesUser
from sqlalchemy import BigInteger, Integer, create_engine, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    foreign,
    mapped_column,
    relationship,
    with_parent,
)

from toro_core.testing import rows, wait_for


class Base(DeclarativeBase):
    pass


class ToroJob(Base):
    __tablename__ = "toro_jobs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    class_name: Mapped[str]
    status: Mapped[str]
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    jobs: Mapped[list[ToroJob]] = relationship(
        primaryjoin=lambda: User.id == foreign(ToroJob.properties["user_id"].astext.cast(Integer)),
        viewonly=True,
    )


def failed_jobs(session: Session, user_id: int) -> list[ToroJob]:
    user = session.get(User, user_id)
    assert user is not None
    return list(
        session.scalars(
            select(ToroJob)
            .where(with_parent(user, User.jobs), ToroJob.status == "failed")
            .order_by(ToroJob.id)
        )
    )


def test_failed_jobs_of_a_user_through_a_property_used_as_key(toro_app, toro_db, start_worker):
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO users VALUES (1, 'ada'), (2, 'grace')")
    jobs = [
        ProcessesUser.perform_async(1, True),
        ProcessesUser.perform_async(1, False),
        ProcessesUser.perform_async(2, True),
        ProcessesUser.perform_async(1, True),
    ]
    ids = [job.id for job in jobs]
    start_worker("-r", "properties_workers", "-c", "4", plugins=["properties"])
    final = "SELECT count(*) FROM toro_jobs WHERE id = ANY(%s) AND status IN ('complete', 'failed')"
    wait_for(lambda: rows(toro_db, final, (ids,)) == [(len(ids),)], timeout=20)

    # plain SQL with psycopg: join the application's table through the property
    found = rows(
        toro_db,
        """
        SELECT j.id FROM users AS u
          JOIN toro_jobs AS j ON (j.properties->>'user_id')::int = u.id
         WHERE u.id = %s AND j.status = 'failed'
         ORDER BY j.id
        """,
        (1,),
    )
    assert [r[0] for r in found] == [ids[0], ids[3]]

    # SQLAlchemy: the relationship, in a query and as a lazy-loaded collection
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(toro_db))
    try:
        with Session(engine) as session:
            assert [job.id for job in failed_jobs(session, 1)] == [ids[0], ids[3]]
            assert [job.id for job in failed_jobs(session, 2)] == [ids[2]]
            ada = session.get(User, 1)
            assert ada is not None
            assert sorted(job.id for job in ada.jobs) == [ids[0], ids[1], ids[3]]
            assert all(job.properties["user_id"] == 1 for job in ada.jobs)
    finally:
        engine.dispose()


def test_the_readme_shows_this_mapping():
    readme = Path(__file__).parents[1] / "README.md"  # toro-properties' README
    text = readme.read_text(encoding="utf-8")
    block = text[text.index("class Base(DeclarativeBase):") : text.index("with Session(engine)")]
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [line for line in block.splitlines() if line.strip() and line not in source]
    assert not missing, missing
