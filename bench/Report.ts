/** One benchmark figure, printed as a JSON line and recorded in docs/BENCHMARKS.md. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
}

/** Where a benchmark group hands its figures. */
export type Report = (figure: Figure) => void;
