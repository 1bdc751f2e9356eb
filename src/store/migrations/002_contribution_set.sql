-- Exposure contributions are stored once per distinct content, addressed by the SHA-256 of their JSON: a
-- chart opened again with unchanged medication data adds a reference to the hook record, not another
-- 20-30 kB copy. The hook record's payload carries the reference, so the hash chain covers it, and
-- `audit verify` re-hashes every referenced body.
create table contribution_set (
  hash      text primary key,
  body      text not null,
  first_seq bigint not null references audit_log (seq)
);

create trigger contribution_set_append_only before update or delete on contribution_set for each row execute function osteowatch_append_only();
create trigger contribution_set_no_truncate before truncate on contribution_set for each statement execute function osteowatch_append_only();
