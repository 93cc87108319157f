import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, projectApiKey, EMPTY_PROJECT_ID, type PostHogEmulator } from '../src/posthog/index';

/** The PostHog emulator's capture API: project keys, persons as PostHog makes them, dedup by uuid, the flags check. */
let ph: PostHogEmulator;
const KEY = projectApiKey(EMPTY_PROJECT_ID);
const post = async (path: string, body: unknown) => {
  const r = await fetch(`${ph.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};
const project = () => ph.projects.get(EMPTY_PROJECT_ID)!;

beforeAll(async () => {
  ph = await start({ events: 0, customers: [] });
});
afterAll(async () => {
  await ph.close();
});

describe('posthog emulator: capture', () => {
  it('refuses an unknown or missing project key with 401 invalid_api_key, and a personal key too', async () => {
    for (const body of [{ api_key: 'phc_nope', batch: [{ event: 'x', distinct_id: 'a' }] }, { batch: [{ event: 'x', distinct_id: 'a' }] }, { api_key: 'phx_demo0000000000000000000000000000000000000000', batch: [] }]) {
      const r = await post('/batch/', body);
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    }
    expect(project().events).toHaveLength(0);
  });

  it('$identify makes an identified person with $set; other events join it; a uuid sent twice is stored once', async () => {
    const uuid = '0b3c9a1e-1111-5222-8333-444455556666';
    const batch = [
      { event: '$identify', distinct_id: 'ada@example.com', uuid, timestamp: '2024-05-01T10:00:00Z', properties: { $set: { email: 'ada@example.com', name: 'Ada' } } },
      { event: 'order completed', distinct_id: 'ada@example.com', uuid: '0b3c9a1e-1111-5222-8333-444455556667', timestamp: '2024-05-02T10:00:00Z', properties: { revenue: 10 } },
    ];
    expect((await post('/batch/', { api_key: KEY, historical_migration: true, batch })).status).toBe(200);
    expect((await post('/batch', { api_key: KEY, batch })).body).toEqual({ status: 'Ok' });
    expect(project().events.map((e) => e.uuid)).toEqual([uuid, '0b3c9a1e-1111-5222-8333-444455556667']);
    expect(ph.capture.received.filter((e) => e.duplicate)).toHaveLength(2);
    const person = project().persons.get(project().pdi.get('ada@example.com')!)!;
    expect(person).toMatchObject({ is_identified: true, properties: { email: 'ada@example.com', name: 'Ada' } });
    expect(project().persons.size).toBe(1);
  });

  it('a single event on /i/v0/e/; `$process_person_profile: false` makes no person; a malformed event is a 400', async () => {
    expect((await post('/i/v0/e/', { api_key: KEY, event: 'order completed', distinct_id: 'guest@example.com', properties: { $process_person_profile: false } })).status).toBe(200);
    expect(project().pdi.has('guest@example.com')).toBe(false);
    expect((await post('/i/v0/e/', { api_key: KEY, event: 'page', distinct_id: 'anon-1' })).status).toBe(200);
    expect(project().persons.get(project().pdi.get('anon-1')!)!.is_identified).toBe(false);
    expect((await post('/batch/', { api_key: KEY, batch: [{ event: 'x' }] })).status).toBe(400);
    expect((await post('/batch/', { api_key: KEY, batch: [{ event: 'x', distinct_id: 'a', uuid: 'not-a-uuid' }] })).status).toBe(400);
  });

  it('/flags authenticates the key and stores nothing', async () => {
    const before = project().events.length;
    expect((await post('/flags/?v=2', { api_key: KEY, distinct_id: 'x' })).status).toBe(200);
    expect((await post('/flags/?v=2', { api_key: 'phc_nope', distinct_id: 'x' })).status).toBe(401);
    expect(project().events.length).toBe(before);
  });

  it('faults go through the server fault list (429 with Retry-After)', async () => {
    ph.faults.push({ match: (r) => r.path.startsWith('/batch'), times: 1, kind: { type: 'status', status: 429, headers: { 'retry-after': '2' } } });
    const r = await fetch(`${ph.url}/batch/`, { method: 'POST', body: JSON.stringify({ api_key: KEY, batch: [] }) });
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('2');
  });
});
