-- Indexes that serve FerretDB 1.24's PostgreSQL backend (TA_FERRETDB_BACKEND=postgresql, the
-- default). scripts/services.sh runs this file in FerretDB's database at every start; it is
-- idempotent.
--
-- FerretDB pushes a scalar equality filter ({"symbol": "600519"}, {"_id": "..."}) down to
-- PostgreSQL as  _jsonb -> 'symbol' @> '"600519"'  and builds the indexes asked for with
-- createIndexes as btree indexes on  (_jsonb -> 'symbol'). A btree cannot serve @>, so every
-- such query is a sequential scan. Here each index FerretDB creates gets a GIN twin on the
-- index's leading field (GIN's default jsonb_ops serves @>), which turns those scans into index
-- scans: at once for new indexes (an event trigger), and for the indexes already there. A twin
-- belongs to the collection's table: dropping the collection or the database drops it too.
--
-- plan_cache_mode: FerretDB sends the field name as a parameter ( _jsonb -> $1 ); only a custom
-- plan, made with the value known, can match the index expression.
--
-- jit off: FerretDB's queries are index lookups whose row estimates are large (GIN's estimate
-- for a jsonb containment is coarse), so PostgreSQL's JIT compiled them, at some 15 ms a query
-- (more for long filters) that the lookup itself does not need.

CREATE OR REPLACE FUNCTION ta_ferretdb_gin_twin(idx oid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  lead text;
  tbl regclass;
BEGIN
  -- only FerretDB's btree indexes on its document column (a twin is GIN: no twin of a twin)
  IF (SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.oid = idx) IS DISTINCT FROM 'btree' THEN
    RETURN;
  END IF;
  lead := pg_get_indexdef(idx, 1, true);
  IF lead IS NULL OR lead !~ '^\(?_jsonb -> ''[^'']+''::text\)?$' THEN
    RETURN;
  END IF;
  SELECT i.indrelid::regclass INTO tbl FROM pg_index i WHERE i.indexrelid = idx;
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((%s))',
                 left((SELECT relname FROM pg_class WHERE oid = tbl), 40) || '_' || left(md5(lead), 10) || '_gin', tbl, lead);
END
$$;

CREATE OR REPLACE FUNCTION ta_ferretdb_gin_twin_trigger() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
  cmd record;
BEGIN
  FOR cmd IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE INDEX' LOOP
    PERFORM ta_ferretdb_gin_twin(cmd.objid);
  END LOOP;
END
$$;

DROP EVENT TRIGGER IF EXISTS ta_ferretdb_gin_twin;
CREATE EVENT TRIGGER ta_ferretdb_gin_twin ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION ta_ferretdb_gin_twin_trigger();

-- the indexes made before this file was installed (a store made by an older version)
SELECT ta_ferretdb_gin_twin(i.indexrelid)
  FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'public');

DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = force_custom_plan', current_database());
  EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
END $$;
