/**
 * SQL that attaches a row trigger to the tables the embedded FerretDB creates, lazily, as collections
 * appear: a function that attaches it to one table (once), and an event trigger on CREATE TABLE that
 * calls it for the tables `relnameFilter` selects. The event trigger is created once and kept (its
 * function is replaced in place), so installing again while a FerretDB is creating tables leaves no
 * moment in which a new table goes without the row trigger.
 */
export interface NewTableAttachment {
  /** The row trigger's name on each table. */
  trigger: string;
  /** When it fires, e.g. `BEFORE UPDATE` or `AFTER INSERT OR UPDATE`. */
  timing: string;
  /** The row trigger function (schema-qualified), defined by the caller. */
  rowFunction: string;
  /** The function attaching it to one table, and the event trigger (and its function) for new tables. */
  attachFunction: string;
  eventTrigger: string;
  /** A SQL condition on `relname` (the new table's name) choosing the tables to attach to. */
  relnameFilter: string;
}

export function attachToNewTablesSql(a: NewTableAttachment): string {
  return `
CREATE OR REPLACE FUNCTION public.${a.attachFunction}(target regclass) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = target AND tgname = '${a.trigger}') THEN
    EXECUTE format('CREATE TRIGGER ${a.trigger} ${a.timing} ON %s FOR EACH ROW EXECUTE FUNCTION ${a.rowFunction}()', target);
  END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION public.${a.eventTrigger}() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE created record;
BEGIN
  FOR created IN SELECT objid FROM pg_event_trigger_ddl_commands()
                 WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
    IF (SELECT ${a.relnameFilter} FROM pg_class WHERE oid = created.objid) THEN
      PERFORM public.${a.attachFunction}(created.objid::regclass);
    END IF;
  END LOOP;
END
$fn$;

DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = '${a.eventTrigger}') THEN
    CREATE EVENT TRIGGER ${a.eventTrigger} ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
      EXECUTE FUNCTION public.${a.eventTrigger}();
  END IF;
END
$do$;
`;
}
