/**
 * The report file's HTML (`outcome-tracker report`, the demo's `report.html`): one page with
 * everything inlined (ECharts, the dashboard's analytics module, the chart data), so that it
 * opens from disk with no network and can be mailed or attached to a model review.
 *
 * Pure: the caller reads the scripts and the data; this only assembles and escapes them.
 */

/** What a report page is made of. */
export interface ReportPage {
  /** The page's title and heading. */
  title: string;
  /** Lines under the heading: what the report covers (tenant, filters, period, when it was made). */
  scope: readonly string[];
  /** The chart data (`buildChartData`'s result), inlined as JSON. */
  data: unknown;
  /** Classic scripts run first, in order (echarts.min.js, which defines the `echarts` global). */
  scripts: readonly string[];
  /**
   * The body of one inline ES module run after them: the analytics module's code followed by the
   * call that draws the report. It reads the data with `JSON.parse(document.getElementById(
   * '${REPORT_DATA_ID}').textContent)`.
   */
  module: string;
  /** The page's own CSS (the dashboard's), inlined. */
  css?: string;
  /** HTML of the page body inside `<main>`: the containers the module draws into. */
  body: string;
}

/** The id of the `<script type="application/json">` element that holds the data. */
export const REPORT_DATA_ID = 'report-data';

/**
 * Content-Security-Policy of the page: inline scripts and styles only, no connection anywhere.
 * A report is a document to read; should any code in it try to fetch something, the browser
 * refuses (and says so in its console) instead of reaching out from a shared file.
 */
export const REPORT_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:";

/**
 * `value` as JSON that is safe inside an HTML `<script>` element: every `<` becomes `\u003c`
 * (so no `</script>` or `<!--` can end or change the element), and U+2028/U+2029 are escaped
 * (line terminators to older JavaScript parsers). `JSON.parse` reads the result back unchanged.
 */
export function inlineJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('report data must be JSON-serialisable');
  return json
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * JavaScript source made safe to inline in a `<script>` element. `</script` (any case) would
 * end the element: it becomes `<\/script`, which means the same inside the strings, template
 * literals, regular expressions and comments where it can legitimately appear. `<!--` (with
 * `<script`, it switches the HTML parser into a mode where `</script>` no longer ends the
 * element) has no such safe rewrite, so code containing it is refused rather than broken.
 */
export function inlineScript(code: string, name: string): string {
  if (code.includes('<!--')) throw new Error(`${name} contains "<!--" and cannot be inlined in a report`);
  return code.replace(/<\/(script)/gi, '<\\/$1');
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text for HTML element content or an attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** The whole page. */
export function renderReportHtml(page: ReportPage): string {
  const css = page.css === undefined ? '' : inlineStyle(page.css);
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(REPORT_CSP)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light dark">',
    `<title>${escapeHtml(page.title)}</title>`,
    `<style>${css}</style>`,
    '</head>',
    '<body>',
    '<header class="report-header">',
    `<h1>${escapeHtml(page.title)}</h1>`,
    ...page.scope.map((line) => `<p class="report-scope">${escapeHtml(line)}</p>`),
    '</header>',
    `<main id="report">${page.body}</main>`,
    `<script type="application/json" id="${REPORT_DATA_ID}">${inlineJson(page.data)}</script>`,
    ...page.scripts.map((code, i) => `<script>${inlineScript(code, `script ${i + 1}`)}</script>`),
    `<script type="module">${inlineScript(page.module, 'the analytics module')}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** CSS made safe to inline in a `<style>` element (only `</style` could end it early). */
function inlineStyle(css: string): string {
  return css.replace(/<\/(style)/gi, '<\\/$1');
}
