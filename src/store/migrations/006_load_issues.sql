-- What the cohort's reading met that is not one patient's error (issue 14): the OperationOutcomes of a Bulk
-- Data manifest's `error` files (a Group member the server could not export, a parameter it ignored), NDJSON
-- lines that were not resources, records without a patient. Kept with the run, shown with it and audited with
-- it: a partial export must not look like a complete one. `{"total": n, "items": [...]}`, the first items only.
alter table surveillance_runs add column load_issues jsonb not null default '{"total": 0, "items": []}';
