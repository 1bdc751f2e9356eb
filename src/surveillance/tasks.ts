/**
 * Publishes actionable worklist entries as FHIR Tasks, and completes a Task whose reason has gone. Every write
 * is a conditional create on the entry's business identifier "{patient}:{rule}:{due date}"
 * (https://hl7.org/fhir/R4/http.html#ccreate), so a re-run, a resumed run or a second instance never makes a
 * second Task. Screening and follow-up Tasks are basedOn a draft WB-MRI ServiceRequest (the order the card
 * suggests), written the same way. A patient whose exposure could not be computed gets a Task to review their
 * medication records (no due date: one per patient, reopened if the exposure becomes unknown again).
 */
import type { ServiceRequest, Task } from '@medplum/fhirtypes';
import { isRefusal, OsteoWatchError, RefusedError } from '../errors.ts';
import { authorizedFetch, type FhirAuth } from '../fhir/fhirAuth.ts';
import { outcomeText } from '../fhir/outcome.ts';
import { wbMriServiceRequest } from '../profiles/wbMriServiceRequest.ts';
import { isUrgent, taskRuleOf, type WorklistItem, workFamilyOf } from '../screening/worklist.ts';
import { SURVEILLANCE_TAG_SYSTEM, WORKLIST_ENTRY_IDENTIFIER } from '../terminology/systems.ts';
import { surveillanceTag, worklistRuleCoding } from '../terminology/worklistCodes.ts';

/**
 * What the Task server did to a write: `unavailable` (down, slow, 5xx, 429: the batch retries) or `upstream` (a
 * refusal: 401, 403, 422 …). `status` is the HTTP status when there was one: what is logged, never the server's
 * text (an OperationOutcome may quote the Task, and with it the patient).
 */
export class TaskServerError extends OsteoWatchError {
  readonly status?: number;
  constructor(kind: 'unavailable' | 'upstream', message: string, status?: number) {
    super(kind, message);
    this.status = status;
  }

  /** Refused for who we are (401, 403): every other Task of the batch would be refused alike. */
  get credentialsRefused(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

/**
 * Whether a failed Task write (or completion) speaks for the rest of its batch: the server not answering, or
 * refusing who we are. The others are then not sent, each entry carrying this reason; a refusal of one Task
 * (422) is that Task's alone.
 */
export const failsTheRest = (err: unknown): boolean =>
  (err instanceof OsteoWatchError && err.kind === 'unavailable') ||
  (err instanceof TaskServerError && err.credentialsRefused);

export interface TaskPublisherOptions {
  fhirBaseUrl: string;
  auth: FhirAuth;
  timeoutMs: number;
  /** Who the Tasks are from (Task.requester display). */
  requester?: string;
}

/** The businessStatus of a Task this service completed because its reason had gone (not a clinician's doing). */
const RESOLVED = 'resolved';

/** On a draft order this service revoked (complete), so that it can tell its revocation from a clinician's. */
const REVOKED_TAG = surveillanceTag('revoked-as-resolved');
const isRevokedTag = (t: { system?: string; code?: string }) =>
  t.system === SURVEILLANCE_TAG_SYSTEM && t.code === REVOKED_TAG.code;

/** The identifier value of an entry's Task: one per patient, rule (due and overdue follow-up alike) and due date. */
export const taskKey = (i: Pick<WorklistItem, 'patientId' | 'rule' | 'dueDate'>): string => workFamilyOf(i);

export interface Published<T> {
  reference: string;
  created: boolean;
  /** What the server holds: the resource just created, or the one that already had the identifier. */
  resource: T;
}

export class TaskPublisher {
  private readonly o: TaskPublisherOptions;
  constructor(o: TaskPublisherOptions) {
    this.o = o;
  }

  private async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const what = `the Task server (${method} ${path.split('?')[0]})`;
    let res: Response;
    try {
      // authorizedFetch: a 401 with a cached Backend Services token is asked again once with a fresh one.
      res = await authorizedFetch(
        method,
        `${this.o.fhirBaseUrl.replace(/\/$/, '')}/${path}`,
        {
          auth: this.o.auth,
          timeoutMs: this.o.timeoutMs,
          headers: {
            accept: 'application/fhir+json',
            ...(body ? { 'content-type': 'application/fhir+json' } : {}),
            ...headers,
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
        },
        what,
      );
    } catch (err) {
      // Its token endpoint refusing our client is a refusal; the server or the token endpoint down, slow or not
      // up yet is worth retrying (the batch is).
      if (err instanceof RefusedError) throw new TaskServerError('upstream', err.message, 401);
      throw new TaskServerError('unavailable', `the Task server could not be reached: ${(err as Error).message}`);
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      // What the server said, when it said it as an OperationOutcome (a 403's reason is what an operator needs).
      let said: string | undefined;
      try {
        said = outcomeText(JSON.parse(text));
      } catch {
        said = undefined;
      }
      throw new TaskServerError(
        isRefusal(res.status) ? 'upstream' : 'unavailable',
        `the Task server answered ${res.status} to ${method} ${path.split('?')[0]}${said ? `: ${said}` : ''}`,
        res.status,
      );
    }
    try {
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
    } catch {
      // A 2xx whose body did not come whole (a proxy cut it): the write may have happened, and a retry is
      // idempotent (conditional create), so it is retried.
      throw new TaskServerError(
        'unavailable',
        `the Task server's answer to ${method} ${path.split('?')[0]} is not JSON`,
      );
    }
  }

  /** Conditional create: 201 created, 200 when a resource with the identifier exists (nothing written). */
  private async ensure<T extends Task | ServiceRequest>(resource: T, key: string): Promise<Published<T>> {
    const r = await this.request('POST', resource.resourceType, resource, {
      'if-none-exist': `identifier=${encodeURIComponent(`${WORKLIST_ENTRY_IDENTIFIER}|${key}`)}`,
    });
    const id = (r.body as { id?: string } | undefined)?.id;
    if (!id) throw new OsteoWatchError('upstream', `the Task server did not return the ${resource.resourceType}'s id`);
    return { reference: `${resource.resourceType}/${id}`, created: r.status === 201, resource: r.body as T };
  }

  /** The entry's Task (and its draft order), created unless it exists; the Task's reference. */
  async publish(item: WorklistItem, asOf: string, reason: string): Promise<string> {
    const rule = taskRuleOf(item.rule);
    const key = taskKey(item);
    const identifier = [{ system: WORKLIST_ENTRY_IDENTIFIER, value: key }];
    let basedOn: Task['basedOn'];
    let sr: Published<ServiceRequest> | undefined;
    if (item.suggestsOrder) {
      const window = { start: item.dueDate ?? asOf, ...(item.overdueFrom ? { end: item.overdueFrom } : {}) };
      sr = await this.ensure({ ...wbMriServiceRequest(item.patientId, window, reason), identifier }, key);
      basedOn = [{ reference: sr.reference }];
    }
    const task: Task = {
      resourceType: 'Task',
      identifier,
      status: 'ready',
      intent: 'order',
      priority: isUrgent(item.rule) ? 'urgent' : 'routine',
      code: { coding: [worklistRuleCoding(rule)], text: item.summary },
      description: item.summary,
      businessStatus: { text: item.rule === 'follow-up-overdue' ? 'overdue' : 'due' },
      for: { reference: `Patient/${item.patientId}` },
      authoredOn: asOf,
      requester: { display: this.o.requester ?? 'OsteoWatch cohort surveillance' },
      ...(basedOn ? { basedOn } : {}),
      restriction: { period: { start: item.dueDate ?? asOf, ...(item.overdueFrom ? { end: item.overdueFrom } : {}) } },
    };
    const t = await this.ensure(task, key);
    const held = t.resource;
    // The draft order this service revoked on resolving the Task is offered again with the Task, once the Task is
    // open (new, still open, or reopened below); not beside a Task a clinician has closed, which is theirs. After
    // the Task, so that a process stopped between the two redrafts it on the next run.
    const redraft = async () => {
      if (sr && !sr.created) await this.redraft(sr.resource);
    };
    if (t.created) {
      await redraft();
      return t.reference;
    }
    const update = {
      priority: task.priority,
      businessStatus: task.businessStatus,
      description: task.description,
      code: task.code,
    };
    if (held.status === 'completed' && held.businessStatus?.text === RESOLVED) {
      // A Task this service completed (complete() below) whose reason is back — the WB-MRI that resolved it entered
      // in error, a dose recorded and then taken out again — is opened again: its identifier names the same work,
      // and the conditional create hands back the closed Task, which would leave the entry with nothing open in
      // the EHR. One a clinician closed (without "resolved") is theirs, and stays as they left it.
      const { statusReason: _, ...rest } = held;
      await this.request('PUT', t.reference, { ...rest, ...update, status: 'ready', restriction: task.restriction });
      await redraft();
    } else if (held.status !== 'completed' && held.status !== 'cancelled') {
      // The same Task from an earlier run: a follow-up that has become overdue says so (businessStatus, priority).
      if (held.businessStatus?.text !== task.businessStatus?.text || held.priority !== task.priority)
        await this.request('PUT', t.reference, { ...held, ...update });
      await redraft();
    }
    return t.reference;
  }

  /**
   * Completes the Task of an entry whose reason has gone (the WB-MRI was done); nothing if there is none. The
   * reference of the Task found, if any.
   */
  async complete(item: Pick<WorklistItem, 'patientId' | 'rule' | 'dueDate'>, why: string): Promise<string | undefined> {
    const key = taskKey(item);
    const found = await this.request(
      'GET',
      `Task?identifier=${encodeURIComponent(`${WORKLIST_ENTRY_IDENTIFIER}|${key}`)}`,
    );
    const entries = ((found.body as { entry?: Array<{ resource?: Task }> } | undefined)?.entry ?? []).flatMap((e) =>
      e.resource?.resourceType === 'Task' ? [e.resource] : [],
    );
    for (const t of entries) {
      if (t.status === 'completed' || t.status === 'cancelled') continue;
      await this.request('PUT', `Task/${t.id}`, {
        ...t,
        status: 'completed',
        businessStatus: { text: RESOLVED },
        statusReason: { text: why },
      });
    }
    // The draft WB-MRI order the Task suggested is moot too: revoked, unless a clinician has since acted on it
    // (signed, it is no longer a draft, and no longer ours to change).
    const orders = await this.request(
      'GET',
      `ServiceRequest?identifier=${encodeURIComponent(`${WORKLIST_ENTRY_IDENTIFIER}|${key}`)}`,
    );
    for (const e of (orders.body as { entry?: Array<{ resource?: ServiceRequest }> } | undefined)?.entry ?? []) {
      const sr = e.resource;
      if (sr?.resourceType !== 'ServiceRequest' || sr.status !== 'draft') continue;
      // Tagged as this service's revocation: the draft is offered again if the reason comes back (redraft).
      const tag = [...(sr.meta?.tag ?? []).filter((t) => !isRevokedTag(t)), REVOKED_TAG];
      await this.putIfUnchanged({ ...sr, meta: { ...sr.meta, tag }, status: 'revoked' });
    }
    return entries[0]?.id ? `Task/${entries[0].id}` : undefined;
  }

  /**
   * A draft order this service revoked when its Task was resolved (tagged so) is a draft again once the Task's
   * reason is back: the reopened Task suggests it again. One revoked by a clinician (no tag), or signed, is left.
   */
  private async redraft(sr: ServiceRequest): Promise<void> {
    if (sr.status !== 'revoked' || !sr.meta?.tag?.some(isRevokedTag)) return;
    const tag = sr.meta.tag.filter((t) => !isRevokedTag(t));
    const { tag: _, ...meta } = sr.meta;
    await this.putIfUnchanged({ ...sr, meta: tag.length ? { ...meta, tag } : meta, status: 'draft' });
  }

  /**
   * Writes over the version read only: a clinician changing the order meanwhile (signing it) wins, the server
   * answering 412, and it is left as they made it.
   */
  private async putIfUnchanged(sr: ServiceRequest): Promise<void> {
    const version = sr.meta?.versionId;
    await this.request('PUT', `ServiceRequest/${sr.id}`, sr, version ? { 'if-match': `W/"${version}"` } : {}).catch(
      (err: unknown) => {
        if (!(err instanceof TaskServerError && err.status === 412)) throw err;
      },
    );
  }
}
