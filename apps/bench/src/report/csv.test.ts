import { describe, expect, it } from 'vitest';
import { SAMPLE_METHODS, sampleOutcomes } from './__fixtures__/outcomes.js';
import { aggregate } from './aggregate.js';
import { csvField, csvReport } from './csv.js';

/** A tiny RFC 4180 parser (quoted fields with doubled quotes, CRLF records). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

describe('csvField', () => {
  it('quotes only what needs quoting and round-trips', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    const nasty = ['a,"b"\nc', 'x\r\ny', '', '"'];
    const line = `${nasty.map(csvField).join(',')}\r\n`;
    expect(parseCsv(line)).toEqual([nasty]);
  });
});

describe('csvReport', () => {
  const groups = aggregate(sampleOutcomes(), SAMPLE_METHODS);
  const rows = parseCsv(csvReport(groups));
  const header = rows[0]!;
  const records = rows.slice(1).map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));

  it('has one row per (group, method), every row as wide as the header', () => {
    expect(rows.length - 1).toBe(groups.reduce((a, g) => a + g.rows.length, 0));
    for (const r of rows) expect(r).toHaveLength(header.length);
    expect(header.slice(0, 6)).toEqual(['dataset', 'setting', 'targets', 'method', 'role', 'n']);
    expect(header.slice(-10)).toEqual([
      'mia_auc.mean',
      'mia_auc.std',
      'uis.mean',
      'uis.std',
      'uis_r.mean',
      'uis_r.std',
      'seconds.mean',
      'seconds.std',
      'status',
      'reason',
    ]);
  });

  it('uses the union of the datasets’ columns, blank where a task does not apply', () => {
    expect(header).toContain('segmentation.mIoU.forget.mean');
    expect(header).toContain('depth.delta1.test.std');
    expect(header).toContain('left.accuracy.retain.mean');
    const mnist = records.find(
      (r) => r['dataset'] === 'multi-mnist' && r['method'] === 'finetune',
    )!;
    expect(mnist['segmentation.mIoU.forget.mean']).toBe('');
    expect(Number(mnist['left.accuracy.forget.mean'])).toBeCloseTo(0.6, 12);
    expect(mnist['left.accuracy.forget.std']).toBe(''); // n = 1
    const pgu = records.find(
      (r) => r['dataset'] === 'scenes' && r['setting'] === 'full-task' && r['method'] === 'pgu',
    )!;
    expect(pgu['targets']).toBe('segmentation;depth');
    expect(pgu['role']).toBe('baseline');
    expect(pgu['n']).toBe('2');
    expect(Number(pgu['segmentation.mIoU.forget.mean'])).toBeCloseTo(0.435, 12);
    expect(Number(pgu['segmentation.mIoU.forget.std'])).toBeCloseTo(0.01 / Math.SQRT2, 12);
    expect(Number(pgu['seconds.mean'])).toBeCloseTo(3.5, 12);
    expect(pgu['status']).toBe('done');
  });

  it('quotes reasons and names with commas and quotes, and they parse back', () => {
    const text = csvReport(groups);
    expect(text).toContain('"bad value ""lr"", got 1e9 (2 seeds)"');
    const failed = records.find((r) => r['method'] === 'finetune' && r['dataset'] === 'scenes')!;
    expect(failed['status']).toBe('failed');
    expect(failed['reason']).toBe('bad value "lr", got 1e9 (2 seeds)');
    expect(failed['uis.mean']).toBe('');
    const na = records.find((r) => r['method'] === 'salun')!;
    expect(na['status']).toBe('not-applicable');
    expect(na['reason']).toBe('needs a classifier');
    expect(records.map((r) => r['method'])).toContain('original');
    expect(records.find((r) => r['method'] === 'retrained')?.['role']).toBe('reference');
  });
});
