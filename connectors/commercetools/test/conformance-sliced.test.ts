import { runConformance } from '@sluice/testing';
import { conformanceOptions } from './conformance-options';

/**
 * The conformance suite with sliced reads forced on every read (not only first syncs and large catch-ups):
 * paging, resume after a failure in the middle of several slices, incremental after updates, all modes.
 * Each test file runs in its own process, so the variable reaches only this suite's worker.
 */
process.env.SLUICE_SLICES = 'force';

runConformance({ ...conformanceOptions, sourcePrefix: 'cfs_commercetools' });
