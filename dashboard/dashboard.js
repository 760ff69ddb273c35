// The dashboard page's script: one region selector and one date range drive every chart. Each chart adds
// up the daily report rows of the selection; window.dashboard exposes those sums (the browser test checks
// them against the data). Written into the page by render.py, after plotly.js and the page's data.
(() => {
  const D = JSON.parse(document.getElementById('dashboard-data').textContent);
  const CONFIG = JSON.parse(document.getElementById('dashboard-config').textContent);
  const state = {region: -1, from: 0, to: D.dates.length - 1, metric: 'videos'};
  const keep = (t, i) => (state.region < 0 || t.r[i] === state.region) && t.d[i] >= state.from && t.d[i] <= state.to;
  const add = (map, key, value) => map.set(key, (map.get(key) || 0) + value);
  const selected = () => state.region < 0 ? D.regions.map((_, i) => i) : [state.region];
  const nearestRank = (pairs, total, percent) => {  // pairs: [days, videos] sorted by days
    const rank = Math.max(1, Math.ceil(percent * total / 100));
    let seen = 0;
    for (const [days, n] of pairs) { seen += n; if (seen >= rank) return days; }
    return null;
  };
  const api = {
    state, data: D,
    topCategories() {
      const t = D.cat, views = new Map(), rows = new Map(), borrowed = new Set();
      let total = 0;
      for (let i = 0; i < t.r.length; i++) {
        if (!keep(t, i)) continue;
        add(views, t.c[i], t.views[i]); add(rows, t.c[i], t.rows[i]); total += t.views[i];
        if (t.b[i]) borrowed.add(t.c[i]);
      }
      return [...views.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, CONFIG.top_categories)
        .map(([c, v]) => ({category: D.categories[c] + (borrowed.has(c) ? ' ' + CONFIG.mark : ''),
                           views: v, share: total ? v / total : null, rows: rows.get(c)}));
    },
    engagement(metric) {
      const t = D.cat, sums = new Map(), counts = new Map(), views = new Map();
      const prefix = metric === 'like_ratio' ? 'l' : 'e';
      for (let i = 0; i < t.r.length; i++) {
        if (!keep(t, i)) continue;
        const key = t.c[i] + ':' + t.r[i];
        add(sums, key, t[prefix + 's'][i]); add(counts, key, t[prefix + 'n'][i]); add(views, t.c[i], t.views[i]);
      }
      const categories = [...views.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([c]) => c);
      const regions = selected().filter(r => categories.some(c => counts.has(c + ':' + r)));
      const z = categories.map(c => regions.map(r => {
        const n = counts.get(c + ':' + r); return n ? sums.get(c + ':' + r) / n : null; }));
      return {categories: categories.map(c => D.categories[c]), regions: regions.map(r => D.regions[r]), z};
    },
    daysToTrend() {
      const t = D.dtt, byCategory = new Map(), borrowed = new Set();
      for (let i = 0; i < t.r.length; i++) {
        if (!keep(t, i)) continue;
        if (!byCategory.has(t.c[i])) byCategory.set(t.c[i], new Map());
        add(byCategory.get(t.c[i]), t.days[i], t.n[i]);
        if (t.b[i]) borrowed.add(t.c[i]);
      }
      const out = [];
      for (const [c, counts] of byCategory) {
        const pairs = [...counts.entries()].sort((a, b) => a[0] - b[0]);
        const videos = pairs.reduce((s, [, n]) => s + n, 0);
        const sum = pairs.reduce((s, [d, n]) => s + d * n, 0);
        const within = pairs.filter(([d]) => d <= 1).reduce((s, [, n]) => s + n, 0);
        out.push({category: D.categories[c] + (borrowed.has(c) ? ' ' + CONFIG.mark : ''), videos,
                  min: pairs[0][0], p50: nearestRank(pairs, videos, 50), p90: nearestRank(pairs, videos, 90),
                  max: pairs[pairs.length - 1][0], mean: sum / videos, within: within / videos});
      }
      return out.sort((a, b) => b.videos - a.videos || (a.category < b.category ? -1 : 1));
    },
    dailyVolume(metric) {
      const t = D.daily, lines = new Map();
      for (let i = 0; i < t.r.length; i++) {
        if (!keep(t, i)) continue;
        if (!lines.has(t.r[i])) lines.set(t.r[i], []);
        lines.get(t.r[i]).push(i);
      }
      return [...lines.entries()].sort((a, b) => a[0] - b[0]).map(([r, rows]) => {
        rows.sort((a, b) => t.d[a] - t.d[b]);
        return {region: D.regions[r], dates: rows.map(i => D.dates[t.d[i]]), values: rows.map(i => t[metric][i]),
                partial: rows.map(i => t.partial[i]), videos: rows.map(i => t.videos[i]),
                typical: rows.map(i => t.typical[i])};
      });
    },
    leaderboard() {
      const t = D.ch, channels = new Map();
      for (let i = 0; i < t.r.length; i++) {
        if (!keep(t, i)) continue;
        const k = t.k[i];
        if (!channels.has(k)) channels.set(k, {appearances: 0, views: 0, days: new Set(), first: t.d[i], last: t.d[i]});
        const c = channels.get(k);
        c.appearances += t.n[i]; c.views += t.views[i]; c.days.add(t.d[i]);
        c.first = Math.min(c.first, t.d[i]); c.last = Math.max(c.last, t.d[i]);
      }
      return [...channels.entries()].map(([k, c]) => ({channel: D.channels[k], appearances: c.appearances,
          days: c.days.size, views: c.views, first: D.dates[c.first], last: D.dates[c.last]}))
        .sort((a, b) => b.appearances - a.appearances || b.days - a.days || b.views - a.views
                        || (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0))
        .slice(0, CONFIG.leaderboard_rows).map((row, i) => ({rank: i + 1, ...row}));
    },
  };
  window.dashboard = api;

  const font = {family: CONFIG.font_family};
  const base = (title, height, extra) => Object.assign({template: 'plotly_white', title: {text: title, x: 0.5},
    height, font, margin: {t: 60, l: 60, r: 40, b: 60}}, extra || {});
  const where = () => (state.region < 0 ? 'all regions' : D.regions[state.region]) + ', '
    + D.dates[state.from] + ' to ' + D.dates[state.to];
  const empty = (id, title, report) => Plotly.react(id, [], base(title, 260, {xaxis: {visible: false},
    yaxis: {visible: false}, annotations: [{text: 'No rows in the ' + report + ' report for ' + where() + '.',
    showarrow: false, font: {size: 16}, xref: 'paper', yref: 'paper', x: 0.5, y: 0.5}]}), CONFIG.plotly);

  const draw = {
    top_categories(id) {
      const rows = api.topCategories(), title = 'Top ' + CONFIG.top_categories + ' categories by trending views — ' + where();
      if (!rows.length) return empty(id, title, 'category_daily');
      Plotly.react(id, [{type: 'bar', orientation: 'h', x: rows.map(r => r.views).reverse(),
        y: rows.map(r => r.category).reverse(), text: rows.map(r => (100 * r.share).toFixed(1) + '%').reverse(),
        textposition: 'auto', customdata: rows.map(r => [r.share, r.rows]).reverse(),
        hovertemplate: '%{y}<br>%{x:,} trending views<br>%{customdata[0]:.1%} of the selection'
          + '<br>%{customdata[1]:,} video-days<extra></extra>'}],
        base(title, 480, {xaxis: {title: {text: 'trending views (a video counts once per day it trends)'}},
          yaxis: {automargin: true, type: 'category'}}), CONFIG.plotly);
    },
    engagement(id) {
      const metric = document.getElementById('engagement-metric').value;
      const m = api.engagement(metric);
      const title = (metric === 'like_ratio' ? 'Average like ratio' : 'Average engagement rate') + ' — ' + where();
      if (!m.categories.length) return empty(id, title, 'category_daily');
      Plotly.react(id, [{type: 'heatmap', z: m.z, x: m.regions, y: m.categories, colorscale: 'Viridis',
        hoverongaps: false, colorbar: {tickformat: '.0%'}, hovertemplate: '%{y} in %{x}<br>%{z:.2%}<extra></extra>'}],
        base(title, Math.max(360, 26 * m.categories.length + 160), {xaxis: {type: 'category', title: {text: 'region'}},
          yaxis: {autorange: 'reversed', automargin: true, type: 'category'}}), CONFIG.plotly);
    },
    days_to_trend(id) {
      const rows = api.daysToTrend(), title = 'Days from publication to first trending day — ' + where();
      if (!rows.length) return empty(id, title, 'days_to_trend_daily');
      const custom = rows.map(r => [r.videos, r.min, r.max, r.mean, r.within]);
      const hover = '%{x}<br>%{fullData.name}: %{y} days<br>%{customdata[0]} videos, min %{customdata[1]}, '
        + 'max %{customdata[2]}, mean %{customdata[3]:.1f}<br>%{customdata[4]:.0%} trended within a day<extra></extra>';
      Plotly.react(id, ['p50', 'p90'].map((name, i) => ({type: 'bar', name, x: rows.map(r => r.category),
        y: rows.map(r => r[name]), customdata: custom, hovertemplate: hover, marker: {color: ['#4C78A8', '#F58518'][i]}})),
        base(title, 480, {barmode: 'group', xaxis: {type: 'category', tickangle: -30},
          yaxis: {title: {text: 'days (nearest-rank percentile)'}}}), CONFIG.plotly);
    },
    daily_volume(id) {
      const metric = document.getElementById('daily-metric').value;
      const lines = api.dailyVolume(metric), title = CONFIG.metrics[metric] + ' — ' + where();
      if (!lines.length) return empty(id, title, 'daily_trending_summary');
      const traces = lines.map(l => ({type: 'scatter', mode: 'lines+markers', name: l.region, x: l.dates, y: l.values,
        hovertemplate: '%{x|%Y-%m-%d}: %{y:,}<extra>' + l.region + '</extra>'}));
      const partial = lines.flatMap(l => l.dates.map((d, i) => l.partial[i] ? {d, v: l.values[i], r: l.region,
        n: l.videos[i], t: l.typical[i]} : null).filter(Boolean));
      if (partial.length) traces.push({type: 'scatter', mode: 'markers', name: 'partial day', x: partial.map(p => p.d),
        y: partial.map(p => p.v), marker: {symbol: 'x-open', size: 14, color: '#D62728', line: {width: 2}},
        text: partial.map(p => p.r + ': partial day, the source file ends after ' + p.n + ' of a typical ' + p.t + ' videos'),
        hovertemplate: '%{x|%Y-%m-%d}<br>%{text}<extra></extra>'});
      const oneTick = state.to - state.from <= 31 ? {dtick: 86400000} : {};  // days, never hours
      Plotly.react(id, traces, base(title, 460, {xaxis: {title: {text: 'trending date'}, type: 'date',
        tickformat: '%Y-%m-%d', ...oneTick},
        yaxis: {rangemode: 'tozero'}, legend: {title: {text: 'region (click to hide)'}}}), CONFIG.plotly);
    },
    leaderboard(id) {
      const rows = api.leaderboard(), title = 'Top ' + CONFIG.leaderboard_rows + ' channels by trending appearances — ' + where();
      if (!rows.length) return empty(id, title, 'channel_daily');
      Plotly.react(id, [{type: 'table', columnwidth: [40, 240, 110, 80, 110, 90, 90],
        header: {values: ['rank', 'channel', 'appearances (video x day)', 'days on list', 'trending views', 'first', 'last'],
          align: 'left', fill: {color: '#E5ECF6'}, font: {size: 13, family: CONFIG.font_family}, height: 30},
        cells: {values: [rows.map(r => r.rank), rows.map(r => r.channel), rows.map(r => r.appearances),
          rows.map(r => r.days), rows.map(r => r.views), rows.map(r => r.first), rows.map(r => r.last)],
          align: ['right', 'left', 'right', 'right', 'right', 'left', 'left'], format: [null, null, ',d', ',d', ',d', null, null],
          font: {family: CONFIG.font_family}, height: 26}}],
        base(title, 60 + 30 + 26 * rows.length + 30, {margin: {t: 60, l: 20, r: 20, b: 10}}), CONFIG.plotly);
    },
  };
  const redraw = () => {
    for (const [key, id] of Object.entries(CONFIG.charts)) draw[key](id);
    document.getElementById('filter-summary').textContent = where();
  };
  const region = document.getElementById('region-filter');
  const from = document.getElementById('date-from'), to = document.getElementById('date-to');
  const index = (value, fallback) => { const i = D.dates.indexOf(value); return i < 0 ? fallback : i; };
  region.addEventListener('change', () => { state.region = Number(region.value); redraw(); });
  const range = () => {
    // A typed date between two data dates snaps to the nearest data date inside the range.
    // An emptied input means no bound on that side.
    const low = from.value || D.dates[0], high = to.value || D.dates[D.dates.length - 1];
    const lo = D.dates.findIndex(d => d >= low), hi = D.dates.map(d => d <= high).lastIndexOf(true);
    state.from = lo < 0 ? D.dates.length - 1 : lo; state.to = hi < 0 ? 0 : hi;
    if (state.from > state.to) [state.from, state.to] = [state.to, state.from];
    redraw();
  };
  from.addEventListener('change', range); to.addEventListener('change', range);
  for (const id of ['daily-metric', 'engagement-metric']) document.getElementById(id).addEventListener('change', redraw);
  api.select = (regionLabel, first, last) => {  // what a reader does with the controls, for tests
    state.region = regionLabel ? D.regions.indexOf(regionLabel) : -1; region.value = String(state.region);
    state.from = index(first, 0); state.to = index(last, D.dates.length - 1);
    from.value = D.dates[state.from] || ''; to.value = D.dates[state.to] || ''; redraw();
  };
  if (D.dates.length) { from.value = D.dates[0]; to.value = D.dates[D.dates.length - 1]; }
  redraw();
})();
