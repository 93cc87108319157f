import { describe, it, expect } from 'vitest';
import { bindLogger, createLogger, logFormat, registerSecret } from '../../packages/core/src/index';
import { temporalLogger } from '../../workflows/src/telemetry';

/** The logger: format choice, JSON lines with bindings, human lines, redaction of values and secret-named fields. */
function sink() {
  const lines: string[] = [];
  return { lines, stream: { write: (s: string) => void lines.push(s) } };
}

describe('logger', () => {
  it('chooses JSON off a terminal, human lines on one, and obeys SLUICE_LOG_FORMAT', () => {
    expect(logFormat({}, { isTTY: false })).toBe('json');
    expect(logFormat({}, { isTTY: true })).toBe('pretty');
    expect(logFormat({ SLUICE_LOG_FORMAT: 'json' }, { isTTY: true })).toBe('json');
    expect(logFormat({ SLUICE_LOG_FORMAT: 'pretty' }, { isTTY: false })).toBe('pretty');
  });

  it('writes one JSON object per line with bindings, redacting registered secrets and secret-named fields', () => {
    registerSecret('tok_logger_test_9d8e7f');
    const s = sink();
    const log = createLogger({ format: 'json', level: 'debug', destination: s.stream });
    const bound = bindLogger(log, { source: 'shop', table: 'orders' });
    bound.info('request failed with tok_logger_test_9d8e7f', { attempt: 2, headers: { authorization: 'Bearer abc' }, clientSecret: 'xyz' });
    expect(s.lines).toHaveLength(1);
    const o = JSON.parse(s.lines[0]!) as Record<string, unknown>;
    expect(o).toMatchObject({ level: 30, source: 'shop', table: 'orders', attempt: 2, msg: 'request failed with ***', headers: { authorization: '***' }, clientSecret: '***' });
    expect(typeof o.time).toBe('string');
    expect(s.lines[0]).not.toContain('tok_logger_test_9d8e7f');
    expect(s.lines[0]).not.toContain('abc');
  });

  it('renders human lines on a terminal', () => {
    const s = sink();
    const log = createLogger({ format: 'pretty', level: 'info', destination: s.stream });
    bindLogger(log, { source: 'shop', table: 'orders' }).warn('rate limited', { waitMs: 1200 });
    log.debug('hidden');
    expect(s.lines).toHaveLength(1);
    expect(s.lines[0]).toMatch(/^\d\d:\d\d:\d\d WARN {2}shop\.orders {2}rate limited {2}waitMs=1200\n$/);
  });

  it('carries Temporal log metadata and errors as fields, without task tokens', () => {
    const s = sink();
    const t = temporalLogger(createLogger({ format: 'json', level: 'info', destination: s.stream }));
    const err = Object.assign(new Error('boom tok_logger_test_9d8e7f'), { type: 'Sluice.auth' });
    t.warn('Activity failed', { workflowId: 'sluice:shop:orders', activityType: 'extractTable', taskToken: 'AAAA', error: err });
    const o = JSON.parse(s.lines[0]!) as Record<string, unknown>;
    expect(o).toMatchObject({ level: 40, workflowId: 'sluice:shop:orders', activityType: 'extractTable', error: { name: 'Error', message: 'boom ***', type: 'Sluice.auth' } });
    expect(o.taskToken).toBeUndefined();
  });
});
