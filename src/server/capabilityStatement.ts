/**
 * The demo FHIR server's CapabilityStatement, answered at GET [base]/metadata
 * (https://hl7.org/fhir/R4/http.html#capabilities): what FHIR clients read before anything else to learn the
 * version, formats, resource types, interactions and search parameters. Built once from the same search
 * parameter table the search check uses (searchParams.ts); implementation.url, the SMART security block and the
 * Group $export operation are added per server (fhirRoutes.ts).
 */
import type {
  CapabilityStatement,
  CapabilityStatementRest,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceSearchParam,
  ResourceType,
} from '@medplum/fhirtypes';
import { MODIFIERS, supportedSearchParams } from './searchParams.ts';

/**
 * The resource types the demo cohort holds (src/cohort/generate.ts) and OsteoWatch reads or writes: the
 * glucocorticoid records and their Medications, the diagnoses, WB-MRI studies, reports, orders and findings, and
 * the Provenance of findings written back. The server stores any R4 type; these are the ones it is described for.
 */
export const DEMO_RESOURCE_TYPES = [
  'Patient',
  'Condition',
  'Medication',
  'MedicationStatement',
  'MedicationRequest',
  'MedicationAdministration',
  'ImagingStudy',
  'DiagnosticReport',
  'ServiceRequest',
  'Observation',
  'Provenance',
] as const;

/**
 * Types the statement describes besides those (not exported in bulk): the cohort's Group (Bulk Data export) and
 * Task (worklist follow-up).
 */
const OTHER_TYPES = ['Group', 'Task'] as const;

/** The type-level and instance-level interactions Medplum's router and repository serve for every type. */
const INTERACTIONS = ['read', 'vread', 'update', 'delete', 'history-instance', 'create', 'search-type'] as const;

function searchParams(type: string): CapabilityStatementRestResourceSearchParam[] {
  return [...supportedSearchParams(type).values()]
    .sort((a, b) => a.code.localeCompare(b.code))
    .map((p) => {
      const modifiers = MODIFIERS[p.type].map((m) => `:${m}`).join(', ');
      const reference = p.type === 'reference' ? ', :[type]; chains one link deep' : '';
      return {
        name: p.code,
        definition: p.definition,
        type: p.type,
        documentation: `Modifiers: ${modifiers}${reference}`,
      };
    });
}

function resource(type: ResourceType): CapabilityStatementRestResource {
  return {
    type,
    interaction: INTERACTIONS.map((code) => ({ code })),
    versioning: 'versioned',
    readHistory: true,
    conditionalCreate: true,
    searchParam: searchParams(type),
  };
}

function build(): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    publisher: 'OsteoWatch',
    kind: 'instance',
    implementation: {
      description: 'OsteoWatch demo FHIR R4 server: a synthetic myositis cohort, in memory',
    },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Unknown search parameters are ignored (the Bundle carries a warning), or refused with 400 under ' +
          'Prefer: handling=strict. Search by POST takes an application/x-www-form-urlencoded body.',
        // The server sends CORS headers (src/server/cors.ts) and asks for no authentication: demo data only.
        security: { cors: true, description: 'No authentication: the demo holds synthetic data only.' },
        resource: [...DEMO_RESOURCE_TYPES, ...OTHER_TYPES].sort().map(resource),
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}

let statement: CapabilityStatement | undefined;

export interface CapabilityOptions {
  /** SMART on FHIR (https://hl7.org/fhir/smart-app-launch/conformance.html#using-cors): the OAuth endpoints. */
  oauth?: { authorize: string; token: string };
  /** Bulk Data group export is offered (Group/[id]/$export). */
  bulk?: boolean;
}

const OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';
const GROUP_EXPORT = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export';

function security(oauth: NonNullable<CapabilityOptions['oauth']>): CapabilityStatementRest['security'] {
  return {
    cors: true,
    service: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }],
        text: 'OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)',
      },
    ],
    extension: [
      {
        url: OAUTH_URIS,
        extension: [
          { url: 'authorize', valueUri: oauth.authorize },
          { url: 'token', valueUri: oauth.token },
        ],
      },
    ],
    description:
      'SMART App Launch (EHR and standalone, public apps with PKCE S256) and SMART Backend Services. Tokens are ' +
      'required by Bulk Data $export only; the other interactions are open (synthetic demo data) and ignore a token.',
  };
}

/** The CapabilityStatement for the server at baseUrl ("http://host:port/fhir"). */
export function capabilityStatement(baseUrl: string, o: CapabilityOptions = {}): CapabilityStatement {
  // Built on first use, once the definitions are loaded: a table built before would have no search parameters.
  const built = statement ?? build();
  if (built.rest?.[0]?.resource?.[0]?.searchParam?.length) statement = built;
  const rest = built.rest![0]!;
  const resources = rest.resource!.map((r) =>
    o.bulk && r.type === 'Group' ? { ...r, operation: [{ name: 'export', definition: GROUP_EXPORT }] } : r,
  );
  return {
    ...built,
    ...(o.bulk ? { instantiates: ['http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data'] } : {}),
    implementation: { description: built.implementation!.description, url: baseUrl },
    rest: [{ ...rest, resource: resources, ...(o.oauth ? { security: security(o.oauth) } : {}) }],
  };
}
