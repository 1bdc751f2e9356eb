/**
 * The cohort surveillance dashboard (/dashboard/): the worklist of the latest run, filtered, searched, sorted and
 * paged by keyset without loading it all, exported as CSV, and beside it the run history with "Start a run".
 * Nothing about a patient is fetched or shown before sign-in; a 401 at any time returns to the sign-in form.
 */
import { plural } from '../../exposure/format.ts';
import { loadIssueText } from '../../surveillance/loadIssueText.ts';
import * as api from './api.ts';
import {
  API_SORT,
  CHANGE_LABELS,
  type Change,
  COUNT_LABELS,
  dateText,
  daysOverdueText,
  doseText,
  durationText,
  isInProgress,
  nextSort,
  PATIENT_PREFIX,
  RULE_LABELS,
  RULES,
  type Rule,
  type Run,
  SERVICE_ORDER_NOTE,
  type Sort,
  type SortKey,
  STATUS_LABELS,
  sortEntries,
  timelineHref,
  type WorklistEntry,
  whenText,
} from './format.ts';
import { bearerToken, forgetToken, keepToken } from './token.ts';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el as T;
};

const ui = {
  signIn: $<HTMLElement>('sign-in'),
  signInForm: $<HTMLFormElement>('sign-in-form'),
  signInMessage: $<HTMLElement>('sign-in-message'),
  token: $<HTMLInputElement>('token'),
  signOut: $<HTMLButtonElement>('sign-out'),
  dashboard: $<HTMLElement>('dashboard'),
  status: $<HTMLElement>('status'),
  worklistTitle: $<HTMLElement>('worklist-title'),
  worklistRun: $<HTMLElement>('worklist-run'),
  filters: $<HTMLFormElement>('filters'),
  patient: $<HTMLInputElement>('patient'),
  patientHelp: $<HTMLElement>('patient-help'),
  pageSize: $<HTMLSelectElement>('page-size'),
  exportCsv: $<HTMLButtonElement>('export'),
  sortNote: $<HTMLElement>('sort-note'),
  table: $<HTMLTableElement>('worklist-table'),
  empty: $<HTMLElement>('empty'),
  prev: $<HTMLButtonElement>('prev'),
  next: $<HTMLButtonElement>('next'),
  pageInfo: $<HTMLElement>('page-info'),
  startRun: $<HTMLButtonElement>('start-run'),
  runList: $<HTMLOListElement>('run-list'),
};
const tbody = ui.table.tBodies[0]!;

const PATIENT_HELP = ui.patientHelp.textContent ?? '';
const POLL_MS = 1000;
const SEARCH_DEBOUNCE_MS = 300;

/** What is on screen: the current page, how it was reached (the cursors of the pages before it) and its run. */
const state = {
  rows: [] as WorklistEntry[],
  /** cursors[i] is the cursor page i was read with (undefined for the first). */
  cursors: [] as Array<string | undefined>,
  next: null as string | null,
  /** The run the pages are read from, pinned by the first page so that "previous" and "next" stay on it. */
  run: undefined as string | undefined,
  /** That run's day, and the number of entries matching the filters. */
  asOf: null as string | null,
  total: 0,
  /** Whether a worklist page has been read since sign-in (before it, there is no "newer run" to speak of). */
  worklistRead: false,
  /** The newer run last announced while paging (announced once). */
  announcedRun: undefined as string | undefined,
  /** The newest run of the history, when it failed: the worklist shown is older than the last attempt. */
  latestFailed: undefined as Run | undefined,
  sort: API_SORT as Sort,
  /** Answers to older requests are dropped (typing fast, or paging while a page loads). */
  seq: 0,
  polling: undefined as string | undefined,
  /** Bumped at sign-out: answers to requests made before it are dropped. */
  session: 0,
};

// ---- sign-in

function showSignIn(message = ''): void {
  forgetToken();
  clearData();
  ui.dashboard.hidden = true;
  ui.signOut.hidden = true;
  ui.signIn.hidden = false;
  ui.signInMessage.textContent = message;
  ui.token.value = '';
  ui.token.focus();
}

/** Everything about patients and runs taken off the page (sign-out, a refused token). */
function clearData(): void {
  state.seq++;
  state.session++;
  state.rows = [];
  state.cursors = [];
  state.next = null;
  state.run = undefined;
  state.asOf = null;
  state.total = 0;
  state.latestFailed = undefined;
  state.worklistRead = false;
  state.announcedRun = undefined;
  state.polling = undefined;
  tbody.replaceChildren();
  ui.runList.replaceChildren();
  ui.worklistRun.textContent = '';
  ui.pageInfo.textContent = '';
  ui.status.textContent = '';
  ui.empty.hidden = true;
  ui.patient.value = '';
}

/** Reads the worklist and the runs, and shows them unless the token was refused meanwhile. */
async function showDashboard(): Promise<void> {
  try {
    await Promise.all([loadFirstPage(), loadRuns()]);
  } finally {
    if (bearerToken()) {
      ui.signIn.hidden = true;
      ui.signInMessage.textContent = '';
      ui.dashboard.hidden = false;
      ui.signOut.hidden = false;
    }
  }
}

ui.signInForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = ui.token.value.trim();
  if (!token) {
    ui.signInMessage.textContent = 'Enter the access token.';
    ui.token.focus();
    return;
  }
  keepToken(token);
  ui.token.value = '';
  const button = ui.signInForm.querySelector('button')!;
  button.disabled = true;
  void guard(async () => {
    try {
      // The token is checked by the first calls: a 401 brings the form back with its message.
      await showDashboard();
      if (bearerToken()) ui.worklistTitle.focus();
    } finally {
      button.disabled = false;
    }
  });
});

ui.signOut.addEventListener('click', () => {
  showSignIn('You are signed out.');
});

/** Runs an action; a refused token returns to the sign-in form, other failures are announced. */
async function guard(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    if (err instanceof api.SignInRequired) showSignIn(err.message);
    else announce(err instanceof Error ? err.message : String(err), true);
  }
}

function announce(message: string, error = false): void {
  ui.status.textContent = message;
  ui.status.classList.toggle('error', error);
}

// ---- the worklist

const checked = <T extends string>(name: string): T[] =>
  Array.from(ui.filters.querySelectorAll<HTMLInputElement>(`input[name="${name}"]:checked`), (i) => i.value as T);

/** The filters as the API takes them; null when they cannot match anything or are not valid yet. */
function filters(): api.WorklistFilters | null {
  const rules = checked<Rule>('rule');
  const changes = checked<Change>('change');
  const patient = ui.patient.value.trim();
  const patientOk = !patient || PATIENT_PREFIX.test(patient);
  ui.patient.setAttribute('aria-invalid', String(!patientOk));
  ui.patientHelp.textContent = patientOk ? PATIENT_HELP : `Not a patient id: ${PATIENT_HELP.toLowerCase()}`;
  ui.patientHelp.classList.toggle('invalid', !patientOk);
  if (!patientOk) return null;
  if (!rules.length || !changes.length) return null;
  // All boxes ticked: no filter at all (the API's default), which keeps the URLs short.
  return {
    rules: rules.length === RULES.length ? [] : rules,
    changes: changes.length === 3 ? [] : changes,
    patient,
    run: state.run,
  };
}

const pageSize = (): number => Number(ui.pageSize.value) || 50;

async function loadFirstPage(): Promise<void> {
  state.run = undefined;
  state.cursors = [];
  await loadPage([undefined]);
}

/** Reads the page of the last cursor of `cursors` (the way to it); on success that is the page shown. */
async function loadPage(cursors: Array<string | undefined>): Promise<void> {
  const cursor = cursors.at(-1);
  const f = filters();
  const seq = ++state.seq;
  if (!f) {
    state.cursors = [];
    const why =
      ui.patient.getAttribute('aria-invalid') === 'true'
        ? 'The patient id can have only letters, digits, dots and hyphens.'
        : 'Tick at least one rule and one change to see entries.';
    render([], null, why);
    announce(why, true);
    return;
  }
  ui.table.setAttribute('aria-busy', 'true');
  try {
    const page = await api.worklist(f, pageSize(), cursor);
    if (seq !== state.seq) return;
    state.cursors = cursors;
    state.run = page.runId ?? undefined;
    state.asOf = page.asOf;
    state.total = page.total;
    state.worklistRead = true;
    render(page.items, page.next, page.runId ? 'No entries match these filters.' : 'No run has succeeded yet.');
    const first = (state.cursors.length - 1) * pageSize() + 1;
    announce(
      page.items.length
        ? `Worklist page ${state.cursors.length}: rows ${first} to ${first + page.items.length - 1} of ${page.total}.`
        : ui.empty.textContent!,
    );
  } finally {
    if (seq === state.seq) ui.table.removeAttribute('aria-busy');
  }
}

function render(rows: WorklistEntry[], next: string | null, emptyText: string): void {
  state.rows = rows;
  state.next = next;
  renderRows();
  ui.empty.hidden = rows.length > 0;
  ui.empty.textContent = emptyText;
  const n = Math.max(state.cursors.length, 1);
  const first = (n - 1) * pageSize() + 1;
  ui.pageInfo.textContent = rows.length
    ? `Page ${n} · rows ${first}–${first + rows.length - 1} of ${state.total}`
    : `Page ${n}`;
  ui.prev.disabled = state.cursors.length <= 1;
  ui.next.disabled = !next;
  renderWorklistRun();
}

/** Which run (and day) the worklist is from; and, when the last run since failed, that it did and why. */
function renderWorklistRun(): void {
  const from = state.run ? `From the run of ${state.asOf ?? '—'} (${state.run}).` : '';
  const failed = state.latestFailed;
  ui.worklistRun.textContent = failed
    ? `${from} The latest run, of ${whenText(failed.startedAt ?? failed.createdAt)}, failed: ${failed.error ?? 'see its errors'}.`
    : from;
  ui.worklistRun.classList.toggle('warning', !!failed);
}

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** "at least" may go on its own line; the amount never breaks. */
function doseCell(e: WorklistEntry): HTMLTableCellElement {
  const td = cell('', e.cumulativeMg === null ? 'num dose unknown' : 'num dose');
  const text = doseText(e);
  const m = /^(at least )(.+)$/.exec(text);
  const amount = document.createElement('span');
  amount.className = 'nowrap';
  amount.textContent = m ? m[2]! : text;
  if (m) td.append(m[1]!);
  td.append(amount);
  return td;
}

/** The summary, its dates never broken at their hyphens; and, when its Task could not be written, why. */
function summaryCell(summary: string, taskError: string | null, resolved: boolean): HTMLTableCellElement {
  const td = cell('', 'summary');
  summary.split(/(\d{4}-\d{2}-\d{2})/).forEach((part, i) => {
    if (i % 2 === 0) td.append(part);
    else {
      const date = document.createElement('span');
      date.className = 'nowrap';
      date.textContent = part;
      td.append(date);
    }
  });
  if (taskError) {
    const note = document.createElement('span');
    note.className = 'task-error';
    // An open entry's Task was not written; a resolved entry's was not completed (it stays open in the EHR).
    note.textContent = resolved ? `Task not completed: ${taskError}` : `Task not written: ${taskError}`;
    td.append(note);
  }
  return td;
}

function renderRows(): void {
  const rows = state.sort === API_SORT ? state.rows : sortEntries(state.rows, state.sort);
  tbody.replaceChildren(
    ...rows.map((e) => {
      const tr = document.createElement('tr');
      // Resolved since the last run: shown, but not as work to do.
      tr.className = `entry-${e.change}`;
      const th = document.createElement('th');
      th.scope = 'row';
      const a = document.createElement('a');
      a.href = timelineHref(e.patientId);
      a.textContent = e.patientId;
      a.title = `Open the exposure timeline of patient ${e.patientId}`;
      th.append(a);
      const resolved = e.change === 'resolved';
      const rule = cell('', 'rule');
      const badge = document.createElement('span');
      // A resolved entry is not work: its rule in a neutral badge, no overdue emphasis, and what resolved it.
      badge.className = resolved ? 'badge rule-resolved' : `badge rule-${e.rule}`;
      badge.textContent = RULE_LABELS[e.rule] ?? e.rule;
      rule.append(badge);
      tr.append(
        th,
        rule,
        cell(dateText(e.dueDate), 'date'),
        cell(resolved ? '—' : daysOverdueText(e.daysOverdue), e.daysOverdue && !resolved ? 'num overdue' : 'num'),
        doseCell(e),
        cell(CHANGE_LABELS[e.change] ?? e.change, `change change-${e.change}`),
        summaryCell(e.summary, e.taskError, resolved),
      );
      return tr;
    }),
  );
  for (const th of Array.from(ui.table.tHead!.querySelectorAll<HTMLTableCellElement>('th[data-sort]'))) {
    if (th.dataset.sort === state.sort.key) th.setAttribute('aria-sort', state.sort.dir);
    else th.removeAttribute('aria-sort');
  }
  ui.sortNote.textContent =
    state.sort === API_SORT
      ? SERVICE_ORDER_NOTE
      : `Sorted by ${ui.table.querySelector(`th[data-sort="${state.sort.key}"]`)?.textContent?.toLowerCase()}, ${state.sort.dir}, within this page (a third click returns to the service’s order).`;
}

ui.table.tHead!.addEventListener('click', (ev) => {
  const th = (ev.target as HTMLElement).closest<HTMLTableCellElement>('th[data-sort]');
  if (!th) return;
  state.sort = nextSort(state.sort, th.dataset.sort as Exclude<SortKey, 'service'>);
  renderRows();
});

let searchTimer: ReturnType<typeof setTimeout> | undefined;
ui.patient.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => void guard(loadFirstPage), SEARCH_DEBOUNCE_MS);
});
ui.filters.addEventListener('change', (ev) => {
  if (ev.target === ui.patient) return;
  clearTimeout(searchTimer);
  void guard(loadFirstPage);
});
ui.filters.addEventListener('submit', (ev) => {
  ev.preventDefault();
  clearTimeout(searchTimer);
  void guard(loadFirstPage);
});

/** Where keyboard focus goes when the button that had it disables itself (first or last page): the table. */
function keepFocus(button: HTMLButtonElement): void {
  if (button.disabled && document.activeElement === button) ui.table.focus();
}

ui.next.addEventListener('click', () => {
  const next = state.next;
  if (next) void guard(() => loadPage([...state.cursors, next])).then(() => keepFocus(ui.next));
});
ui.prev.addEventListener('click', () => {
  if (state.cursors.length > 1) void guard(() => loadPage(state.cursors.slice(0, -1))).then(() => keepFocus(ui.prev));
});

ui.exportCsv.addEventListener('click', () => {
  const f = filters();
  if (!f) {
    announce('Nothing to export with these filters.', true);
    return;
  }
  ui.exportCsv.disabled = true;
  announce('Preparing the CSV…');
  void guard(async () => {
    try {
      const { blob, fileName } = await api.worklistCsv(f);
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = fileName;
      a.hidden = true;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      announce(`Exported ${fileName}.`);
    } finally {
      ui.exportCsv.disabled = false;
    }
  });
});

// ---- the run history

async function loadRuns(): Promise<void> {
  const session = state.session;
  const runs = await api.runs(10);
  if (session !== state.session) return;
  renderRuns(runs);
  state.latestFailed = runs[0]?.status === 'failed' ? runs[0] : undefined;
  renderWorklistRun();
  const active = runs.find((r) => isInProgress(r.status));
  ui.startRun.disabled = !!active;
  if (active && state.polling !== active.runId) void guard(() => follow(active.runId));
  // A run that succeeded elsewhere (the schedule, the CLI, another tab) since this worklist was read (not the
  // first read of the page, which may still be on its way).
  const latest = runs.find((r) => r.status === 'succeeded');
  if (!latest || !state.worklistRead || latest.runId === state.run || state.polling) return;
  const when = whenText(latest.startedAt ?? latest.createdAt);
  if (state.cursors.length > 1) {
    // Not pulled from under someone paging (the pages stay on their run): said once, with how to see it.
    if (state.announcedRun !== latest.runId)
      announce(`A newer run, of ${when}, succeeded; change a filter or reload the page to see its worklist.`);
    state.announcedRun = latest.runId;
    return;
  }
  await loadFirstPage();
  announce(`A newer run, of ${when}, succeeded; the worklist shows it.`);
}

/** The run history read again now and then: runs start on a schedule and from the CLI, not only here. */
const RUNS_REFRESH_MS = 30_000;
setInterval(() => {
  if (bearerToken() && !ui.dashboard.hidden && !state.polling && !document.hidden) void guard(loadRuns);
}, RUNS_REFRESH_MS);

function renderRuns(runs: Run[]): void {
  if (!runs.length) {
    const li = document.createElement('li');
    li.className = 'none';
    li.textContent = 'No runs yet.';
    ui.runList.replaceChildren(li);
    return;
  }
  ui.runList.replaceChildren(...runs.map(runItem));
}

function dl(className: string, pairs: Array<[string, string]>): HTMLDListElement {
  const list = document.createElement('dl');
  list.className = className;
  for (const [k, v] of pairs) {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    div.append(dt, dd);
    list.append(div);
  }
  return list;
}

function runItem(r: Run): HTMLLIElement {
  const li = document.createElement('li');
  li.className = `run run-${r.status}`;
  li.dataset.runId = r.runId;
  const head = document.createElement('div');
  head.className = 'run-head';
  const h = document.createElement('h3');
  h.textContent = whenText(r.startedAt ?? r.createdAt);
  const status = document.createElement('span');
  status.className = `badge status-${r.status}`;
  status.textContent = STATUS_LABELS[r.status] ?? r.status;
  head.append(h, status);
  const p = r.progress;
  const facts: Array<[string, string]> = [
    ['As of', r.asOf],
    ['Took', durationText(r.durationSeconds)],
    ['Started by', TRIGGER_LABELS[r.trigger] ?? r.trigger],
  ];
  if (isInProgress(r.status)) facts.push(['Progress', p.total ? `${p.done} of ${p.total} patients` : `${p.done}`]);
  // A failed run's counts are of the batches it finished, not of the cohort: where it stopped says more.
  if (r.status === 'failed') facts.push(['Stopped at', `${p.done} of ${p.total ?? '?'} patients`]);
  li.append(head, dl('facts', facts));
  if (r.status !== 'queued' && r.status !== 'failed')
    li.append(
      dl(
        'counts',
        COUNT_LABELS.map(([k, label]) => [label, r.counts[k] === undefined ? '—' : String(r.counts[k])]),
      ),
    );
  const errors = [...(r.error ? [{ message: r.error }] : []), ...r.errors];
  const errorText = (e: (typeof errors)[number]) =>
    'patientId' in e && e.patientId ? `${e.patientId}: ${e.message}` : e.message;
  if (errors.length) li.append(problems('errors', plural(errors.length, 'error'), errors.map(errorText)));
  // What the export itself reported (a Group member it could not find …): the cohort may be incomplete.
  const issues = r.loadIssues;
  if (issues?.total)
    li.append(problems('load-issues', plural(issues.total, 'export issue'), issues.items.map(loadIssueText)));
  const id = document.createElement('p');
  id.className = 'run-id';
  id.textContent = r.runId;
  li.append(id);
  return li;
}

/** A run's problems, folded: "3 errors" and the list. */
function problems(className: string, label: string, lines: string[]): HTMLElement {
  const details = document.createElement('details');
  details.className = className;
  const summary = document.createElement('summary');
  summary.textContent = label;
  const ul = document.createElement('ul');
  for (const line of lines) {
    const item = document.createElement('li');
    item.textContent = line;
    ul.append(item);
  }
  details.append(summary, ul);
  return details;
}

const TRIGGER_LABELS: Record<Run['trigger'], string> = {
  schedule: 'Schedule',
  'catch-up': 'Catch-up',
  api: 'API',
  cli: 'CLI',
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls a run until it ends; then the history and, when it succeeded, the worklist (its first page) are read again. */
async function follow(runId: string): Promise<void> {
  state.polling = runId;
  ui.startRun.disabled = true;
  try {
    for (;;) {
      await sleep(POLL_MS);
      if (state.polling !== runId) return;
      const r = await api.run(runId);
      if (state.polling !== runId) return;
      const old = ui.runList.querySelector(`li[data-run-id="${CSS.escape(runId)}"]`);
      if (old) old.replaceWith(runItem(r));
      if (isInProgress(r.status)) continue;
      state.polling = undefined;
      // The history again; a run that succeeded is newer than the worklist shown, so loadRuns reads its first
      // page and says so.
      await loadRuns();
      if (r.status !== 'succeeded') {
        announce(`The run of ${whenText(r.startedAt ?? r.createdAt)} failed: ${r.error ?? 'see its errors'}.`, true);
      }
      return;
    }
  } finally {
    if (state.polling === runId) state.polling = undefined;
    ui.startRun.disabled = !!state.polling;
  }
}

ui.startRun.addEventListener('click', () => {
  ui.startRun.disabled = true;
  void guard(async () => {
    try {
      let r: Run;
      try {
        r = await api.startRun();
      } catch (err) {
        // A run already in progress (the schedule, the CLI, another tab): follow that one, as if started here;
        // the server's hint to cancel it is for an operator, not for this button.
        if (!(err instanceof api.ApiError && err.status === 409)) throw err;
        announce('A run is already in progress; following it.');
        await loadRuns();
        return;
      }
      announce('Run started; the worklist is refreshed when it has finished.');
      await loadRuns();
      if (state.polling !== r.runId) await follow(r.runId);
    } finally {
      ui.startRun.disabled = !!state.polling;
    }
  });
});

// ---- start

if (bearerToken()) {
  // Signed in earlier in this tab (a reload): straight to the dashboard.
  ui.signIn.hidden = true;
  void guard(showDashboard);
} else showSignIn();
