/** `npm run bench`: prints figures; it does not pass or fail. */
import { runAuditBench } from './audit.ts';
import { runCdsBench } from './cds.ts';
import { runEnduranceBench } from './endurance.ts';
import { runExposureBench } from './exposure.ts';
import { runSurveillanceBench } from './surveillance.ts';

const mem = () => `${(process.memoryUsage().heapUsed / 1e6).toFixed(1)} MB heap`;
console.log(`OsteoWatch benchmarks — Node ${process.version}, ${mem()} at start`);
await runExposureBench();
await runCdsBench();
await runAuditBench();
await runSurveillanceBench();
await runEnduranceBench();
console.log(`\n${mem()} at end`);
