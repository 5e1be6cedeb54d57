import { JOB_NAMES } from '../names.ts';
/**
 * The `analyze` queue's contract: job name, payload and job ids. Pure.
 */
import { z } from 'zod';
import { GROUP_KINDS, type GroupKind } from '../analysis/groups.ts';
import { WINDOW_NAMES, type WindowName } from '../analysis/windows.ts';

/** The job name on QUEUE_NAMES.analyze. */
export const ANALYZE_JOB_NAME = JOB_NAMES.analyze;

/** Payload of an `analyze` job: everything optional, as AnalyzeRequest. */
export const analyzeJobSchema = z
  .object({
    window: z.enum(WINDOW_NAMES).optional(),
    groupKind: z.enum(GROUP_KINDS).optional(),
    /** Analysis time, ISO 8601. */
    at: z.string().datetime({ offset: true }).optional(),
    tenant: z.string().min(1).optional(),
  })
  .strict();

/** Payload of an `analyze` job. */
export type AnalyzeJobData = z.infer<typeof analyzeJobSchema>;

/**
 * Job id of the analysis of one window and group kind for one schedule slot:
 * `analyze-<window>-<groupKind>-<slot in ISO 8601 basic format>`, e.g.
 * `analyze-7d-strategy-20251124T121500Z`. Every scheduler computes the same id for the same
 * slot, and BullMQ ignores an add whose id exists, so the work is enqueued once. (BullMQ does not
 * allow ':' in custom ids, hence the basic format.)
 */
export function analyzeJobId(window: WindowName, groupKind: GroupKind, slot: Date): string {
  const basic = slot
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  return `analyze-${window}-${groupKind}-${basic}`;
}
