/**
 * Draws the analytics charts and tables of one ChartData (src/analysis/chartData.ts, served by
 * `GET /v1/charts`) with Apache ECharts. The dashboard and the self-contained report file run
 * this same module: it fetches nothing and reads no global, the caller hands it the `echarts`
 * object and the theme.
 *
 * Every chart's element carries `data-chart="<name>"` (see CHART_NAMES), so a test finds its
 * instance with `echarts.getInstanceByDom(element)` and reads what was drawn from `getOption()`.
 * Every chart has a table beside it (a `<details>` under it) as its text alternative.
 */

/** The charts drawn, by their `data-chart` name. */
export const CHART_NAMES = [
  'equity-strategy',
  'equity-model',
  'pnl',
  'outcome-mix',
  'r-multiple',
  'excursions',
  'holding',
  'calibration',
];

const OUTCOME_COLORS = {
  TP_HIT: '#1a9850',
  SL_HIT: '#d73027',
  ROI_EXIT: '#66bd63',
  TIME_EXIT: '#fdae61',
  MANUAL_EXIT: '#74add1',
  EXPIRED: '#999999',
  CANCELLED: '#bbbbbb',
  INVALID_AT_FILL: '#8c510a',
};

const pct = (x, digits = 2) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(digits)} %`);
const num = (x, digits = 2) => (x === null || x === undefined ? '–' : Number(x).toFixed(digits));
const money = (x) =>
  x === null || x === undefined
    ? '–'
    : Number(x).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const iso = (ms) => new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

function el(doc, tag, attrs = {}, text) {
  const e = doc.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function table(doc, caption, head, rows) {
  const t = el(doc, 'table');
  t.append(el(doc, 'caption', {}, caption));
  const thead = el(doc, 'thead');
  const tr = el(doc, 'tr');
  for (const h of head) tr.append(el(doc, 'th', { scope: 'col' }, h));
  thead.append(tr);
  const tbody = el(doc, 'tbody');
  for (const row of rows) {
    const r = el(doc, 'tr');
    row.forEach((cell, k) =>
      r.append(el(doc, k === 0 ? 'th' : 'td', k === 0 ? { scope: 'row' } : {}, String(cell))),
    );
    tbody.append(r);
  }
  t.append(thead, tbody);
  return t;
}

/**
 * One chart section: a heading, a note, the chart element and its table in a `<details>`.
 * Returns the element ECharts draws into.
 */
function section(doc, parent, name, title, note, tableEl, height = 320) {
  const s = el(doc, 'section', { class: 'ot-chart', 'aria-labelledby': `ot-h-${name}` });
  s.append(el(doc, 'h3', { id: `ot-h-${name}` }, title));
  if (note) s.append(el(doc, 'p', { class: 'ot-note' }, note));
  const box = el(doc, 'div', {
    'data-chart': name,
    role: 'img',
    'aria-label': `${title}. ${note ?? ''} The table below lists the same numbers.`,
    tabindex: '0',
    style: `height: ${height}px; width: 100%;`,
  });
  s.append(box);
  if (tableEl) {
    const d = el(doc, 'details');
    d.append(el(doc, 'summary', {}, `${title}: table`), tableEl);
    s.append(d);
  }
  parent.append(s);
  return box;
}

function equityOption(series, sizing, theme) {
  const lines = [];
  for (const s of series) {
    lines.push({
      name: s.label,
      type: 'line',
      step: 'end',
      showSymbol: false,
      xAxisIndex: 0,
      yAxisIndex: 0,
      data: s.t.map((t, k) => [t, s.equity[k]]),
    });
    lines.push({
      name: s.label,
      type: 'line',
      step: 'end',
      showSymbol: false,
      areaStyle: { opacity: 0.15 },
      xAxisIndex: 1,
      yAxisIndex: 1,
      data: s.t.map((t, k) => [t, s.drawdown[k]]),
    });
  }
  return {
    backgroundColor: 'transparent',
    aria: { enabled: true },
    animation: false,
    // The convention on the chart itself, so a screenshot or a copied image still states it.
    title: {
      text: `Sized ${sizing.convention.replace('_', ' ')}, ${+(sizing.riskFraction * 100).toFixed(4)} % per signal`,
      left: 'center',
      top: 0,
      textStyle: { fontSize: 12, fontWeight: 'normal' },
    },
    tooltip: { trigger: 'axis' },
    legend: { type: 'scroll', bottom: 0 },
    axisPointer: { link: [{ xAxisIndex: 'all' }] },
    grid: [
      { left: 60, right: 20, top: 30, height: '50%' },
      { left: 60, right: 20, top: '72%', bottom: 40 },
    ],
    xAxis: [
      { type: 'time', gridIndex: 0, axisLabel: { show: false } },
      { type: 'time', gridIndex: 1 },
    ],
    yAxis: [
      { type: 'value', gridIndex: 0, scale: true, name: 'equity' },
      {
        type: 'value',
        gridIndex: 1,
        name: 'drawdown',
        max: 0,
        splitNumber: 2,
        axisLabel: { formatter: (v) => `${(v * 100).toFixed(0)}%` },
      },
    ],
    series: lines,
    textStyle: theme === 'dark' ? { color: '#ddd' } : undefined,
  };
}

function equityTable(doc, series) {
  return table(
    doc,
    'Per group: trades on the curve, compounded return, deepest daily drawdown, P&L and fees in quote currency',
    [
      'group',
      'outcomes',
      'trades',
      'return',
      'max drawdown (daily)',
      'net return sum',
      'P&L',
      'fees',
      'trades with notional',
    ],
    series.map((s) => [
      s.label,
      s.outcomes,
      s.trades,
      pct(s.cumReturn),
      pct(s.maxDrawdownDaily),
      pct(s.netReturnSum),
      money(s.pnlSum),
      money(s.feesSum),
      s.currencyTrades,
    ]),
  );
}

/**
 * Draws every analytics chart and table of `data` into `container` (emptied first).
 *
 * @param {HTMLElement} container
 * @param {object} data a ChartData (src/analysis/chartData.ts)
 * @param {{ echarts: object, theme?: 'light' | 'dark', insights?: object[] }} options
 *   `insights`: rows of `GET /v1/insights`, drawn as a table newest first when given.
 * @returns {{ charts: Record<string, object>, dispose(): void, resize(): void }}
 */
export function renderAnalytics(container, data, options) {
  const { echarts } = options;
  const theme = options.theme === 'dark' ? 'dark' : 'light';
  const doc = container.ownerDocument;
  container.replaceChildren();
  container.setAttribute('data-window', data.window);
  container.setAttribute('data-theme', theme);
  const charts = {};
  const draw = (box, option) => {
    const chart = echarts.init(box, theme === 'dark' ? 'dark' : null, { renderer: 'canvas' });
    chart.setOption(option);
    charts[box.getAttribute('data-chart')] = chart;
    return chart;
  };

  const head = el(doc, 'p', { class: 'ot-summary' });
  head.textContent =
    `${data.totals.outcomes} outcomes (${data.totals.trades} trades, ${data.totals.unfilled} never filled) ` +
    `closed ${iso(data.windowStart)} – ${iso(data.windowEnd)}, window ${data.window}. ${data.sizing.description}`;
  container.append(head);

  const grid = el(doc, 'div', { class: 'ot-grid' });
  container.append(grid);

  const strategies = [data.equity.all, ...data.equity.strategy];
  draw(
    section(
      doc,
      grid,
      'equity-strategy',
      'Equity by strategy',
      data.sizing.description,
      equityTable(doc, strategies),
    ),
    equityOption(strategies, data.sizing, theme),
  );
  const models = [data.equity.all, ...data.equity.model];
  draw(
    section(
      doc,
      grid,
      'equity-model',
      'Equity by model version',
      data.sizing.description,
      equityTable(doc, models),
    ),
    equityOption(models, data.sizing, theme),
  );

  const withMoney = strategies.filter((s) => s.currencyTrades > 0);
  const pnlNote =
    withMoney.length === 0
      ? 'No signal in this window gave a notional: there is no P&L in currency, only returns.'
      : 'Sums in quote currency over the outcomes whose signal gave a notional (currencies are not converted); returns beside them.';
  draw(section(doc, grid, 'pnl', 'P&L and fees in currency', pnlNote, equityTable(doc, strategies)), {
    backgroundColor: 'transparent',
    aria: { enabled: true },
    animation: false,
    tooltip: { trigger: 'axis' },
    legend: { bottom: 0 },
    grid: { left: 70, right: 70, top: 30, bottom: 60 },
    xAxis: { type: 'category', data: withMoney.map((s) => s.label) },
    yAxis: [
      { type: 'value', name: 'quote currency' },
      { type: 'value', name: 'return', axisLabel: { formatter: (v) => `${(v * 100).toFixed(1)}%` } },
    ],
    series: [
      { name: 'P&L', type: 'bar', data: withMoney.map((s) => s.pnlSum) },
      { name: 'fees', type: 'bar', data: withMoney.map((s) => s.feesSum) },
      { name: 'compounded return', type: 'line', yAxisIndex: 1, data: withMoney.map((s) => s.cumReturn) },
    ],
  });

  const mix = data.outcomeMix;
  draw(
    section(
      doc,
      grid,
      'outcome-mix',
      'Outcome mix',
      `${data.totals.outcomes} outcomes in the window, unfilled ones included.`,
      table(
        doc,
        'Outcomes per code',
        ['outcome', 'count', 'share'],
        mix.map((m) => [
          m.code,
          m.count,
          pct(data.totals.outcomes ? m.count / data.totals.outcomes : null, 1),
        ]),
      ),
    ),
    {
      backgroundColor: 'transparent',
      aria: { enabled: true },
      animation: false,
      tooltip: { trigger: 'axis' },
      grid: { left: 120, right: 30, top: 10, bottom: 30 },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', data: mix.map((m) => m.code), inverse: true },
      series: [
        {
          name: 'outcomes',
          type: 'bar',
          data: mix.map((m) => ({ value: m.count, itemStyle: { color: OUTCOME_COLORS[m.code] } })),
          label: { show: true, position: 'right' },
        },
      ],
    },
  );

  const rm = data.rMultiple;
  draw(
    section(
      doc,
      grid,
      'r-multiple',
      'R-multiple distribution',
      `${rm.count} trades with a stop at the fill; mean ${num(rm.mean)} R, median ${num(rm.median)} R (before fees).`,
      table(
        doc,
        'Trades per R-multiple bin',
        ['from (R)', 'to (R)', 'trades'],
        rm.bins.map((b) => [b.lower, b.upper, b.count]),
      ),
    ),
    {
      backgroundColor: 'transparent',
      aria: { enabled: true },
      animation: false,
      tooltip: { trigger: 'axis' },
      grid: { left: 50, right: 20, top: 20, bottom: 40 },
      xAxis: { type: 'category', data: rm.bins.map((b) => b.label), name: 'R' },
      yAxis: { type: 'value', minInterval: 1, name: 'trades' },
      series: [
        {
          name: 'trades',
          type: 'bar',
          barCategoryGap: '5%',
          data: rm.bins.map((b) => ({
            value: b.count,
            itemStyle: { color: b.lower < 0 ? '#d73027' : '#1a9850' },
          })),
        },
      ],
    },
  );

  const ex = data.excursions;
  const codes = data.outcomeCodes;
  const byCode = new Map();
  for (const p of ex.points) {
    const code = codes[p[3]];
    if (!byCode.has(code)) byCode.set(code, []);
    byCode.get(code).push([p[0], p[1], p[2]]);
  }
  draw(
    section(
      doc,
      grid,
      'excursions',
      'MFE / MAE per trade',
      `Maximum adverse (x) and favourable (y) excursion of each trade, as fractions of the entry; ${ex.shown} of ${ex.total} trades drawn.`,
      table(
        doc,
        'Excursions per outcome: trades, mean MAE, mean MFE',
        ['outcome', 'trades', 'mean MAE', 'mean MFE'],
        [...byCode].map(([code, pts]) => [
          code,
          pts.length,
          pct(pts.reduce((a, p) => a + p[0], 0) / pts.length),
          pct(pts.reduce((a, p) => a + p[1], 0) / pts.length),
        ]),
      ),
    ),
    {
      backgroundColor: 'transparent',
      aria: { enabled: true },
      animation: false,
      tooltip: {
        trigger: 'item',
        formatter: (p) =>
          `${p.seriesName}: MAE ${pct(p.value[0])}, MFE ${pct(p.value[1])}${p.value[2] === null ? '' : `, ${num(p.value[2])} R`}`,
      },
      legend: { type: 'scroll', bottom: 0 },
      grid: { left: 60, right: 20, top: 20, bottom: 50 },
      xAxis: { type: 'value', name: 'MAE', axisLabel: { formatter: (v) => `${(v * 100).toFixed(1)}%` } },
      yAxis: { type: 'value', name: 'MFE', axisLabel: { formatter: (v) => `${(v * 100).toFixed(1)}%` } },
      series: [...byCode].map(([code, pts]) => ({
        name: code,
        type: 'scatter',
        symbolSize: 5,
        large: pts.length > 2000,
        itemStyle: { color: OUTCOME_COLORS[code], opacity: 0.7 },
        data: pts,
      })),
    },
  );

  const ho = data.holding;
  const median = ho.medianMs === null ? '–' : `${(ho.medianMs / 3_600_000).toFixed(2)} h`;
  draw(
    section(
      doc,
      grid,
      'holding',
      'Holding time',
      `${ho.count} trades, fill to close; median ${median}.`,
      table(
        doc,
        'Trades per holding time',
        ['holding time', 'trades'],
        ho.bins.map((b) => [b.label, b.count]),
      ),
    ),
    {
      backgroundColor: 'transparent',
      aria: { enabled: true },
      animation: false,
      tooltip: { trigger: 'axis' },
      grid: { left: 50, right: 20, top: 20, bottom: 40 },
      xAxis: { type: 'category', data: ho.bins.map((b) => b.label) },
      yAxis: { type: 'value', minInterval: 1, name: 'trades' },
      series: [{ name: 'trades', type: 'bar', data: ho.bins.map((b) => b.count) }],
    },
  );

  const cal = data.calibration;
  const brier = cal.brier === null ? 'no trade carries a confidence' : `Brier score ${num(cal.brier, 4)}`;
  draw(
    section(
      doc,
      grid,
      'calibration',
      `Calibration (${brier})`,
      `Realised hit rate per confidence decile over ${cal.forecasts} filled trades with a confidence; the diagonal is perfect calibration. Brier 0 is perfect, always saying 0.5 scores 0.25.`,
      table(
        doc,
        'Calibration per confidence decile',
        ['confidence', 'trades', 'mean confidence', 'hit rate'],
        cal.buckets.map((b) => [
          `${b.lower.toFixed(1)}–${b.upper.toFixed(1)}`,
          b.count,
          num(b.meanConfidence, 3),
          pct(b.hitRate, 1),
        ]),
      ),
    ),
    {
      backgroundColor: 'transparent',
      aria: { enabled: true },
      animation: false,
      tooltip: { trigger: 'item' },
      legend: { bottom: 0 },
      grid: { left: 60, right: 60, top: 20, bottom: 50 },
      xAxis: { type: 'value', min: 0, max: 1, name: 'confidence' },
      yAxis: [
        { type: 'value', min: 0, max: 1, name: 'hit rate' },
        { type: 'value', name: 'trades', minInterval: 1, splitLine: { show: false } },
      ],
      series: [
        {
          name: 'perfect',
          type: 'line',
          showSymbol: false,
          lineStyle: { type: 'dashed', width: 1 },
          data: [
            [0, 0],
            [1, 1],
          ],
        },
        {
          name: 'hit rate',
          type: 'line',
          symbolSize: 8,
          data: cal.buckets.filter((b) => b.count > 0).map((b) => [b.meanConfidence, b.hitRate]),
        },
        {
          name: 'trades',
          type: 'bar',
          yAxisIndex: 1,
          barWidth: '6%',
          itemStyle: { opacity: 0.35 },
          data: cal.buckets.map((b) => [(b.lower + b.upper) / 2, b.count]),
        },
      ],
    },
  );

  if (options.insights) container.append(insightsTable(doc, options.insights));

  return {
    charts,
    resize() {
      for (const c of Object.values(charts)) c.resize();
    },
    dispose() {
      for (const c of Object.values(charts)) c.dispose();
    },
  };
}

/**
 * The insights (rows of `GET /v1/insights`), newest first, with their severity and evidence.
 *
 * @param {Document} doc
 * @param {object[]} insights
 */
export function insightsTable(doc, insights) {
  // ISO 8601 UTC strings sort as their times do.
  const sorted = [...insights].sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
  const s = el(doc, 'section', {
    class: 'ot-insights',
    'aria-labelledby': 'ot-h-insights',
    'data-table': 'insights',
  });
  s.append(el(doc, 'h3', { id: 'ot-h-insights' }, `Insights (${sorted.length}, newest first)`));
  const evidence = (e) =>
    Object.entries(e ?? {})
      .map(([k, v]) => `${k}: ${typeof v === 'number' ? +v.toPrecision(4) : JSON.stringify(v)}`)
      .join('; ');
  s.append(
    table(
      doc,
      'Insights, newest first',
      ['raised', 'severity', 'rule', 'group', 'window', 'evidence', 'recommendation'],
      sorted.map((i) => [
        String(i.createdAt),
        i.severity,
        i.rule,
        `${i.groupKind} ${i.groupKey}`,
        i.window,
        evidence(i.evidence),
        i.recommendation ?? '',
      ]),
    ),
  );
  return s;
}
