-- Cohort surveillance: run history, the run's batches, each patient's decision per run, the worklist, and the
-- resources a Bulk Data export staged for the run. Kept in our own tables: the job queue (pg-boss) deletes
-- finished jobs, and the history must outlive them.

create table surveillance_runs (
  run_id            text primary key,
  -- The order runs were created in (created_at can tie: "now" is a parameter, and clocks differ between instances).
  seq               bigint generated always as identity unique,
  trigger           text not null,
  mode              text not null,
  fhir_base         text not null,
  as_of             date not null,
  status            text not null,
  rules_hash        text not null,
  created_at        timestamptz not null,
  started_at        timestamptz,
  finished_at       timestamptz,
  transaction_time  timestamptz,
  export_status_url text,
  -- The succeeded run this one is compared with (new / still due / resolved), fixed when it is loaded.
  previous_run_id   text,
  total             integer,
  batches           integer,
  counts            jsonb not null default '{}',
  errors            jsonb not null default '[]',
  error             text
);


create table surveillance_batches (
  run_id      text not null references surveillance_runs (run_id),
  batch_no    integer not null,
  patient_ids text[] not null,
  done_at     timestamptz,
  primary key (run_id, batch_no)
);

-- One row per patient and run: the primary key is what makes "a patient is evaluated once per run" hold
-- even when a batch is retried after a crash.
create table surveillance_results (
  run_id        text not null references surveillance_runs (run_id),
  patient_id    text not null,
  decision      text not null,
  cumulative_mg numeric,
  lower_bound   boolean not null default false,
  error         text,
  evaluated_at  timestamptz not null,
  primary key (run_id, patient_id)
);

create table worklist_entries (
  run_id        text not null references surveillance_runs (run_id),
  patient_id    text not null,
  rule          text not null,
  change        text not null,
  due_date      date,
  overdue_from  date,
  days_overdue  integer,
  cumulative_mg numeric,
  lower_bound   boolean not null default false,
  last_study    date,
  summary       text not null,
  task_ref      text,
  -- A resolved entry and a new one of the same rule (a follow-up done, the next one due) stand side by side.
  primary key (run_id, patient_id, rule, change)
);
create index worklist_entries_page on worklist_entries (run_id, due_date, patient_id, rule, change);

create table surveillance_staged (
  run_id        text not null,
  patient_id    text not null,
  resource_type text not null,
  resource      jsonb not null
);
create index surveillance_staged_patient on surveillance_staged (run_id, patient_id);

create table surveillance_staged_medications (
  run_id   text not null,
  ref      text not null,
  resource jsonb not null,
  primary key (run_id, ref)
);
