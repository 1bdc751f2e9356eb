/**
 * Structured logs (pino). Never log tokens or patient data: request paths are logged with resource ids and
 * patient ids replaced and query values removed (redactPath), the Authorization header and bodies are never
 * logged, and third-party libraries that print what they were given (@lhncbc/ucum-lhc prints unit strings,
 * dcmjs prints DICOM element content) are kept off stdout/stderr: their messages become debug records without
 * their text (captureThirdPartyLogs).
 */
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'osteowatch' },
    redact: { paths: ['req.headers.authorization', 'authorization', 'token'], censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Path segments after which the next segment identifies a patient (the audit API: /audit/patients/ID). */
const PATIENT_COLLECTIONS = /\/(patients?|subjects?)\/(?![_$:])[^/?#]+/gi;
/** Query parameters whose value identifies nothing and is worth keeping (paging, formats, date ranges). */
const SAFE_PARAMS = new Set([
  '_count',
  '_offset',
  '_page',
  '_sort',
  '_summary',
  '_total',
  '_format',
  'format',
  'from',
  'to',
  'service',
]);
const SAFE_VALUE = /^[A-Za-z0-9_.:,-]{1,40}$/;
const PARAM_NAME = /^[A-Za-z0-9_.:-]{1,40}$/;

function redactQuery(query: string): string {
  const parts = query
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=');
      let name: string;
      let value: string | undefined;
      try {
        name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
        value = eq < 0 ? undefined : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
      } catch {
        return '?';
      }
      // A name can carry data too (`?ow-0001`): only short names of parameter characters are kept.
      if (!PARAM_NAME.test(name)) return '?';
      // A bare `?word` is the data itself.
      if (value === undefined) return SAFE_PARAMS.has(name) ? name : '?';
      const base = name.split(':')[0]!;
      return SAFE_PARAMS.has(base) && SAFE_VALUE.test(value) ? `${name}=${value}` : `${name}=:v`;
    });
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * A request path fit for the logs: "/fhir/Patient/ow-0001/_history/2?subject=Patient/ow-0001&_count=10" →
 * "/fhir/Patient/:id/_history/:vid?subject=:v&_count=10"; "/audit/patients/ow-0001" → "/audit/patients/:id".
 * Every id after a FHIR resource type or a patients collection is replaced, and every query value but those of
 * a few non-identifying parameters.
 */
export function redactPath(path: string): string {
  const q = path.indexOf('?');
  const p = q < 0 ? path : path.slice(0, q);
  const redacted = p
    // FHIR: /Type/id, but not /Type/_search, /Type/_history, /Type/$operation.
    .replace(/\/([A-Z][A-Za-z]+)\/(?![_$])[^/]+/g, '/$1/:id')
    .replace(/\/_history\/[^/]+/g, '/_history/:vid')
    .replace(PATIENT_COLLECTIONS, (_m, collection: string) => `/${collection}/:id`);
  return redacted + (q < 0 ? '' : redactQuery(path.slice(q + 1).split('#')[0]!));
}

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
type ConsoleMethod = (typeof CONSOLE_METHODS)[number];

/** The package ("dcmjs", "@lhncbc/ucum-lhc") a stack frame line is in, or undefined for ours and Node's. */
function packageOfFrame(frame: string | undefined): string | undefined {
  return /[/\\]node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)[/\\]/.exec(frame ?? '')?.[1]?.replace(/\\/g, '/');
}

/** Where console output of a third-party package goes instead: a debug record naming the package, never the text. */
function dropped(logger: Logger, source: string, method: string): void {
  logger.debug({ source, method }, 'third-party log message (content not logged)');
}

let restoreConsole: (() => void) | undefined;

/**
 * Installs, once, a console shim: a console call made from inside node_modules is turned into a debug record of
 * `logger` without its content; our own console calls are passed through. Returns a function that undoes it.
 */
export function installConsoleShim(logger: Logger): () => void {
  restoreConsole?.();
  const originals = new Map<ConsoleMethod, (...args: unknown[]) => void>();
  for (const method of CONSOLE_METHODS) {
    const original = console[method] as (...args: unknown[]) => void;
    originals.set(method, original);
    const shim = function (this: unknown, ...args: unknown[]): void {
      const holder: { stack?: string } = {};
      Error.captureStackTrace(holder, shim);
      const caller = holder.stack?.split('\n')[1];
      const pkg = packageOfFrame(caller);
      if (pkg) dropped(logger, pkg, method);
      else original.apply(console, args);
    };
    console[method] = shim;
  }
  const restore = () => {
    for (const [method, original] of originals) console[method] = original;
    if (restoreConsole === restore) restoreConsole = undefined;
  };
  restoreConsole = restore;
  return restore;
}

interface LogLevelLike {
  methodFactory: (methodName: string, level: unknown, loggerName: unknown) => (...args: unknown[]) => void;
  rebuild?: () => void;
  setLevel: (level: unknown) => void;
  getLevel: () => unknown;
}

/**
 * Keeps third-party libraries' own output off stdout/stderr: the console shim (ucum-lhc prints with console.log
 * when a unit string fails to parse, dcmjs now and then with console.error), and dcmjs's `loglevel` loggers —
 * which bound the console's methods when dcmjs was loaded, so the shim alone does not see them — rebuilt to log
 * through `logger` at debug level, without the message (it holds element values of the file read).
 */
export async function captureThirdPartyLogs(logger: Logger): Promise<() => void> {
  const restore = installConsoleShim(logger);
  const dcmjs = (await import('dcmjs')) as unknown as { log?: LogLevelLike; default?: { log?: LogLevelLike } };
  const log = dcmjs.log ?? dcmjs.default?.log;
  if (log) {
    log.methodFactory = (methodName) => () => dropped(logger, 'dcmjs', methodName);
    if (log.rebuild) log.rebuild();
    else log.setLevel(log.getLevel());
  }
  return restore;
}
