import type { Client } from 'pg';

/**
 * The database-enforced half of the versioned write path on the embedded FerretDB (see
 * libs/db/src/versioned-write.ts). FerretDB v1 stores each collection as a PostgreSQL table with the
 * document in `_jsonb` and writes an update back as `UPDATE … SET _jsonb = $1 WHERE _id = $2` without
 * re-checking the update's filter, so two processes that read the same version could both write. This
 * row trigger refuses, for any document that carries `version`, a write whose new version is not the
 * stored one plus one; the refusal reaches the client as an error naming `pay_version_conflict`, and the
 * writer re-reads and decides again. FerretDB creates tables lazily, so an event trigger attaches the
 * row trigger to every table it creates (its own `_ferretdb_*` metadata tables excepted).
 */
const GUARD_SQL = `
CREATE OR REPLACE FUNCTION public.pay_version_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF (OLD._jsonb ? 'version')
     AND (NOT (NEW._jsonb ? 'version')
          OR (NEW._jsonb->>'version')::numeric <> (OLD._jsonb->>'version')::numeric + 1) THEN
    RAISE EXCEPTION 'pay_version_conflict: stale write refused (stored version %, written %)',
      OLD._jsonb->>'version', coalesce(NEW._jsonb->>'version', 'none') USING ERRCODE = '40001';
  END IF;
  RETURN NEW;
END
$fn$;

CREATE OR REPLACE FUNCTION public.pay_attach_version_guard(target regclass) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = target AND tgname = 'pay_version_guard') THEN
    EXECUTE format('CREATE TRIGGER pay_version_guard BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION public.pay_version_guard()', target);
  END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION public.pay_guard_new_tables() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE created record;
BEGIN
  FOR created IN SELECT objid FROM pg_event_trigger_ddl_commands()
                 WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
    IF (SELECT relname FROM pg_class WHERE oid = created.objid) NOT LIKE '\\_ferretdb\\_%' THEN
      PERFORM public.pay_attach_version_guard(created.objid::regclass);
    END IF;
  END LOOP;
END
$fn$;

DROP EVENT TRIGGER IF EXISTS pay_guard_new_tables;
CREATE EVENT TRIGGER pay_guard_new_tables ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION public.pay_guard_new_tables();

-- Tables FerretDB created before the guard existed (a dev database from an earlier run).
SELECT public.pay_attach_version_guard(c.oid::regclass)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
  AND c.relname NOT LIKE '\\_ferretdb\\_%'
  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = '_jsonb');
`;

/** Installs (idempotently) the version guard into the PostgreSQL database that backs a FerretDB. */
export async function installVersionGuard(client: Client): Promise<void> {
  await client.query(GUARD_SQL);
}

/** Tables of the connected database that carry the guard (for tests and diagnostics). */
export async function guardedTables(client: Client): Promise<string[]> {
  const result = await client.query<{ table: string }>(
    `SELECT tgrelid::regclass::text AS table FROM pg_trigger WHERE tgname = 'pay_version_guard' ORDER BY 1`,
  );
  return result.rows.map((row) => row.table);
}
