// wsbench HTML report: draws the charts described by the JSON in
// #wsbench-data with uPlot, keeps them sized to their containers and in
// the current theme, and records on <html> what it drew:
//   data-charts-drawn     charts uPlot drew onto a non-empty canvas
//   data-charts-failed    ids of the charts that did not draw
//   data-chart-containers .chart elements in the page
//   data-chart-geometry   JSON: for every drawn chart its plot area in
//                         page pixels and the colours of its data lines
//                         (all, and by label), for the screenshot test
//                         that checks each chart has ink where its data
//                         should be
//   data-report-status    "done" once the above are set
// Errors are recorded by the small script at the top of the page.
(function () {
  'use strict';
  var root = document.documentElement;
  var note = window.wsbenchNoteError || function (msg) { console.error(msg); };
  var data = { charts: [], phases: [] };
  try {
    data = JSON.parse(document.getElementById('wsbench-data').textContent) || data;
  } catch (e) {
    note('chart data: ' + e.message);
  }
  var specs = data.charts || [];
  var phases = data.phases || [];
  var drain = data.drain || null;
  var plots = {};
  var drawn = {};
  var HEIGHT = 260;

  // ---- formatting ----

  function group(n) {
    var s = String(Math.abs(Math.round(n)));
    var out = '';
    while (s.length > 3) {
      out = '\u202f' + s.slice(-3) + out;
      s = s.slice(0, -3);
    }
    return (n < 0 ? '-' : '') + s + out;
  }
  function sig(v) { return String(Number(v.toPrecision(3))); }
  // Compact numbers for axes and legends: 950, 12.5k, 3.4M.
  function num(v) {
    if (v == null || !isFinite(v)) return '—';
    var a = Math.abs(v);
    if (a >= 1e9) return sig(v / 1e9) + 'G';
    if (a >= 1e6) return sig(v / 1e6) + 'M';
    if (a >= 1e4) return sig(v / 1e3) + 'k';
    if (a >= 100) return group(v);
    if (a === 0) return '0';
    return sig(v);
  }
  // Milliseconds with about three significant digits, as in the tables.
  function ms(v) {
    if (v == null || !isFinite(v)) return '—';
    var a = Math.abs(v);
    if (a === 0) return '0';
    if (a < 1) return v.toFixed(3);
    if (a < 10) return v.toFixed(2);
    if (a < 100) return v.toFixed(1);
    return group(v);
  }
  function bytes(v) {
    var a = Math.abs(v);
    if (a >= 1 << 30) return sig(v / (1 << 30)) + ' GiB';
    if (a >= 1 << 20) return sig(v / (1 << 20)) + ' MiB';
    if (a >= 1 << 10) return sig(v / (1 << 10)) + ' KiB';
    return sig(v) + ' B';
  }
  function value(v, unit) {
    if (v == null || !isFinite(v)) return '—';
    switch (unit) {
      case 'ms': return ms(v) + ' ms';
      case '/s': return num(v) + '/s';
      case 'B/s': return bytes(v) + '/s';
      case '%': return v.toFixed(1) + '%';
      case 'loss%': return (v === 0 ? '0' : Number(v.toPrecision(3))) + '%';
    }
    return num(v);
  }
  // Seconds since the start as m:ss or h:mm:ss.
  function elapsed(s) {
    if (s == null || !isFinite(s)) return '—';
    var neg = s < 0;
    s = Math.abs(s);
    var whole = Math.floor(s + 1e-9);
    var frac = s - whole;
    var h = Math.floor(whole / 3600);
    var m = Math.floor(whole / 60) % 60;
    var sec = whole % 60;
    var ss = (sec < 10 ? '0' : '') + sec;
    if (frac > 1e-6) ss += frac.toFixed(frac < 0.1 ? 3 : 1).slice(1);
    var out = h > 0 ? h + ':' + (m < 10 ? '0' : '') + m + ':' + ss : m + ':' + ss;
    return (neg ? '-' : '') + out;
  }
  // x of a spectrum is 1/(1-p); the label is the percentile p.
  function percentile(x, axis) {
    if (x == null || !isFinite(x)) return '—';
    var p = 100 * (1 - 1 / x);
    if (axis) {
      var decades = Math.round(Math.log10(x));
      if (Math.abs(x - Math.pow(10, decades)) < 1e-6 * x) {
        return decades <= 0 ? '0%' : (100 - Math.pow(10, 2 - decades)).toFixed(Math.max(0, decades - 2)) + '%';
      }
      return sig(p) + '%';
    }
    var digits = Math.max(1, Math.ceil(Math.log10(x)) - 1);
    return p.toFixed(Math.min(digits, 4)) + '%';
  }

  // ---- theme ----

  function cssVar(name) { return getComputedStyle(root).getPropertyValue(name).trim(); }
  function palette() {
    var series = [];
    for (var i = 0; i < 8; i++) series.push(cssVar('--c' + i));
    return {
      fg: cssVar('--fg'), bg: cssVar('--bg'), muted: cssVar('--muted'), grid: cssVar('--grid'), series: series,
      good: cssVar('--good'), bad: cssVar('--bad'), warn: cssVar('--warn'),
      band: cssVar('--band'), drain: cssVar('--drain'),
    };
  }
  function darkPreferred() {
    return !!(window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches);
  }
  function currentTheme() {
    return root.getAttribute('data-theme') || (darkPreferred() ? 'dark' : 'light');
  }

  // ---- charts ----

  // Byte axes step in powers of two, so their ticks read 2 MiB, 4 MiB.
  var binaryIncrs = [];
  for (var b = 0; b <= 50; b++) binaryIncrs.push(Math.pow(2, b));
  var timeIncrs = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

  // Line styles, so lines differ in grayscale and print as well as in
  // colour; the legend marker repeats the style.
  var DASHES = { dash: [8, 4], dot: [2, 3], dashdot: [8, 3, 2, 3] };
  var MARKER = { dash: 'dashed', dot: 'dotted', dashdot: 'dashed' };

  // Axis labels: as few digits as say the value (0.5, 2, 10, 1 000).
  function axisNum(v) {
    if (v == null || !isFinite(v)) return '';
    return Math.abs(v) >= 1000 ? num(v) : sig(v);
  }
  function keepAll(u, splits) { return splits; }
  // On a log axis 1, 2 and 5 of each decade get a label when a decade is
  // tall enough for three labels, otherwise only the powers of ten.
  function logLabels(fmt) {
    return function (u, splits) {
      var pos = splits.filter(function (v) { return v > 0; });
      var decades = pos.length > 1 ? Math.log10(pos[pos.length - 1] / pos[0]) : 0;
      var height = u.bbox.height / ((window.uPlot && uPlot.pxRatio) || 1);
      var wide = decades > 0 && height / decades < 60;
      return splits.map(function (v) {
        if (v == null || v <= 0) return '';
        var m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
        var one = Math.abs(m - 1) < 1e-6;
        return (one || (!wide && (Math.abs(m - 2) < 1e-6 || Math.abs(m - 5) < 1e-6))) ? fmt(v) : '';
      });
    };
  }
  // Range functions that also take in the reference lines (an SLO, a
  // capacity), so a line the data stays far from is still in view.
  function zeroBased(extra) {
    return function (u, min, max) {
      extra.forEach(function (v) {
        if (max == null || !isFinite(max) || v > max) max = v;
      });
      if (max == null || !isFinite(max)) return [0, 1];
      if (min == null || !isFinite(min)) min = 0;
      var lo = Math.min(0, min);
      var hi = max > lo ? max + (max - lo) * 0.05 : lo + 1;
      return [lo, hi];
    };
  }
  function logRange(extra) {
    return function (u, min, max) {
      extra.forEach(function (v) {
        if (!(v > 0)) return;
        if (min == null || !isFinite(min) || v < min) min = v;
        if (max == null || !isFinite(max) || v > max) max = v;
      });
      if (!(min > 0) || !(max > 0)) return [0.1, 10];
      return uPlot.rangeLog(min, max, 10, true);
    };
  }

  // Every time chart: each phase as a band (alternately shaded) with its
  // name, and the drain (the last, partial interval) hatched and labelled.
  // The fills go under the grid and the data; the labels on top.
  function inView(u, v) { return v >= u.scales.x.min && v <= u.scales.x.max; }
  function xPos(u, v) { return u.valToPos(Math.min(Math.max(v, u.scales.x.min), u.scales.x.max), 'x', true); }
  function bandFills(th) {
    return function (u) {
      var ctx = u.ctx;
      var top = u.bbox.top, height = u.bbox.height;
      ctx.save();
      phases.forEach(function (p, i) {
        if (i % 2 === 1 && p.end > u.scales.x.min && p.start < u.scales.x.max) {
          var x0 = xPos(u, p.start), x1 = xPos(u, p.end);
          ctx.fillStyle = th.band;
          ctx.fillRect(x0, top, x1 - x0, height);
        }
      });
      if (drain && drain.end > u.scales.x.min && drain.start < u.scales.x.max) {
        var px = (window.uPlot && uPlot.pxRatio) || 1;
        var x0 = xPos(u, drain.start), x1 = Math.max(xPos(u, drain.end), x0 + 3 * px);
        ctx.fillStyle = th.drain;
        ctx.fillRect(x0, top, x1 - x0, height);
      }
      ctx.restore();
    };
  }
  // label writes text on a patch of the background, so it stays legible
  // over lines and does not pass for one.
  function label(ctx, th, text, x, y, px) {
    var w = ctx.measureText(text).width;
    var x0 = ctx.textAlign === 'right' ? x - w : x;
    var y0 = ctx.textBaseline === 'bottom' ? y - 12 * px : y;
    ctx.save();
    ctx.globalAlpha = 0.8;
    ctx.fillStyle = th.bg;
    ctx.fillRect(x0 - 2 * px, y0 - px, w + 4 * px, 13 * px);
    ctx.restore();
    ctx.fillText(text, x, y);
  }
  function bandLabels(th) {
    return function (u) {
      var ctx = u.ctx;
      var px = (window.uPlot && uPlot.pxRatio) || 1;
      var top = u.bbox.top, height = u.bbox.height;
      ctx.save();
      ctx.font = (11 * px) + 'px system-ui, sans-serif';
      ctx.textBaseline = 'top';
      ctx.strokeStyle = th.muted;
      ctx.fillStyle = th.muted;
      ctx.lineWidth = px;
      phases.forEach(function (p, i) {
        if (!(p.end > u.scales.x.min && p.start < u.scales.x.max)) return;
        var x0 = xPos(u, p.start), x1 = xPos(u, p.end);
        if (i > 0 && inView(u, p.start)) {
          ctx.setLineDash([4 * px, 4 * px]);
          ctx.beginPath();
          ctx.moveTo(Math.round(x0), top);
          ctx.lineTo(Math.round(x0), top + height);
          ctx.stroke();
        }
        // The name where the band has room for it, else left out (the
        // phases table lists every phase).
        // (Below the top edge, where the y axis has its highest label.)
        var w = ctx.measureText(p.name).width;
        if (x1 - x0 >= w + 8 * px) label(ctx, th, p.name, x0 + 4 * px, top + 9 * px, px);
      });
      if (drain && drain.end > u.scales.x.min && drain.start < u.scales.x.max) {
        ctx.setLineDash([]);
        ctx.textAlign = 'right';
        ctx.textBaseline = 'bottom';
        var x = xPos(u, drain.start);
        label(ctx, th, 'drain', x - 3 * px, top + height - 3 * px, px);
      }
      ctx.restore();
    };
  }

  // Reference lines: horizontal (an SLO, the CPU capacity) and vertical
  // (the capacity search's answers), each with its label.
  function refLines(spec, th) {
    var colour = function (kind) { return th[kind] || th.muted; };
    return function (u) {
      var ctx = u.ctx;
      var px = (window.uPlot && uPlot.pxRatio) || 1;
      var b = u.bbox;
      ctx.save();
      ctx.font = (11 * px) + 'px system-ui, sans-serif';
      ctx.lineWidth = 1.5 * px;
      (spec.hlines || []).forEach(function (l) {
        var y = Math.round(u.valToPos(l.value, l.right ? 'y2' : 'y', true));
        if (!(y >= b.top - 1 && y <= b.top + b.height + 1)) return;
        ctx.strokeStyle = ctx.fillStyle = colour(l.kind);
        ctx.setLineDash([6 * px, 3 * px]);
        ctx.beginPath();
        ctx.moveTo(b.left, y);
        ctx.lineTo(b.left + b.width, y);
        ctx.stroke();
        ctx.textAlign = 'right';
        ctx.textBaseline = 'bottom';
        label(ctx, th, l.label, b.left + b.width - 4 * px, y - 2 * px, px);
      });
      (spec.vlines || []).forEach(function (l, i) {
        if (!inView(u, l.value)) return;
        var x = Math.round(u.valToPos(l.value, 'x', true));
        ctx.strokeStyle = ctx.fillStyle = colour(l.kind);
        ctx.setLineDash([2 * px, 3 * px]);
        ctx.beginPath();
        ctx.moveTo(x, b.top);
        ctx.lineTo(x, b.top + b.height);
        ctx.stroke();
        var w = ctx.measureText(l.label).width;
        var right = x + 4 * px + w > b.left + b.width;
        ctx.textAlign = right ? 'right' : 'left';
        ctx.textBaseline = 'top';
        label(ctx, th, l.label, right ? x - 4 * px : x + 4 * px, b.top + (9 + 15 * i) * px, px);
      });
      ctx.restore();
    };
  }

  // join puts series with x columns of their own (a baseline's) onto one
  // x column: the union of all x values. Where a series has no point of
  // its own the value is undefined, which uPlot steps over; null, a real
  // gap (an interval without samples), stays a gap.
  function join(spec) {
    var own = spec.series.some(function (s) { return s.x; });
    var cols = [spec.x || []].concat(spec.series.map(function (s) { return s.values || []; }));
    if (!own) return cols;
    var seen = {};
    var xs = [];
    var add = function (v) { if (v != null && !seen[v]) { seen[v] = true; xs.push(v); } };
    (spec.x || []).forEach(add);
    spec.series.forEach(function (s) { (s.x || []).forEach(add); });
    xs.sort(function (a, b) { return a - b; });
    var at = {};
    xs.forEach(function (v, i) { at[v] = i; });
    var out = [xs];
    spec.series.forEach(function (s) {
      var col = new Array(xs.length);
      var sx = s.x || spec.x || [];
      (s.values || []).forEach(function (v, i) { col[at[sx[i]]] = v; });
      out.push(col);
    });
    return out;
  }

  function options(spec, width, th) {
    var right = spec.series.some(function (s) { return s.right; });
    var yAxisIncrs = null;
    var leftUnit = (spec.series.filter(function (s) { return !s.right; })[0] || {}).unit;
    var rightUnit = (spec.series.filter(function (s) { return s.right; })[0] || {}).unit;
    var xfmt = spec.kind === 'spectrum' ? function (v) { return percentile(v, false); }
      : spec.kind === 'time' ? elapsed : num;
    var series = [{
      label: spec.kind === 'time' ? 'time' : spec.kind === 'spectrum' ? 'percentile' : (spec.x_label || 'load'),
      value: function (u, v) { return xfmt(v); },
    }];
    spec.series.forEach(function (s) {
      var color = th.series[(s.color || 0) % th.series.length];
      series.push({
        label: s.label,
        stroke: color,
        width: s.width || 1.5,
        dash: DASHES[s.dash],
        scale: s.right ? 'y2' : 'y',
        spanGaps: false,
        points: { show: !!spec.points, size: 6, fill: color, stroke: color },
        value: function (u, v) { return value(v, s.unit); },
      });
    });
    var hl = (spec.hlines || []).filter(function (l) { return !l.right; }).map(function (l) { return l.value; });
    var hr = (spec.hlines || []).filter(function (l) { return l.right; }).map(function (l) { return l.value; });
    var scales = { x: { time: false }, y: spec.y_log ? { distr: 3, log: 10, range: logRange(hl) } : { range: zeroBased(hl) } };
    // asinh: linear near zero, logarithmic beyond, so a loss of 0.1% and
    // one of 30% are both visible, and zero is still on the axis.
    if (spec.y_asinh) {
      scales.y = {
        distr: 4, log: 10, asinh: spec.y_asinh,
        range: function (u, min, max) { return [0, uPlot.rangeAsinh(0, max > 0 ? max : 1, 10, true)[1]]; },
      };
    }
    if (right) scales.y2 = { range: zeroBased(hr) };
    var axisBase = {
      stroke: th.muted,
      grid: { stroke: th.grid, width: 1 },
      ticks: { stroke: th.grid, width: 1, size: 4 },
      font: '11px system-ui, sans-serif',
      labelFont: '12px system-ui, sans-serif',
    };
    var xAxis = Object.assign({}, axisBase, { size: 28, label: spec.x_label || undefined, labelSize: spec.x_label ? 18 : 0 });
    if (spec.kind === 'time') {
      xAxis.incrs = timeIncrs;
      xAxis.values = function (u, splits) { return splits.map(elapsed); };
    } else if (spec.kind === 'spectrum') {
      scales.x = { time: false, distr: 3, log: 10 };
      xAxis.splits = function (u, i, min, max) {
        var out = [];
        for (var x = 1; x <= max * (1 + 1e-9); x *= 10) {
          if (x >= min * (1 - 1e-9)) out.push(x);
        }
        return out;
      };
      xAxis.filter = keepAll;
      xAxis.values = function (u, splits) { return splits.map(function (v) { return percentile(v, true); }); };
    } else {
      xAxis.values = function (u, splits) { return splits.map(num); };
    }
    var yfmt = leftUnit === 'B/s' ? bytes : axisNum;
    if (leftUnit === 'B/s') yAxisIncrs = binaryIncrs;
    var yAxis = Object.assign({}, axisBase, {
      label: spec.y_label, labelSize: 18, size: 58,
      values: spec.y_log ? logLabels(yfmt) : function (u, splits) { return splits.map(yfmt); },
    });
    if (spec.y_log) yAxis.filter = keepAll;
    if (spec.y_asinh) yAxis.values = function (u, splits) { return splits.map(function (v) { return v == null || v < 0 ? '' : axisNum(v); }); };
    if (yAxisIncrs) yAxis.incrs = yAxisIncrs;
    var axes = [xAxis, yAxis];
    if (right) {
      var y2fmt = rightUnit === 'B/s' ? bytes : axisNum;
      axes.push(Object.assign({}, axisBase, {
        scale: 'y2', side: 1, grid: { show: false }, label: spec.y2_label, labelSize: 18, size: 58,
        values: function (u, splits) { return splits.map(y2fmt); },
      }));
    }
    var hooks = {
      drawClear: [],
      draw: [],
    };
    if (spec.kind === 'time') {
      hooks.drawClear.push(bandFills(th));
      hooks.draw.push(bandLabels(th));
    }
    if (spec.hlines || spec.vlines) hooks.draw.push(refLines(spec, th));
    hooks.draw.push(function () { drawn[spec.id] = (drawn[spec.id] || 0) + 1; });
    return {
      width: width,
      height: HEIGHT,
      // Room above the plot for the top tick label of the y axis.
      padding: [10, null, null, null],
      series: series,
      scales: scales,
      axes: axes,
      legend: {
        live: true,
        markers: { width: 3, dash: function (u, i) { return MARKER[(spec.series[i - 1] || {}).dash] || 'solid'; } },
      },
      cursor: { drag: { x: true, y: false }, points: { size: 6 } },
      hooks: hooks,
    };
  }

  function build(spec, th) {
    var el = document.getElementById(spec.id);
    if (!el) {
      note('chart ' + spec.id + ': no container');
      return;
    }
    el.textContent = '';
    var width = Math.max(240, Math.floor(el.clientWidth || 600));
    try {
      plots[spec.id] = new uPlot(options(spec, width, th), join(spec), el);
    } catch (e) {
      delete plots[spec.id];
      note('chart ' + spec.id + ': ' + (e && e.message ? e.message : e));
      var msg = document.createElement('p');
      msg.className = 'chart-error';
      msg.textContent = 'This chart could not be drawn: ' + (e && e.message ? e.message : e);
      el.appendChild(msg);
    }
  }

  function buildAll() {
    Object.keys(plots).forEach(function (id) { plots[id].destroy(); delete plots[id]; });
    drawn = {};
    var th = palette();
    specs.forEach(function (spec) { build(spec, th); });
    setTimeout(status, 0);
  }

  // A chart counts as drawn when uPlot finished a draw onto a canvas of
  // non-zero size that has something on it. (Axes and grid are ink too:
  // whether the data drew is for the screenshot test to see.)
  function inked(u) {
    var c = u.ctx.canvas;
    if (!c.width || !c.height) return false;
    var px = u.ctx.getImageData(0, 0, c.width, c.height).data;
    for (var i = 3; i < px.length; i += 4) {
      if (px[i] !== 0) return true;
    }
    return false;
  }
  // geometry is where each chart's plot area is on the page, in CSS
  // pixels, which colours its own data lines have (not the reference
  // lines: a baseline or a threshold), and each data line's colour by
  // its label.
  function geometry(th) {
    var out = [];
    specs.forEach(function (spec) {
      var u = plots[spec.id];
      if (!u || !u.over) return;
      var r = u.over.getBoundingClientRect();
      var colors = [];
      var lines = {};
      spec.series.forEach(function (s) {
        var c = th.series[(s.color || 0) % th.series.length];
        if (s.ref) return;
        if (colors.indexOf(c) < 0) colors.push(c);
        lines[s.label] = c;
      });
      out.push({
        id: spec.id,
        x: Math.round(r.left + window.scrollX), y: Math.round(r.top + window.scrollY),
        w: Math.round(r.width), h: Math.round(r.height), colors: colors, lines: lines,
      });
    });
    return out;
  }
  function status() {
    var ok = 0;
    var failed = [];
    specs.forEach(function (spec) {
      var u = plots[spec.id];
      var good = false;
      try { good = !!u && drawn[spec.id] > 0 && inked(u); } catch (e) { note('chart ' + spec.id + ': ' + e.message); }
      if (good) ok++; else failed.push(spec.id);
    });
    root.setAttribute('data-charts-drawn', String(ok));
    root.setAttribute('data-charts-failed', failed.join(' '));
    root.setAttribute('data-chart-containers', String(document.querySelectorAll('.chart').length));
    try {
      root.setAttribute('data-chart-geometry', JSON.stringify(geometry(palette())));
    } catch (e) { note('chart geometry: ' + e.message); }
    root.setAttribute('data-report-status', 'done');
  }

  // ---- sizing and theme switching ----

  function watchSizes() {
    if (!window.ResizeObserver) {
      window.addEventListener('resize', function () {
        Object.keys(plots).forEach(function (id) {
          var el = document.getElementById(id);
          if (el) plots[id].setSize({ width: Math.max(240, Math.floor(el.clientWidth)), height: HEIGHT });
        });
      });
      return;
    }
    var ro = new ResizeObserver(function (entries) {
      entries.forEach(function (entry) {
        var u = plots[entry.target.id];
        var w = Math.max(240, Math.floor(entry.contentRect.width));
        if (u && Math.abs(u.width - w) >= 1) u.setSize({ width: w, height: HEIGHT });
      });
    });
    specs.forEach(function (spec) {
      var el = document.getElementById(spec.id);
      if (el) ro.observe(el);
    });
  }

  function setupTheme() {
    var button = document.getElementById('theme-toggle');
    if (button) {
      button.addEventListener('click', function () {
        var next = currentTheme() === 'dark' ? 'light' : 'dark';
        root.setAttribute('data-theme', next);
        try { localStorage.setItem('wsbench-theme', next); } catch (e) { /* file:// may forbid storage */ }
        buildAll();
      });
    }
    if (window.matchMedia) {
      var mq = window.matchMedia('(prefers-color-scheme: dark)');
      var onChange = function () { if (!root.getAttribute('data-theme')) buildAll(); };
      if (mq.addEventListener) mq.addEventListener('change', onChange);
    }
  }

  function start() {
    if (typeof uPlot !== 'function') {
      note('uPlot did not load');
      status();
      return;
    }
    setupTheme();
    buildAll();
    watchSizes();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
