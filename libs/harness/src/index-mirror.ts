import type { Client } from 'pg';
import { attachToNewTablesSql } from './attach-to-new-tables';

/**
 * Makes the embedded FerretDB (PostgreSQL backend) answer equality queries from indexes.
 *
 * FerretDB v1.24.2 stores a collection as a table with the document in `_jsonb` and pushes an equality
 * filter `{f: v}` down as `_jsonb->$1 @> $2` with `$1 = 'f'` (its backends/postgresql/query.go,
 * `filterEqual`; a find by `_id` is the same shape with `'_id'`). The btree it builds for a declared index,
 * `((_jsonb->'f'))`, serves no `@>`, so every find/update scans the table. A GIN index on the same
 * expression with `jsonb_path_ops` does, but only in a plan made with the parameters' values
 * (`_jsonb->'f'::text`); a generic plan of `_jsonb->$1` matches no index expression. FerretDB's pgx pool
 * caches prepared statements, and PostgreSQL's `auto` mode may move a statement to its generic plan (e.g.
 * when its first executions ran on a small table, where a scan costs no more), hence
 * `plan_cache_mode = force_custom_plan` on the database: set before FerretDB opens its pool, as the setting
 * reaches new connections only.
 *
 * What gets a GIN twin, per collection table: `_id`, and every field of every index FerretDB's metadata
 * lists for the collection (each field of a compound index separately; the index order and direction do
 * not matter to `@>`). Dotted fields (`a.b`) are skipped: FerretDB pushes those down only with its
 * `EnableNestedPushdown` option (off in our embedding, see libs/harness/ferretdb), and then as
 * `_jsonb #> '{a,b}'`, not as `->`, so no index on them would ever be used. Names are deterministic:
 * `pay_gin_<table>_<field>` sanitised and cut to 46 characters, then `_` and 8 hex digits of md5(table.field),
 * 63 characters at most (unique in the schema, whatever the truncation did). The twins are built with
 * `fastupdate = off`: with GIN's default pending list, every search also reads all entries not merged yet
 * (up to 4 MB, until a vacuum merges them; measured after loading 100k rows: a lookup by `_id` read 248
 * buffers in 3-6 ms, against 5 buffers in 0.07 ms without the list).
 *
 * Keeping in step: FerretDB creates tables and indexes lazily, at run time (`ensureIndexes` in @pay/db runs
 * after FerretDB started). Whenever it creates a collection or changes its indexes, it ends by writing the
 * collection's row in the schema's `_ferretdb_database_metadata` table (INSERT when the collection is
 * created, UPDATE with the full index list after every createIndexes/dropIndexes; its metadata/registry.go;
 * a dropped collection takes its table and twins with it). So the mechanism is a row
 * trigger on each schema's metadata table (attached by an event trigger on CREATE TABLE of that table, the
 * way version-guard.ts attaches its guard) that, from the row just written, creates the missing twins and
 * drops the twins of indexes no longer declared. Chosen over an event trigger on FerretDB's own CREATE
 * INDEX because the row carries the declared field names as data (no parsing of a deparsed btree
 * expression), also covers dropIndexes, and is the same source as the one-off pass over existing tables
 * at harness start (a persistent `npm start` database). A failure to mirror is a WARNING, never an error
 * in FerretDB's own metadata write: the mirror is only an accelerator.
 *
 * Costs: building a twin takes the table's SHARE lock while FerretDB holds its registry lock (as its own
 * btree build does), i.e. at collection/index creation; each twin is one more GIN entry per insert/update
 * (measured in PostgreSQL alone, single-row inserts at 100k rows: ~20 µs → ~40 µs with three twins; through
 * FerretDB, whose own cost per insert is far larger, the difference was below the run-to-run noise).
 */
const MIRROR_SQL = `
CREATE OR REPLACE FUNCTION public.pay_gin_index_name(tbl text, field text) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT 'pay_gin_' || left(regexp_replace(lower(tbl || '_' || field), '[^a-z0-9_]', '_', 'g'), 46)
         || '_' || left(md5(tbl || '.' || field), 8)
$fn$;

-- Brings the GIN twins of one collection in step with its FerretDB metadata row; returns their names.
CREATE OR REPLACE FUNCTION public.pay_mirror_collection(schema_name text, meta jsonb) RETURNS text[]
LANGUAGE plpgsql AS $fn$
DECLARE
  tbl text := meta->>'table';
  target regclass;
  field text;
  index_name text;
  wanted text[] := '{}';
  stale record;
BEGIN
  IF tbl IS NULL THEN RETURN wanted; END IF;
  target := to_regclass(format('%I.%I', schema_name, tbl));
  IF target IS NULL THEN RETURN wanted; END IF;
  FOR field IN
    SELECT DISTINCT f FROM (
      SELECT '_id' AS f
      UNION ALL
      SELECT k FROM jsonb_array_elements(CASE WHEN jsonb_typeof(meta->'indexes') = 'array' THEN meta->'indexes' ELSE '[]' END) i,
             LATERAL jsonb_object_keys(CASE WHEN jsonb_typeof(i->'key') = 'object' THEN i->'key' ELSE '{}' END) k
    ) fields
    WHERE position('.' IN f) = 0 AND left(f, 1) <> '$'
    ORDER BY f
  LOOP
    index_name := public.pay_gin_index_name(tbl, field);
    wanted := wanted || index_name;
    -- Checked first: CREATE INDEX IF NOT EXISTS would still take the table's SHARE lock.
    IF to_regclass(format('%I.%I', schema_name, index_name)) IS NULL THEN
      BEGIN
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((_jsonb -> %L) jsonb_path_ops) WITH (fastupdate = off)',
                       index_name, schema_name, tbl, field);
      EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'pay_index_mirror: could not create % on %.%: %', index_name, schema_name, tbl, SQLERRM;
      END;
    END IF;
  END LOOP;
  FOR stale IN
    SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
    WHERE x.indrelid = target AND left(c.relname, 8) = 'pay_gin_' AND NOT (c.relname = ANY (wanted))
  LOOP
    BEGIN
      EXECUTE format('DROP INDEX IF EXISTS %I.%I', schema_name, stale.relname);
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'pay_index_mirror: could not drop %.%: %', schema_name, stale.relname, SQLERRM;
    END;
  END LOOP;
  RETURN wanted;
END
$fn$;

CREATE OR REPLACE FUNCTION public.pay_index_mirror_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  BEGIN
    PERFORM public.pay_mirror_collection(TG_TABLE_SCHEMA, NEW._jsonb);
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pay_index_mirror: %.% row not mirrored: %', TG_TABLE_SCHEMA, NEW._jsonb->>'_id', SQLERRM;
  END;
  RETURN NULL;
END
$fn$;

${attachToNewTablesSql({
  trigger: 'pay_index_mirror',
  timing: 'AFTER INSERT OR UPDATE',
  rowFunction: 'public.pay_index_mirror_row',
  attachFunction: 'pay_attach_index_mirror',
  eventTrigger: 'pay_index_mirror_new_tables',
  relnameFilter: "relname = '_ferretdb_database_metadata'",
})}
-- The one-off pass: every schema FerretDB made so far (a dev database from an earlier run).
CREATE OR REPLACE FUNCTION public.pay_mirror_all() RETURNS SETOF text LANGUAGE plpgsql AS $fn$
DECLARE
  schema_name text;
  meta_table regclass;
  meta jsonb;
BEGIN
  FOR schema_name IN
    SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname = '_ferretdb_database_metadata' AND c.relkind = 'r' ORDER BY 1
  LOOP
    -- A schema may be dropped meanwhile (FerretDB's dropDatabase): skip it, do not fail the pass.
    BEGIN
      meta_table := to_regclass(format('%I._ferretdb_database_metadata', schema_name));
      CONTINUE WHEN meta_table IS NULL;
      PERFORM public.pay_attach_index_mirror(meta_table);
      FOR meta IN EXECUTE format('SELECT _jsonb FROM %s', meta_table) LOOP
        RETURN QUERY SELECT schema_name || '.' || twin FROM unnest(public.pay_mirror_collection(schema_name, meta)) twin;
      END LOOP;
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'pay_index_mirror: schema % not mirrored: %', schema_name, SQLERRM;
    END;
  END LOOP;
END
$fn$;

DO $do$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = force_custom_plan', current_database());
END
$do$;
`;

/**
 * Installs (idempotently) the index mirror into the PostgreSQL database behind a FerretDB, brings every
 * existing collection table in step, and sets `plan_cache_mode = force_custom_plan` on the database (for
 * connections opened afterwards: call it before FerretDB starts). Returns the twins, `schema.index`.
 */
export async function mirrorIndexes(client: Client): Promise<string[]> {
  await client.query(MIRROR_SQL);
  const result = await client.query<{ name: string }>('SELECT public.pay_mirror_all() AS name');
  return result.rows.map((row) => row.name);
}

export interface MirroredIndex {
  schema: string;
  table: string;
  index: string;
  definition: string;
}

/**
 * GIN twins present in one schema (one MongoDB database) of the connected database, for tests and
 * diagnostics. Bound to the schema: other runs create and drop their own tables meanwhile, and
 * pg_get_indexdef on a relation dropped under the query fails ("could not open relation").
 */
export async function mirroredIndexes(client: Client, schema: string): Promise<MirroredIndex[]> {
  const result = await client.query<MirroredIndex>(
    `SELECT n.nspname AS schema, t.relname AS table, c.relname AS index, pg_get_indexdef(c.oid) AS definition
     FROM pg_index x
     JOIN pg_class c ON c.oid = x.indexrelid
     JOIN pg_class t ON t.oid = x.indrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND left(c.relname, 8) = 'pay_gin_'
     ORDER BY 1, 2, 3`,
    [schema],
  );
  return result.rows;
}
