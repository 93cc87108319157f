import { ensureExtensions } from '../packages/warehouse/src/index';
import { startPostgres, type TestPostgres } from './pg-server';
import { startS3, type TestS3 } from './s3-server';

/**
 * The scale-out lake's real parts for a test file: a PostgreSQL catalog and an S3 server, started
 * together, with the DuckDB extensions installed. Where either cannot be had the test skips with the
 * reason, except in CI, whose setup must provide them.
 */
export type LakeServices = { pg: TestPostgres; s3: TestS3 } | { skip: string };

export async function startLakeServices(): Promise<LakeServices> {
  const [pg, s3] = await Promise.all([startPostgres(), startS3()]);
  const skip = ['skip' in pg ? pg.skip : '', 'skip' in s3 ? s3.skip : ''].filter(Boolean).join('; ');
  if (skip) {
    if (!('skip' in pg)) await pg.stop();
    if (!('skip' in s3)) await s3.stop();
    if (process.env.CI) throw new Error(`CI must have the test servers: ${skip}`);
    return { skip };
  }
  await ensureExtensions();
  return { pg: pg as TestPostgres, s3: s3 as TestS3 };
}
