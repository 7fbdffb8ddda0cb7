"""A row the embedded store cannot decode, written straight into PostgreSQL: the proof that a
read never decoded a document (a read that decodes it fails with FerretDB's "schema is not set")."""

from __future__ import annotations

import os


def insert_undecodable(db, collection: str, body: str) -> None:
    """Insert ``body`` (JSON without FerretDB's ``$s`` schema) into ``collection``'s table of ``db``."""
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=os.environ["TA_PG_PORT"], user="airflow",
                            password=os.environ["TA_PG_PASSWORD"], dbname="ferretdb")
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT _jsonb->>'table' FROM %s._ferretdb_database_metadata WHERE _jsonb->>'_id' = %%s"
                        % f'"{db.name}"', (collection,))
            table = cur.fetchone()[0]
            cur.execute(f'INSERT INTO "{db.name}"."{table}" (_jsonb) VALUES (%s)', (body,))
    finally:
        conn.close()
