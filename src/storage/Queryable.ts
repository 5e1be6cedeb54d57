import type pg from 'pg';

/**
 * Anything that runs a query: a `pg.Pool`, or a client checked out for a transaction (every
 * operation in src/storage takes one, so the caller decides whether it joins a transaction).
 */
export type Queryable = Pick<pg.ClientBase, 'query'>;
