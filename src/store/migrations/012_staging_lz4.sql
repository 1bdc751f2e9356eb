-- Staged NDJSON compressed with LZ4 where the server has it (PostgreSQL 14+ built with lz4, as Debian's and the
-- official images are): the load's inserts and the batches' reads moved ~100 MB at 10,000 patients through the
-- TOAST table, which was the load's bottleneck; LZ4 costs little CPU (unlike pglz, see migration 005) and makes
-- the rows several times smaller. Elsewhere (PGlite) the column stays uncompressed. (Staged Medications are
-- single resources, too small to be compressed.)
do $$
begin
  if exists (select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)) then
    alter table surveillance_staged alter column lines set storage extended;
    alter table surveillance_staged alter column lines set compression lz4;
  end if;
end
$$;
