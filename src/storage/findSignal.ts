import type { Queryable } from './Queryable.ts';

/** What `signals` knows of an id: its accepted row, else its latest rejected one. */
export interface FoundSignal {
  id: string;
  status: 'accepted' | 'rejected';
  /** Null for a rejected payload that named none it could be read from. */
  tenant: string | null;
  /** Null only for a rejected payload. */
  symbol: string | null;
  /** The messages of a rejection; null when accepted. */
  errors: string[] | null;
}

/**
 * The signal with this id: the accepted row if there is one (ids are unique among accepted
 * rows), else the latest rejected submission of the id, else null.
 */
export async function findSignal(db: Queryable, id: string): Promise<FoundSignal | null> {
  const r = await db.query<FoundSignal>(
    `SELECT id, status, tenant, symbol, errors FROM signals WHERE id = $1
     ORDER BY status = 'accepted' DESC, seq DESC LIMIT 1`,
    [id],
  );
  return r.rows[0] ?? null;
}
