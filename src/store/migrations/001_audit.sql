-- The audit trail: one append-only, hash-chained log, and query tables projected from it in the same
-- transaction. Nothing here is ever updated or deleted (triggers refuse it).

create table audit_log (
  seq          bigint primary key,
  recorded_at  timestamptz not null,
  recorded_iso text not null,
  kind         text not null,
  patient_id   text,
  tenant       text,
  actor        text,
  payload      jsonb not null,
  prev_hash    text not null,
  hash         text not null unique
);
create index audit_log_kind_time on audit_log (kind, recorded_at, seq);
create index audit_log_patient_time on audit_log (patient_id, recorded_at, seq) where patient_id is not null;
create index audit_log_time on audit_log (recorded_at, seq);

create table hook_invocation (
  seq           bigint primary key references audit_log (seq),
  recorded_at   timestamptz not null,
  service       text not null,
  hook          text not null,
  hook_instance text not null,
  patient_id    text,
  user_ref      text,
  tenant        text,
  client_iss    text,
  latency_ms    double precision
);
create index hook_invocation_patient on hook_invocation (patient_id, recorded_at, seq);
create index hook_invocation_service_time on hook_invocation (service, recorded_at, seq);
create index hook_invocation_instance on hook_invocation (hook_instance);

create table card (
  card_uuid      text primary key,
  invocation_seq bigint not null references hook_invocation (seq),
  service        text not null,
  patient_id     text,
  indicator      text not null,
  summary        text not null,
  recorded_at    timestamptz not null
);
create index card_service_time on card (service, recorded_at, card_uuid);
create index card_patient_time on card (patient_id, recorded_at);
create index card_invocation on card (invocation_seq);

create table card_feedback (
  seq              bigint primary key references audit_log (seq),
  card_uuid        text not null,
  service          text not null,
  outcome          text not null,
  override_code    text,
  override_display text,
  user_comment     text,
  accepted_suggestions jsonb,
  outcome_at       timestamptz not null,
  recorded_at      timestamptz not null,
  unique (card_uuid, outcome, outcome_at)
);
create index card_feedback_card on card_feedback (card_uuid, outcome_at);

create table exposure_snapshot (
  seq              bigint primary key references audit_log (seq),
  patient_id       text not null,
  as_of            date not null,
  cumulative_mg    double precision,
  lower_bound      boolean not null,
  current_daily_mg double precision,
  threshold_mg     double precision not null,
  crossed_on       date,
  recorded_at      timestamptz not null
);
create index exposure_snapshot_patient on exposure_snapshot (patient_id, as_of, seq);
create index exposure_snapshot_crossed on exposure_snapshot (threshold_mg, crossed_on, patient_id) where crossed_on is not null;

-- Every (patient, threshold, crossing day) the service has computed; the first crossing is the minimum.
create table threshold_crossing (
  patient_id    text not null,
  threshold_mg  double precision not null,
  crossed_on    date not null,
  first_seen_seq bigint not null references audit_log (seq),
  primary key (patient_id, threshold_mg, crossed_on)
);
create index threshold_crossing_day on threshold_crossing (threshold_mg, crossed_on);

create table write_back (
  seq           bigint primary key references audit_log (seq),
  patient_id    text not null,
  study_uid     text,
  study_date    date,
  resource_refs text[] not null,
  recorded_at   timestamptz not null
);
create index write_back_patient on write_back (patient_id, study_date);

-- WB-MRI studies the service has seen (written back, or present in the EHR data of a hook call).
create table wbmri_study (
  patient_id text not null,
  study_date date not null,
  source     text not null,
  seq        bigint not null references audit_log (seq),
  primary key (patient_id, study_date, source)
);

create table surveillance_run (
  seq         bigint primary key references audit_log (seq),
  run_id      text not null unique,
  started_at  timestamptz,
  finished_at timestamptz,
  summary     jsonb,
  recorded_at timestamptz not null
);

create function osteowatch_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'the audit trail is append-only: % on % is not allowed', tg_op, tg_table_name;
end
$$;

create trigger audit_log_append_only before update or delete on audit_log for each row execute function osteowatch_append_only();
create trigger audit_log_no_truncate before truncate on audit_log for each statement execute function osteowatch_append_only();
create trigger hook_invocation_append_only before update or delete on hook_invocation for each row execute function osteowatch_append_only();
create trigger card_append_only before update or delete on card for each row execute function osteowatch_append_only();
create trigger card_feedback_append_only before update or delete on card_feedback for each row execute function osteowatch_append_only();
create trigger exposure_snapshot_append_only before update or delete on exposure_snapshot for each row execute function osteowatch_append_only();
create trigger threshold_crossing_append_only before update or delete on threshold_crossing for each row execute function osteowatch_append_only();
create trigger write_back_append_only before update or delete on write_back for each row execute function osteowatch_append_only();
create trigger wbmri_study_append_only before update or delete on wbmri_study for each row execute function osteowatch_append_only();
create trigger surveillance_run_append_only before update or delete on surveillance_run for each row execute function osteowatch_append_only();
