/**
 * The CSV reports (audit, worklist) as a spreadsheet reads them: RFC 4180 quoting, and no cell that a spreadsheet
 * would run as a formula (OWASP CSV injection: an override reason or a user id from a hook request is outside text).
 */
import { describe, expect, it } from 'vitest';
import { csvCell, toCsv } from '../../src/audit/csv.ts';

describe('toCsv', () => {
  it('quotes commas, quotes and line breaks (RFC 4180), CRLF line ends', () => {
    expect(toCsv([{ a: 'x,y', b: 'say "no"', c: 'two\nlines' }], ['a', 'b', 'c'])).toBe(
      'a,b,c\r\n"x,y","say ""no""","two\nlines"\r\n',
    );
    expect(toCsv([{ a: null, b: undefined, c: { k: 1 } }], ['a', 'b', 'c'])).toBe('a,b,c\r\n,,"{""k"":1}"\r\n');
  });

  it('text that a spreadsheet would run as a formula is written as text; numbers stay numbers', () => {
    expect(csvCell('=HYPERLINK("http://evil.example","click")')).toBe(
      `"'=HYPERLINK(""http://evil.example"",""click"")"`,
    );
    expect(csvCell('+1+1')).toBe("'+1+1");
    expect(csvCell('-2-3')).toBe("'-2-3");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tcmd')).toBe("'\tcmd");
    expect(csvCell('\r=1')).toBe(`"'\r=1"`);
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell('Patient/123')).toBe('Patient/123');
    expect(csvCell('a=b')).toBe('a=b');
  });
});
