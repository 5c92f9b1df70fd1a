import type { Client } from 'pg';
import { attachToNewTablesSql } from './attach-to-new-tables';

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

${attachToNewTablesSql({
  trigger: 'pay_version_guard',
  timing: 'BEFORE UPDATE',
  rowFunction: 'public.pay_version_guard',
  attachFunction: 'pay_attach_version_guard',
  eventTrigger: 'pay_guard_new_tables',
  relnameFilter: "relname NOT LIKE '\\_ferretdb\\_%'",
})}
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
