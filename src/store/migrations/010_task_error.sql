-- A worklist entry whose Task the Task server refused (401, 403, 422) or could not take is still the patient's
-- entry: it is stored with why its Task was not written, counted on the run, and published again by the next run.
alter table worklist_entries add column task_error text;
