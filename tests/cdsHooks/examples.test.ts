import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exampleExchanges } from '../helpers/exchanges.ts';

const read = (f: string) => JSON.parse(readFileSync(new URL(`../../cds-hooks/examples/${f}`, import.meta.url), 'utf8'));
const shape = (cards: Array<{ indicator: string; summary: string; suggestions?: Array<{ label: string }> }>) =>
  cards.map((c) => ({ indicator: c.indicator, summary: c.summary, suggestions: c.suggestions?.map((s) => s.label) }));

describe('cds-hooks/examples (run `node scripts/example-exchanges.ts` after changing the cards)', () => {
  it('the committed exchanges are what the service answers to those requests', async () => {
    for (const ex of await exampleExchanges()) {
      const committed = read(`${ex.name}.response.json`);
      expect(shape(committed.cards)).toEqual(shape((ex.response as { cards: never[] }).cards));
      expect(read(`${ex.name}.request.json`).context).toEqual(ex.request.context);
    }
    // It starts a whole harness (store, FHIR definitions) inside the test: slow on a busy machine.
  }, 120_000);
});
