import path from 'node:path';

/**
 * Source and table names become directory names and SQL identifiers, so they are validated here once:
 * nothing a config file says can escape the warehouse directory or inject SQL.
 */
export const NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

export function assertName(kind: 'source' | 'table', name: string): void {
  if (!NAME_PATTERN.test(name)) throw new Error(`invalid ${kind} name "${name}": use lowercase letters, digits and _ (starting with a letter)`);
}

export class WarehousePaths {
  readonly root: string;
  constructor(root: string) {
    this.root = path.resolve(root);
  }
  get catalog() {
    return path.join(this.root, 'warehouse.duckdb');
  }
  table(source: string, table: string) {
    assertName('source', source);
    assertName('table', table);
    return path.join(this.root, source, table);
  }
  manifest(source: string, table: string) {
    return path.join(this.table(source, table), '_manifest.json');
  }
  staging(source: string, table: string, syncId: string) {
    if (!/^[A-Za-z0-9_.-]+$/.test(syncId)) throw new Error(`invalid sync id ${syncId}`);
    return path.join(this.root, '.staging', source, table, syncId);
  }
  stagingRoot(source: string, table: string) {
    return path.join(this.root, '.staging', source, table);
  }
  temporalState() {
    return path.join(this.root, '.temporal');
  }
}
