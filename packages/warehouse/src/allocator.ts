/**
 * DuckDB allocates through its own copy of jemalloc, configured to keep freed pages for seconds
 * (`dirty_decay_ms`) and then to hand them back lazily (`muzzy_decay_ms`: MADV_FREE, which still counts
 * in the process's RSS until the kernel is short of memory). A commit frees and allocates hundreds of
 * megabytes a second, so those pages pile up: on a 1M-order commit the process held ~190 MB that DuckDB
 * itself no longer counted (duckdb_memory() empty after the COPY), and its peak grew with the table.
 * Returning freed pages after 50 ms, directly, keeps DuckDB's footprint at its memory limit for the same
 * CPU time (measured in bench/README.md).
 *
 * jemalloc reads this variable when libduckdb is loaded, so this module must be evaluated before
 * `@duckdb/node-api` is imported: every module of this package that imports DuckDB imports it first.
 * An explicit DUCKDB_JE_MALLOC_CONF in the environment wins.
 */
export const DUCKDB_ALLOCATOR_CONF = 'dirty_decay_ms:50,muzzy_decay_ms:0';
process.env.DUCKDB_JE_MALLOC_CONF ??= DUCKDB_ALLOCATOR_CONF;
