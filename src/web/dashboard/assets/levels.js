/**
 * Draws one signal (the answer of `GET /v1/signals/{id}/levels`) on its symbol's recent ticks
 * with TradingView's lightweight-charts: entry, fill and take-profit price lines, the stop as a
 * stepped line over time (its moves visible), and markers on the fill and every leg.
 *
 * What was drawn is recorded on the container as JSON in `data-drawn` (`{ ticks, priceLines,
 * stopSteps, markers }`), read back from the series themselves, so tests assert what the chart
 * holds rather than what was asked of it.
 */

const COLORS = {
  light: {
    text: '#1b1f24',
    grid: '#e5e7eb',
    price: '#0b5cd5',
    entry: '#4b5563',
    tp: '#1a7f37',
    stop: '#cf222e',
    fill: '#8250df',
  },
  dark: {
    text: '#e6edf3',
    grid: '#30363d',
    price: '#79b8ff',
    entry: '#b1bac4',
    tp: '#56d364',
    stop: '#ff7b72',
    fill: '#d2a8ff',
  },
};

const seconds = (ms) => Math.floor(ms / 1000);

/** The ticks as one point per second (the last price of each), ascending: lightweight-charts' time unit. */
function perSecond(ticks) {
  const out = [];
  for (const t of ticks) {
    const time = seconds(t.ts);
    if (out.length > 0 && out[out.length - 1].time === time) out[out.length - 1].value = t.price;
    else out.push({ time, value: t.price });
  }
  return out;
}

/** The data time nearest to `time` (markers must sit on a point of their series). */
function snap(times, time) {
  if (times.length === 0) return time;
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] < time) lo = mid + 1;
    else hi = mid;
  }
  const before = times[Math.max(0, lo - 1)];
  return Math.abs(before - time) < Math.abs(times[lo] - time) ? before : times[lo];
}

/**
 * @param {HTMLElement} container emptied first
 * @param {object} levels the answer of GET /v1/signals/{id}/levels
 * @param {{ LightweightCharts: object, theme?: 'light' | 'dark' }} options
 * @returns {{ chart: object, drawn: object, dispose(): void }}
 */
export function drawLevels(container, levels, options) {
  const LWC = options.LightweightCharts;
  const colors = COLORS[options.theme === 'dark' ? 'dark' : 'light'];
  container.replaceChildren();
  const chart = LWC.createChart(container, {
    autoSize: true,
    layout: { background: { color: 'transparent' }, textColor: colors.text, attributionLogo: true },
    grid: { vertLines: { color: colors.grid }, horzLines: { color: colors.grid } },
    timeScale: { timeVisible: true, secondsVisible: true },
    localization: { timeFormatter: (t) => new Date(t * 1000).toISOString().slice(11, 19) + ' UTC' },
  });

  const data = perSecond(levels.ticks);
  const price = chart.addSeries(LWC.LineSeries, {
    color: colors.price,
    lineWidth: 2,
    title: levels.symbol,
    priceLineVisible: false,
  });
  price.setData(data);

  const lines = [];
  const line = (priceValue, title, color, style) => {
    if (priceValue === null || priceValue === undefined) return;
    price.createPriceLine({
      price: priceValue,
      color,
      lineWidth: 1,
      lineStyle: style,
      axisLabelVisible: true,
      title,
    });
  };
  if (levels.entry.price !== null)
    line(levels.entry.price, `entry (${levels.entry.type})`, colors.entry, LWC.LineStyle.Dashed);
  if (levels.fill) line(levels.fill.price, 'fill', colors.fill, LWC.LineStyle.Dotted);
  for (const tp of levels.takeProfits) line(tp.price, `TP${tp.level}`, colors.tp, LWC.LineStyle.Dashed);
  const lastStop = levels.stops.at(-1);
  if (lastStop) line(lastStop.price, `stop (${lastStop.kind})`, colors.stop, LWC.LineStyle.Solid);
  for (const pl of price.priceLines()) {
    const o = pl.options();
    lines.push({ title: o.title, price: o.price });
  }

  // The stop over time: a stepped line from each move to the next, on to the last tick.
  const stopSeries = chart.addSeries(LWC.LineSeries, {
    color: colors.stop,
    lineWidth: 2,
    lineType: LWC.LineType.WithSteps,
    title: 'stop',
    priceLineVisible: false,
    lastValueVisible: false,
  });
  const steps = [];
  for (const s of levels.stops) {
    const time = seconds(s.ts);
    if (steps.length > 0 && steps[steps.length - 1].time >= time) steps[steps.length - 1].value = s.price;
    else steps.push({ time, value: s.price });
  }
  const end = Math.max(
    data.length ? data[data.length - 1].time : 0,
    levels.closedAt ? seconds(levels.closedAt) : 0,
  );
  if (steps.length > 0 && end > steps[steps.length - 1].time)
    steps.push({ time: end, value: steps[steps.length - 1].value });
  stopSeries.setData(steps);

  const times = data.map((d) => d.time);
  const markers = [];
  if (levels.fill)
    markers.push({
      time: snap(times, seconds(levels.fill.ts)),
      position: levels.side === 'long' ? 'belowBar' : 'aboveBar',
      color: colors.fill,
      shape: levels.side === 'long' ? 'arrowUp' : 'arrowDown',
      text: `fill ${levels.fill.price}`,
    });
  for (const leg of levels.legs) {
    const label =
      leg.reason === 'TP'
        ? `TP${leg.level}`
        : leg.reason === 'SL'
          ? `SL ${leg.stopKind ?? ''}`.trim()
          : leg.reason;
    markers.push({
      time: snap(times, seconds(leg.ts)),
      position: 'aboveBar',
      color: leg.reason === 'SL' ? colors.stop : colors.tp,
      shape: 'circle',
      text: `${label} ${Math.round(leg.fraction * 100)}% @ ${leg.price}`,
    });
  }
  markers.sort((a, b) => a.time - b.time);
  const markerApi = LWC.createSeriesMarkers(price, markers);
  chart.timeScale().fitContent();

  const drawn = {
    signal: levels.id,
    ticks: price.data().length,
    priceLines: lines,
    stopSteps: stopSeries.data().map((p) => ({ time: p.time, price: p.value })),
    markers: markerApi.markers().map((m) => ({ time: m.time, text: m.text })),
  };
  container.setAttribute('data-drawn', JSON.stringify(drawn));
  container.setAttribute('data-signal', levels.id);
  return {
    chart,
    drawn,
    dispose() {
      chart.remove();
    },
  };
}

/**
 * The signal's levels and legs as a table: the chart's text alternative.
 *
 * @param {Document} doc
 * @param {object} levels
 */
export function levelsTable(doc, levels) {
  const t = doc.createElement('table');
  const cap = doc.createElement('caption');
  cap.textContent = `${levels.id} (${levels.side} ${levels.symbol}, ${levels.state}${levels.outcome ? `, ${levels.outcome}` : ''}): levels and legs`;
  t.append(cap);
  const rows = [['what', 'price', 'time (UTC)']];
  const time = (ms) =>
    ms === null || ms === undefined ? '' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
  if (levels.entry.price !== null)
    rows.push([`entry (${levels.entry.type})`, levels.entry.price, time(levels.createdAt)]);
  if (levels.fill) rows.push(['fill', levels.fill.price, time(levels.fill.ts)]);
  for (const tp of levels.takeProfits)
    rows.push([`TP${tp.level} (${Math.round(tp.fraction * 100)}%)`, tp.price, '']);
  for (const s of levels.stops) rows.push([`stop: ${s.kind}`, s.price, time(s.ts)]);
  for (const l of levels.legs)
    rows.push([
      `leg ${l.reason}${l.level ? l.level : ''}${l.stopKind ? ` (${l.stopKind})` : ''} ${Math.round(l.fraction * 100)}%`,
      l.price,
      time(l.ts),
    ]);
  rows.forEach((r, k) => {
    const tr = doc.createElement('tr');
    r.forEach((cell, j) => {
      const c = doc.createElement(k === 0 ? 'th' : j === 0 ? 'th' : 'td');
      if (k === 0) c.setAttribute('scope', 'col');
      else if (j === 0) c.setAttribute('scope', 'row');
      c.textContent = String(cell);
      tr.append(c);
    });
    t.append(tr);
  });
  return t;
}
