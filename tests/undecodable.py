"""FerretDB's PostgreSQL database, reached directly: a row the embedded store cannot decode,
written straight into PostgreSQL, is the proof that a read never decoded a document (a read that
decodes it fails with FerretDB's "schema is not set")."""

from __future__ import annotations

import os


def store_pg():
    """A psycopg2 connection to the PostgreSQL database under the test FerretDB."""
    import psycopg2

    return psycopg2.connect(host="127.0.0.1", port=os.environ["TA_PG_PORT"], user="airflow",
                            password=os.environ["TA_PG_PASSWORD"], dbname="ferretdb")


def insert_undecodable(db, collection: str, body: str) -> None:
    """Insert ``body`` (JSON without FerretDB's ``$s`` schema) into ``collection``'s table of ``db``."""
    conn = store_pg()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT _jsonb->>'table' FROM %s._ferretdb_database_metadata WHERE _jsonb->>'_id' = %%s"
                        % f'"{db.name}"', (collection,))
            table = cur.fetchone()[0]
            cur.execute(f'INSERT INTO "{db.name}"."{table}" (_jsonb) VALUES (%s)', (body,))
    finally:
        conn.close()
