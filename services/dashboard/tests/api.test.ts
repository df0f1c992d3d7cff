import { describe, expect, it } from 'vitest';
import { fetchHistory, historyUrl, parseHistory } from '../src/api';
import { aggregate, BITCOIN, ETHEREUM } from './fixtures';

describe('historyUrl', () => {
  it('is api/history under the configured API URL, with the coin as a query parameter', () => {
    expect(historyUrl('https://pulse.example.org/', 'avalanche-2')).toBe(
      'https://pulse.example.org/api/history?coin=avalanche-2',
    );
    expect(historyUrl('https://example.org/pulse/', 'a b')).toBe('https://example.org/pulse/api/history?coin=a+b');
  });
});

describe('parseHistory', () => {
  it('keeps the valid records of the coin asked for and says why others were dropped', () => {
    const result = parseHistory({ coin_id: 'bitcoin', data: [BITCOIN, ETHEREUM, { coin: 'X' }] }, 'bitcoin');
    expect(result.kind).toBe('ok');
    if (result.kind !== 'ok') return;
    expect(result.records).toEqual([BITCOIN]);
    expect(result.problems).toEqual([
      'dropped a record of ethereum, not bitcoin',
      'dropped record ?: field coin_id should be a non-empty string, got undefined',
    ]);
  });

  it('fails a body without a data list', () => {
    expect(parseHistory({ coin_id: 'bitcoin' }, 'bitcoin')).toEqual({ kind: 'failed', reason: 'the body has no data list' });
    expect(parseHistory(null, 'bitcoin').kind).toBe('failed');
  });
});

describe('fetchHistory', () => {
  const answer = (response: Response | Error): typeof fetch => async () => {
    if (response instanceof Error) throw response;
    return response;
  };

  it('reads the records of a 200', async () => {
    const body = { coin_id: 'bitcoin', data: [aggregate()] };
    const result = await fetchHistory('http://api/', 'bitcoin', answer(Response.json(body)));
    expect(result).toEqual({ kind: 'ok', records: [BITCOIN], problems: [] });
  });

  it('reads a 404 as an API without history, and says what else went wrong', async () => {
    expect(await fetchHistory('http://api/', 'bitcoin', answer(new Response('', { status: 404 })))).toEqual({
      kind: 'missing',
    });
    expect(await fetchHistory('http://api/', 'bitcoin', answer(new Response('', { status: 503 })))).toEqual({
      kind: 'failed',
      reason: 'http://api/api/history?coin=bitcoin answered 503',
    });
    const refused = await fetchHistory('http://api/', 'bitcoin', answer(new TypeError('fetch failed')));
    expect(refused).toEqual({ kind: 'failed', reason: 'http://api/api/history?coin=bitcoin: TypeError: fetch failed' });
  });

  it('is cancelled by the caller\'s signal', async () => {
    const cancel = new AbortController();
    let seen: AbortSignal | null | undefined;
    const hanging: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        seen = init?.signal;
        init?.signal?.addEventListener('abort', () => reject(new Error('aborted')));
      });
    const pending = fetchHistory('http://api/', 'bitcoin', hanging, cancel.signal);
    cancel.abort();
    expect(await pending).toEqual({ kind: 'failed', reason: 'http://api/api/history?coin=bitcoin: Error: aborted' });
    expect(seen?.aborted).toBe(true);
  });
});
