/**
 * The audit trail as FHIR R4 AuditEvents following the IHE Basic Audit Log Patterns (BALP): a CDS Hooks call
 * and an auditor's query are Patient Queries (the service searched the patient's steroid data), feedback
 * and write-backs are Patient Creates, a refused write-back a Create that failed (outcome 4 for a refusal of
 * the caller's input, 8 for a failure on the server side), a surveillance run is a (cohort) Query. What the
 * service wrote to the EHR also gets a Provenance. Pure: audit rows in, resources out.
 * https://profiles.ihe.net/ITI/BALP/
 */

import type { AuditEvent, AuditEventAgent, AuditEventEntity, Bundle, Provenance, Resource } from '@medplum/fhirtypes';
import { DCM } from '../terminology/systems.ts';
import type { AuditRow } from './chain.ts';

const BALP = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.';
const REST = {
  system: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
  code: 'rest',
  display: 'Restful Operation',
};
const INTERACTION = 'http://hl7.org/fhir/restful-interaction';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const SERVICE_DEVICE = { display: 'OsteoWatch', identifier: { system: 'urn:osteowatch', value: 'osteowatch' } };

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

const patientEntity = (id: string): AuditEventEntity => ({
  what: { reference: `Patient/${id}` },
  type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
  role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
});

const transactionEntity = (value: string): AuditEventEntity => ({
  what: { identifier: { value } },
  type: {
    system: 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType',
    code: 'XrequestId',
    display: 'X-Request-Id',
  },
});

const serverAgent = (): AuditEventAgent => ({
  type: { coding: [{ system: DCM, code: '110152', display: 'Destination Role ID' }] },
  who: SERVICE_DEVICE,
  requestor: false,
});

function clientAgent(who: string): AuditEventAgent {
  return {
    type: { coding: [{ system: DCM, code: '110153', display: 'Source Role ID' }] },
    who: { identifier: { value: who } },
    requestor: false,
  };
}

function userAgent(who: string): AuditEventAgent {
  const isRef = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]+$/.test(who);
  return {
    type: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
          code: 'IRCP',
          display: 'information recipient',
        },
      ],
    },
    who: isRef ? { reference: who } : { identifier: { value: who } },
    requestor: true,
  };
}

function base(row: AuditRow, profile: string, subtype: string, action: 'E' | 'C' | 'R'): AuditEvent {
  return {
    resourceType: 'AuditEvent',
    id: `osteowatch-${row.seq}`,
    meta: { profile: [`${BALP}${profile}`] },
    type: REST,
    subtype: [{ system: INTERACTION, code: subtype }],
    action,
    recorded: row.recordedAt,
    outcome: '0',
    source: {
      site: row.tenant ?? undefined,
      observer: SERVICE_DEVICE,
      type: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/security-source-type',
          code: '4',
          display: 'Application Server',
        },
      ],
    },
    agent: [],
    entity: [],
    // The chain hash lets a reader check the export against `osteowatch audit verify`.
    extension: [{ url: 'urn:osteowatch:audit-hash', valueString: row.hash }],
  };
}

function queryEntity(description: string, query: string): AuditEventEntity {
  return {
    type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
    role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
    description,
    query: b64(query),
  };
}

/** One audit row → its AuditEvents (a write-back gives one per resource written) and Provenance. */
export function toFhir(row: AuditRow): Resource[] {
  const p = row.payload;
  switch (row.kind) {
    case 'hook-invocation': {
      const e = base(row, row.patientId ? 'PatientQuery' : 'Query', 'search-type', 'E');
      const sources = (p.dataSources as string[] | undefined) ?? [];
      e.agent.push(serverAgent());
      if (p.clientIss) e.agent.push(clientAgent(String(p.clientIss)));
      if (p.userRef) e.agent.push(userAgent(String(p.userRef)));
      if (e.agent.length === 1) e.agent.push(clientAgent('unknown'));
      e.entity!.push(
        queryEntity(`CDS Hooks ${p.hook} → ${p.service}`, `POST /cds-services/${p.service}\n${sources.join('\n')}`),
      );
      if (row.patientId) e.entity!.push(patientEntity(row.patientId));
      e.entity!.push(transactionEntity(String(p.hookInstance)));
      return [e];
    }
    case 'audit-query': {
      const e = base(row, row.patientId ? 'PatientQuery' : 'Query', 'search-type', 'E');
      e.agent.push(serverAgent(), userAgent(row.actor ?? 'unknown'));
      e.entity!.push(queryEntity('steroid-exposure audit query', String(p.query)));
      if (row.patientId) e.entity!.push(patientEntity(row.patientId));
      return [e];
    }
    case 'surveillance-run': {
      const e = base(row, 'Query', 'search-type', 'E');
      e.agent.push(serverAgent(), clientAgent('osteowatch-surveillance'));
      e.entity!.push(queryEntity('cohort surveillance run', `surveillance run ${p.runId}`));
      e.entity!.push(transactionEntity(String(p.runId)));
      // A run that failed (cancelled, abandoned, its cohort unreadable) is a failed query: 8, serious failure
      // (https://hl7.org/fhir/R4/valueset-audit-event-outcome.html), with its reason.
      const summary = (p.summary ?? {}) as { status?: string; error?: string | null };
      if (summary.status === 'failed') {
        e.outcome = '8';
        e.outcomeDesc = `surveillance run failed: ${summary.error ?? 'no reason recorded'}`;
      }
      return [e];
    }
    case 'card-feedback': {
      const e = base(row, row.patientId ? 'PatientCreate' : 'Create', 'create', 'C');
      e.agent.push(serverAgent(), clientAgent(row.actor ?? 'cds-client'));
      e.entity!.push({
        what: { identifier: { system: 'urn:osteowatch:card', value: String(p.card) } },
        type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
        role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
        description: `CDS Hooks feedback: ${p.outcome}`,
      });
      if (row.patientId) e.entity!.push(patientEntity(row.patientId));
      return [e];
    }
    case 'write-back': {
      const refs = (p.resourceRefs as string[] | undefined) ?? [];
      const out: Resource[] = refs.map((ref, i) => {
        const e = base(row, 'PatientCreate', 'create', 'C');
        e.id = `osteowatch-${row.seq}-${i + 1}`;
        e.agent.push(
          {
            type: { coding: [{ system: DCM, code: '110153', display: 'Source Role ID' }] },
            who: SERVICE_DEVICE,
            requestor: true,
          },
          {
            type: { coding: [{ system: DCM, code: '110152', display: 'Destination Role ID' }] },
            who: { identifier: { value: String(p.fhirServer ?? 'ehr') } },
            requestor: false,
          },
        );
        e.entity!.push({
          what: { reference: ref },
          type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
          role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
        });
        if (row.patientId) e.entity!.push(patientEntity(row.patientId));
        return e;
      });
      const provenance: Provenance = {
        resourceType: 'Provenance',
        id: `osteowatch-${row.seq}-provenance`,
        target: refs.map((reference) => ({ reference })),
        recorded: row.recordedAt,
        activity: {
          coding: [
            { system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE', display: 'create' },
          ],
        },
        agent: [
          {
            type: {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
                  code: 'assembler',
                  display: 'Assembler',
                },
              ],
            },
            who: SERVICE_DEVICE,
          },
        ],
        ...(p.studyUid
          ? {
              entity: [
                {
                  role: 'source' as const,
                  what: { identifier: { system: 'urn:dicom:uid', value: `urn:oid:${p.studyUid}` } },
                },
              ],
            }
          : {}),
      };
      return [...out, provenance];
    }
    case 'write-back-refused': {
      const e = base(row, row.patientId ? 'PatientCreate' : 'Create', 'create', 'C');
      const status = Number(p.status);
      // https://hl7.org/fhir/R4/valueset-audit-event-outcome.html: 4 minor failure, 8 serious failure.
      e.outcome = status >= 500 ? '8' : '4';
      const fields = (p.fields as string[] | undefined) ?? [];
      e.outcomeDesc = `write-back refused: ${status} ${String(p.reason)}${fields.length ? ` (${fields.join(', ')})` : ''}`;
      e.agent.push(
        {
          type: { coding: [{ system: DCM, code: '110153', display: 'Source Role ID' }] },
          who: { identifier: { value: row.actor ?? 'unknown' } },
          requestor: true,
        },
        serverAgent(),
      );
      if (p.studyUid)
        e.entity!.push({
          what: { identifier: { system: 'urn:dicom:uid', value: `urn:oid:${p.studyUid}` } },
          type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
          role: { system: OBJECT_ROLE, code: '3', display: 'Report' },
          description: 'WB-MRI findings of this study (not written)',
        });
      if (row.patientId) e.entity!.push(patientEntity(row.patientId));
      return [e];
    }
    default:
      return [];
  }
}

export function auditBundle(rows: AuditRow[], nextUrl?: string): Bundle {
  const entry = rows
    .flatMap(toFhir)
    .map((resource) => ({ fullUrl: `urn:osteowatch:${resource.resourceType}/${resource.id}`, resource }));
  return {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp: new Date().toISOString(),
    ...(nextUrl ? { link: [{ relation: 'next', url: nextUrl }] } : {}),
    entry,
  };
}
