/**
 * The dashboard page (docs/DASHBOARD.md): reads the /v1 routes with the session cookie, draws
 * the analytics with analytics.js and a chosen signal with levels.js, and follows the event
 * stream (`GET /v1/stream`) so that new outcomes and transitions appear without a reload.
 *
 * `window.__dashboard` holds what the page last loaded and drew, for the browser tests.
 */
import { insightsTable, renderAnalytics } from './analytics.js';
import { drawLevels, levelsTable } from './levels.js';

const state = {
  ready: false,
  chartData: null,
  insights: [],
  openSignals: [],
  levels: null,
  drawnLevels: null,
  liveEvents: 0,
  chartLoads: 0,
  selected: null,
};
window.__dashboard = state;

const $ = (id) => document.getElementById(id);
const status = (text) => ($('status').textContent = text);
let analytics = null;
let levelsChart = null;

function theme() {
  return document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light';
}

function setTheme(name, remember) {
  document.documentElement.dataset.theme = name;
  const button = $('theme');
  button.setAttribute('aria-pressed', String(name === 'dark'));
  button.textContent = name === 'dark' ? 'Light theme' : 'Dark theme';
  if (remember) localStorage.setItem('ot-theme', name);
}

async function get(path) {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (res.status === 401) {
    // Signed out (or the key was revoked): the page itself answers with the sign-in form.
    location.reload();
    throw new Error('signed out');
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.error?.message ?? `${path}: HTTP ${res.status}`);
  return body;
}

function selectedWindow() {
  return document.querySelector('input[name="window"]:checked')?.value ?? 'all';
}

async function loadCharts() {
  const query = new URLSearchParams({ window: selectedWindow(), anchor: $('anchor').value });
  const data = await get(`/v1/charts?${query}`);
  state.chartData = data;
  state.chartLoads++;
  analytics?.dispose();
  analytics = renderAnalytics($('analytics'), data, { echarts: window.echarts, theme: theme() });
}

async function loadInsights() {
  const { insights } = await get('/v1/insights?limit=100');
  state.insights = insights;
  const table = insightsTable(document, insights);
  for (const row of table.querySelectorAll('tbody tr')) {
    const cell = row.children[1];
    if (cell) cell.className = `sev-${cell.textContent}`;
  }
  $('insights').replaceChildren(table);
  if (insights.length === 0)
    $('insights').append(
      Object.assign(document.createElement('p'), { textContent: 'No insights for this tenant yet.' }),
    );
}

function signalTable(caption, rows, columns) {
  const t = document.createElement('table');
  t.append(Object.assign(document.createElement('caption'), { textContent: caption }));
  const head = document.createElement('tr');
  for (const c of [...columns.map((c) => c[0]), '']) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = c;
    head.append(th);
  }
  t.append(head);
  for (const r of rows) {
    const tr = document.createElement('tr');
    tr.dataset.signal = r.id ?? r.signalId;
    for (const [, get] of columns) {
      const td = document.createElement('td');
      td.textContent = String(get(r) ?? '');
      tr.append(td);
    }
    const td = document.createElement('td');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Show';
    b.setAttribute('aria-label', `Show ${r.id ?? r.signalId} on its price chart`);
    b.addEventListener('click', () => void chooseSignal(r.id ?? r.signalId));
    td.append(b);
    tr.append(td);
    t.append(tr);
  }
  return t;
}

const utc = (ms) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

async function loadOpen() {
  const { signals } = await get('/v1/signals?state=open&limit=100');
  state.openSignals = signals;
  $('open-signals').replaceChildren(
    signals.length === 0
      ? Object.assign(document.createElement('p'), { textContent: 'No open signals.' })
      : signalTable(`${signals.length} open signals, newest first`, signals, [
          ['id', (s) => s.id],
          ['symbol', (s) => s.symbol],
          ['side', (s) => s.side],
          ['strategy', (s) => s.strategy],
          ['made', (s) => utc(s.createdAt)],
        ]),
  );
}

async function loadRecent() {
  const all = state.chartData?.equity.all;
  const last = all && all.t.length > 1 ? all.t[all.t.length - 1] : null;
  if (last === null) {
    $('recent-outcomes').replaceChildren(
      Object.assign(document.createElement('p'), { textContent: 'No outcomes in this window.' }),
    );
    return;
  }
  // The outcomes of the hour before the window's latest trade, newest first.
  const { outcomes } = await get(`/v1/outcomes?closedFrom=${last - 3_600_000}&limit=1000`);
  const newest = outcomes.slice(-20).reverse();
  $('recent-outcomes').replaceChildren(
    signalTable(`The ${newest.length} latest outcomes`, newest, [
      ['id', (o) => o.signalId],
      ['symbol', (o) => o.symbol],
      ['outcome', (o) => o.outcome],
      ['net return', (o) => (o.netReturn === null ? '' : `${(o.netReturn * 100).toFixed(2)} %`)],
      ['closed', (o) => utc(o.closedAt)],
    ]),
  );
}

async function chooseSignal(id) {
  state.selected = id;
  history.replaceState(null, '', `#signal=${encodeURIComponent(id)}`);
  await loadLevels();
  $('levels').focus();
}

async function loadLevels() {
  const id = state.selected;
  if (id === null) return;
  const levels = await get(`/v1/signals/${encodeURIComponent(id)}/levels`);
  state.levels = levels;
  levelsChart?.dispose();
  levelsChart = drawLevels($('levels'), levels, {
    LightweightCharts: window.LightweightCharts,
    theme: theme(),
  });
  state.drawnLevels = levelsChart.drawn;
  $('levels').setAttribute(
    'aria-label',
    `Price chart of ${levels.symbol} with signal ${id}'s levels; the table below lists them.`,
  );
  $('levels-note').textContent =
    `${levels.id}: ${levels.side} ${levels.symbol}, ${levels.state}${levels.outcome ? ` (${levels.outcome})` : ''}. ` +
    `${levels.ticks.length} of the symbol's recent ticks` +
    (levels.ticksTruncated ? ' (the buffer no longer holds the oldest ones)' : '') +
    '. Dashed: entry and take-profits; red steps: the stop over time; markers: fill and legs.';
  $('levels-table').replaceChildren(levelsTable(document, levels));
}

/** Runs `fn` once, `ms` after the last call (bursts of events cause one reload). */
function debounce(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(() => void fn().catch((err) => status(`Refresh failed: ${err.message}`)), ms);
  };
}

const refreshOutcomes = debounce(async () => {
  await loadCharts();
  await Promise.all([loadOpen(), loadRecent(), loadInsights()]);
  status(`Live · updated ${new Date().toISOString().slice(11, 19)} UTC`);
}, 800);
const refreshOpen = debounce(loadOpen, 800);
const refreshLevels = debounce(loadLevels, 500);

function describe(ev) {
  const d = ev.data ?? {};
  switch (ev.type) {
    case 'signal.closed':
      return `closed ${d.outcome ?? ''}${typeof d.netReturn === 'number' ? ` ${(d.netReturn * 100).toFixed(2)} %` : ''}`;
    case 'signal.filled':
      return `filled at ${d.price}`;
    case 'signal.leg':
      return `leg ${d.reason}${d.level ?? ''} ${Math.round((d.fraction ?? 0) * 100)}% at ${d.price}`;
    case 'signal.stop_moved':
      return `stop ${d.previous?.stop ?? '–'} → ${d.stop} (${d.stopKind})`;
    default:
      return ev.type.replace('signal.', '').replace('operation.', 'operation ');
  }
}

function follow() {
  const source = new EventSource('/v1/stream');
  source.onopen = () => status('Live: following the event stream.');
  source.onerror = () => status('Stream interrupted; reconnecting…');
  source.onmessage = (message) => {
    const ev = JSON.parse(message.data);
    state.liveEvents++;
    const li = document.createElement('li');
    li.dataset.type = ev.type;
    li.dataset.signal = ev.id;
    li.textContent = `${utc(ev.ts)} ${ev.id} (${ev.symbol}): ${describe(ev)}`;
    const list = $('live');
    list.prepend(li);
    while (list.children.length > 200) list.lastElementChild.remove();
    list.dataset.liveCount = String(state.liveEvents);
    if (ev.type === 'signal.closed') refreshOutcomes();
    else if (ev.type === 'signal.accepted') refreshOpen();
    if (ev.id === state.selected && ev.type !== 'signal.accepted') refreshLevels();
  };
}

async function start() {
  const saved = localStorage.getItem('ot-theme');
  setTheme(saved ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'), false);
  $('theme').addEventListener('click', () => {
    setTheme(theme() === 'dark' ? 'light' : 'dark', true);
    if (state.chartData)
      analytics =
        (analytics?.dispose(),
        renderAnalytics($('analytics'), state.chartData, { echarts: window.echarts, theme: theme() }));
    if (state.levels) {
      levelsChart?.dispose();
      levelsChart = drawLevels($('levels'), state.levels, {
        LightweightCharts: window.LightweightCharts,
        theme: theme(),
      });
    }
  });
  const reload = () =>
    void loadCharts()
      .then(loadRecent)
      .catch((err) => status(`Loading failed: ${err.message}`));
  for (const input of document.querySelectorAll('input[name="window"]'))
    input.addEventListener('change', reload);
  $('anchor').addEventListener('change', reload);
  addEventListener('resize', () => analytics?.resize());

  const who = await get('/dashboard/whoami');
  $('who').textContent = `Tenant ${who.tenant} · key scopes: ${who.scopes.join(', ')}`;
  await loadCharts();
  await Promise.all([loadInsights(), loadOpen(), loadRecent()]);
  const fromHash = /^#signal=(.+)$/.exec(location.hash);
  if (fromHash) {
    state.selected = decodeURIComponent(fromHash[1]);
    await loadLevels().catch((err) => status(`That signal: ${err.message}`));
  }
  // A link or a typed address naming another signal: draw it without reloading the page.
  addEventListener('hashchange', () => {
    const m = /^#signal=(.+)$/.exec(location.hash);
    if (m && decodeURIComponent(m[1]) !== state.selected) {
      state.selected = decodeURIComponent(m[1]);
      loadLevels().catch((err) => status(`That signal: ${err.message}`));
    }
  });
  follow();
  state.ready = true;
  status('Loaded; following the event stream.');
}

// The chart libraries are classic scripts (defer): they have run before this module does.
start().catch((err) => status(`Loading failed: ${err.message}`));
