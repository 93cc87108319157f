import { describe, expect, it } from 'vitest';
import { SluiceError } from '@sluice/core';
import { SchemaContractError, enforceContract } from '../src/contract';
import type { Column } from '../src/schema';

const table: Column[] = [
  { name: 'id', type: 'BIGINT' },
  { name: 'total', type: 'BIGINT' },
  { name: 'status', type: 'VARCHAR' },
];

describe('enforceContract', () => {
  const staged: Column[] = [
    { name: 'id', type: 'BIGINT' },
    { name: 'total', type: 'DOUBLE' },
    { name: 'status', type: 'BIGINT' },
    { name: 'note', type: 'VARCHAR' },
  ];

  it('evolve (and no contract) passes everything through', () => {
    expect(enforceContract('evolve', 'shop.orders', table, staged)).toEqual({ staged, discarded: [] });
    expect(enforceContract(undefined, 'shop.orders', table, staged)).toEqual({ staged, discarded: [] });
  });

  it('a table without columns yet (first sync) takes the records as they come, whatever the contract', () => {
    expect(enforceContract('freeze', 'shop.orders', [], staged)).toEqual({ staged, discarded: [] });
    expect(enforceContract('discard_new_columns', 'shop.orders', [], staged)).toEqual({ staged, discarded: [] });
  });

  it('freeze fails with every change listed, as a non-retryable error', () => {
    let err: unknown;
    try {
      enforceContract('freeze', 'shop.orders', table, staged);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaContractError);
    expect((err as SluiceError).retryable).toBe(false);
    expect((err as SluiceError).kind).toBe('schema_contract');
    const msg = (err as Error).message;
    expect(msg).toContain('shop.orders has schema: freeze');
    expect(msg).toContain('+ note VARCHAR (new column)');
    expect(msg).toContain('~ total BIGINT → DOUBLE (widening)');
    expect(msg).toContain('~ status VARCHAR → JSON (incompatible type');
    expect((err as SchemaContractError).changes).toHaveLength(3);
  });

  it('freeze passes records that fit (fewer fields, same types)', () => {
    const fits: Column[] = [{ name: 'id', type: 'BIGINT' }, { name: 'status', type: 'VARCHAR' }];
    expect(enforceContract('freeze', 'shop.orders', table, fits)).toEqual({ staged: fits, discarded: [] });
  });

  it('discard_new_columns leaves out the fields the table has no column for', () => {
    expect(enforceContract('discard_new_columns', 'shop.orders', table, staged)).toEqual({ staged: staged.slice(0, 3), discarded: ['note'] });
  });
});
