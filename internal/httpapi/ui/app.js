// kmirror's live status page. Each poll reads the summary of every flow
// (api/v1/status/summary: counts and the worst, small at any scale) and
// one page of the topics and groups that match the search and filters
// (api/v1/status?search=…&limit=50): no poll grows with the number of
// topics and groups. The filters live in the URL's fragment
// (#search=orders&verdict=not-ready&page=2), so a view can be shared.
// Every value from the report reaches the DOM as text (textContent,
// setAttribute), never as markup.
'use strict';

(function () {
  const POLL_MS = 2000;
  const TIMEOUT_MS = 10000;
  const HISTORY = 60; // heartbeat samples kept per flow, one per poll
  const LAG_HISTORY_MS = 30000; // how often the lag history is read again
  const SVG = 'http://www.w3.org/2000/svg';
  const PAGE = 50; // topics and groups of each flow per page

  const root = document.getElementById('app');
  const flowsEl = document.getElementById('flows');
  const errorEl = document.getElementById('error');
  const summaryEl = document.getElementById('summary');
  const updatedEl = document.getElementById('updated');
  const filtersEl = document.getElementById('filters');
  const pagerEl = document.getElementById('pager');

  const rtt = new Map(); // flow name → heartbeat round trips in seconds, oldest first
  let lagHistory = new Map(); // flow name + '\u0000' + topic → lag points of the last hour, oldest first
  let lagHistoryAt = 0;
  // Flows whose finished topics and groups are unfolded: kept across the
  // re-renders of each poll. #finished in the URL unfolds them all.
  const unfolded = new Set();
  const hash = new URLSearchParams(location.hash.slice(1));
  const unfoldAll = hash.has('finished');
  // The search and filters, and the page shown (from 0).
  const view = {
    search: hash.get('search') || '', phase: hash.get('phase') || '', verdict: hash.get('verdict') || '',
    lagging: hash.get('lagging') === '1', page: Math.max(0, (parseInt(hash.get('page'), 10) || 1) - 1),
  };
  let polls = 0;
  let lastOK = null;

  // el builds an element: attrs are set as attributes, children are
  // elements or strings (text nodes).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) e.setAttribute(k, String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  const intFmt = new Intl.NumberFormat('en-US');
  const num = (n) => intFmt.format(n);
  const secs = (s) => (s < 10 ? s.toFixed(1) : num(Math.round(s)));
  const rate = (r) => (r === null || r === undefined ? '—' : r < 10 ? r.toFixed(1) : num(Math.round(r)));
  const clock = (t) => {
    const d = new Date(t);
    return isNaN(d) ? String(t) : d.toLocaleTimeString('en-GB');
  };
  const list = (a) => (Array.isArray(a) ? a : []);

  const BADGES = {
    'ready': 'badge-ready',
    'not-ready': 'badge-not-ready',
    'switched': 'badge-switched',
  };

  // The phases of the seed's steps, in order; FINISHED ones are folded
  // away under the migration table.
  const PHASES = ['mirroring', 'consumers-ready', 'consumers-switched', 'producers-drained', 'verified', 'done'];
  const FINISHED = new Set(['done', 'removed']);
  const SPARK_MIN_MS = 5 * 60e3;
  const FINISHED_NAMES = 8; // finished topics and groups named in the folded summary
  const finished = (x) => !!(x.step && FINISHED.has(x.step.phase));

  // duration says a number of seconds in words.
  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min';
    const h = Math.floor(m / 60);
    if (h < 48) return h + ' h ' + (m % 60) + ' min';
    return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
  }

  // sparkline draws a topic's lag in records over the last hour.
  function sparkline(flow, topic) {
    const points = lagHistory.get(flow + '\u0000' + topic) || [];
    const W = 160, H = 28, PAD = 2;
    const max = Math.max(0, ...points.map((p) => p.lagRecords || 0));
    const chart = svg('svg', {
      'data-chart': 'lag', 'data-points': points.length, 'data-max': max,
      viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'spark',
      'aria-label': 'Lag in records over the last hour',
    });
    chart.append(svg('title', {}, points.length
      ? `lag over the last hour: at most ${num(max)} records, now ${num(points[points.length - 1].lagRecords || 0)}`
      : 'no lag sampled yet'));
    if (points.length === 0) return chart;
    // The x axis spans the points kept (at most the hour), at least
    // SPARK_MIN_MS, so that a young history is not a single line.
    const end = Date.parse(points[points.length - 1].time);
    const span = Math.min(3600e3, Math.max(SPARK_MIN_MS, end - Date.parse(points[0].time)));
    const x = (p) => W - PAD - ((W - 2 * PAD) * Math.min(span, Math.max(0, end - Date.parse(p.time)))) / span;
    const y = (v) => H - PAD - ((H - 2 * PAD) * v) / (max || 1);
    chart.append(svg('line', { x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, class: 'grid' }));
    if (points.length === 1) {
      chart.append(svg('circle', { cx: x(points[0]), cy: y(points[0].lagRecords || 0), r: 2, class: 'dot' }));
    } else {
      chart.append(svg('polyline', { points: points.map((p) => `${x(p).toFixed(1)},${y(p.lagRecords || 0).toFixed(1)}`).join(' '), class: 'line' }));
    }
    return chart;
  }

  // timeline lists a topic's or group's recorded steps, oldest first.
  function timeline(step) {
    const events = list(step && step.timeline);
    if (events.length === 0) return el('span', { class: 'muted' }, 'nothing recorded yet');
    return el('ol', { class: 'timeline', 'data-field': 'timeline' }, ...events.map((e) => {
      const facts = [];
      if (e.verdict) facts.push(e.verdict);
      // The counts come in the order they read (compared, identical,
      // missing, extra…); the one the verdict names is said by it.
      for (const [k, v] of Object.entries(e.counts || {})) if (k !== e.verdict) facts.push(`${k} ${num(v)}`);
      return el('li', { 'data-event': e.event, title: (e.by ? 'by ' + e.by : '') + (list(e.reasons).length ? '\n' + list(e.reasons).join('\n') : '') },
        el('span', { class: 'event' }, e.event),
        ' ' + clock(e.time) + (facts.length ? ' · ' + facts.join(', ') : ''));
    }));
  }

  // appRow is a topic's or group's row; a topic listed under the group
  // that reads it is indented. A finished topic, which the topics table no
  // longer lists, keeps its figure here: the records copied.
  function appRow(f, app, now) {
    const { kind, name, step } = app;
    const phase = (step && step.phase) || 'mirroring';
    const since = step && step.since ? Date.parse(step.since) : NaN;
    const inPhase = isNaN(since) ? null : (Date.parse(now) - since) / 1000;
    return el('tr', { 'data-app': kind + ':' + name, 'data-kind': kind, 'data-phase': phase, class: app.member ? 'member' : null },
      el('td', { 'data-field': 'kind' }, kind),
      el('td', { 'data-field': 'name' }, name),
      el('td', { 'data-field': 'phase' },
        el('span', { class: 'badge phase phase-' + (PHASES.includes(phase) ? PHASES.indexOf(phase) : 'other') }, phase)),
      el('td', { 'data-field': 'inPhase', 'data-value': inPhase === null ? '' : Math.round(inPhase), class: 'num' },
        inPhase === null ? '—' : duration(inPhase)),
      el('td', { 'data-field': 'since', title: step && step.by ? 'by ' + step.by : '' },
        isNaN(since) ? 'seen now' : clock(step.since), step && step.by ? el('div', { class: 'by' }, step.by) : null),
      el('td', { 'data-field': 'story' },
        kind === 'topic' && !FINISHED.has(phase) ? sparkline(f.name, name) : null,
        kind === 'topic' && FINISHED.has(phase)
          ? el('div', { class: 'figure', 'data-field': 'copied', 'data-value': app.copied || 0 }, num(app.copied || 0) + ' records copied')
          : null,
        timeline(step)));
  }

  function appTable(rows, cls) {
    return el('table', { class: 'migration ' + cls },
      el('thead', {}, el('tr', {},
        el('th', {}, ''), el('th', {}, 'Topic or group'), el('th', {}, 'Phase'), el('th', { class: 'num' }, 'In phase'),
        el('th', {}, 'Since'), el('th', {}, 'Story (lag over the last hour, steps recorded)'))),
      el('tbody', {}, ...rows));
  }

  // migration is the flow's applications, each topic and group with
  // where it stands in the migration; the finished ones are folded away.
  function migration(f, now) {
    // An application is a group and the topics it reads: each group is
    // followed by its topics; topics no group reads come last.
    const topics = new Map(list(f.topics).map((t) => [t.topic, t]));
    const apps = [];
    for (const g of list(f.groups)) {
      apps.push({ kind: 'group', name: g.group, step: g.step });
      const reads = new Set(list(g.partitions).map((p) => p.topic));
      for (const e of list(g.step && g.step.timeline)) for (const t of list(e.topics)) reads.add(t);
      for (const name of [...reads].sort()) {
        const t = topics.get(name);
        if (!t) continue;
        apps.push({ kind: 'topic', name, step: t.step, copied: t.copied, member: true });
        topics.delete(name);
      }
    }
    for (const t of topics.values()) apps.push({ kind: 'topic', name: t.topic, step: t.step, copied: t.copied });
    const active = apps.filter((a) => !finished(a));
    const done = apps.filter((a) => finished(a));
    const rows = active.map((a) => appRow(f, a, now));
    if (rows.length === 0) {
      rows.push(el('tr', {}, el('td', { colspan: 6, class: 'empty' },
        done.length ? 'Every topic and group of this flow has finished its migration.' : 'No topic or group in a migration yet.')));
    }
    const n = (kind) => done.filter((a) => a.kind === kind).length;
    return el('div', { 'data-field': 'migration' },
      appTable(rows, 'active'),
      done.length ? folded(f.name, el('details', { class: 'finished', 'data-field': 'finished', 'data-count': done.length },
        el('summary', {}, `Finished: ${n('topic')} topic${n('topic') === 1 ? '' : 's'} and ${n('group')} group${n('group') === 1 ? '' : 's'}`,
          el('span', { class: 'muted', 'data-field': 'finishedNames' }, ' — ' + done.slice(0, FINISHED_NAMES).map((a) => a.name).join(', ') +
            (done.length > FINISHED_NAMES ? `, and ${done.length - FINISHED_NAMES} more` : ''))),
        appTable(done.map((a) => appRow(f, a, now)), 'done'))) : null);
  }

  // folded keeps a flow's "Finished" unfolded once the reader opened it.
  function folded(flow, details) {
    if (unfoldAll || unfolded.has(flow)) details.open = true;
    details.addEventListener('toggle', () => {
      if (details.open) unfolded.add(flow);
      else unfolded.delete(flow);
    });
    return details;
  }

  // allFinished says that every one of a table's n topics or groups has
  // finished its migration (empty when none has).
  function allFinished(n, kind) {
    if (n === 0) return '';
    return (n === 1 ? `The one ${kind} finished its migration` : `All ${num(n)} ${kind}s finished their migration`) +
      ': listed under "Finished" above.';
  }

  function topicsTable(f) {
    const topics = list(f.topics).filter((t) => !finished(t));
    const maxLag = Math.max(0, ...topics.map((t) => t.lagRecords || 0));
    const rows = topics.map((t) => {
      const lag = t.lagRecords || 0;
      const fill = el('div', { class: 'fill' });
      // CSSOM, not a style attribute: allowed by the page's CSP.
      fill.style.width = (maxLag > 0 ? (100 * lag) / maxLag : 0).toFixed(1) + '%';
      const stopped = list(t.partitions).filter((p) => p.stopped);
      return el('tr', { 'data-topic': t.topic },
        el('td', { 'data-field': 'topic' }, t.topic,
          ...stopped.map((p) => el('div', { class: 'note', 'data-stopped': p.partition },
            'partition ' + p.partition + ' stopped: ' + p.stopped))),
        el('td', { 'data-field': 'target' }, t.target),
        el('td', { 'data-field': 'lagRecords', 'data-value': lag, class: 'num' }, num(lag)),
        el('td', { 'data-field': 'lagBar', class: 'barcell' },
          el('div', { class: 'bar', title: num(lag) + ' records behind' }, fill)),
        el('td', { 'data-field': 'lagSeconds', 'data-value': t.lagSeconds || 0, class: 'num' }, secs(t.lagSeconds || 0)),
        el('td', { 'data-field': 'recordsPerSecond', 'data-value': t.recordsPerSecond ?? '', class: 'num' }, rate(t.recordsPerSecond)),
        el('td', { 'data-field': 'copied', 'data-value': t.copied || 0, class: 'num' }, num(t.copied || 0)));
    });
    if (rows.length === 0) {
      rows.push(el('tr', {}, el('td', { colspan: 7, class: 'empty' },
        allFinished(list(f.topics).filter(finished).length, 'topic') || 'No topic mirrored yet.')));
    }
    return el('table', { class: 'topics' },
      el('thead', {}, el('tr', {},
        el('th', {}, 'Topic'), el('th', {}, 'Target topic'), el('th', { class: 'num' }, 'Lag (records)'),
        el('th', {}, ''), el('th', { class: 'num' }, 'Lag (s)'), el('th', { class: 'num' }, 'Records/s'),
        el('th', { class: 'num' }, 'Copied'))),
      el('tbody', {}, ...rows));
  }

  function blockedTable(f) {
    const blocked = list(f.blocked);
    if (blocked.length === 0) return null;
    return el('table', { class: 'blocked' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Blocked topic'), el('th', {}, 'Reason'))),
      el('tbody', {}, ...blocked.map((b) => el('tr', { 'data-blocked': b.topic },
        el('td', { 'data-field': 'topic' }, b.topic),
        el('td', { 'data-field': 'reason' }, b.reason)))));
  }

  function groupsTable(f) {
    const rows = list(f.groups).filter((g) => !finished(g)).map((g) => el('tr', { 'data-group': g.group, 'data-verdict': g.verdict },
      el('td', { 'data-field': 'group' }, g.group),
      el('td', { 'data-field': 'verdict' },
        el('span', { class: 'badge ' + (BADGES[g.verdict] || 'badge-unknown') }, g.verdict || 'unknown')),
      el('td', { 'data-field': 'activeOnSource', 'data-value': g.activeOnSource || 0, class: 'num' }, num(g.activeOnSource || 0)),
      el('td', { 'data-field': 'activeOnTarget', 'data-value': g.activeOnTarget || 0, class: 'num' }, num(g.activeOnTarget || 0)),
      el('td', { 'data-field': 'reasons' },
        el('ul', { class: 'reasons' }, ...list(g.reasons).map((r) => el('li', {}, r))))));
    if (rows.length === 0) {
      rows.push(el('tr', {}, el('td', { colspan: 5, class: 'empty' },
        allFinished(list(f.groups).filter(finished).length, 'group') || 'No consumer group selected.')));
    }
    return el('table', { class: 'groups' },
      el('thead', {}, el('tr', {},
        el('th', {}, 'Group'), el('th', {}, 'Verdict'), el('th', { class: 'num' }, 'Active on source'),
        el('th', { class: 'num' }, 'Active on target'), el('th', {}, 'Reasons'))),
      el('tbody', {}, ...rows));
  }

  // heartbeatChart draws the round trips of the last polls as a line.
  function heartbeatChart(f) {
    const points = rtt.get(f.name) || [];
    const W = 600, H = 140, PAD = 6, LABEL = 70;
    const chart = svg('svg', {
      'data-chart': 'heartbeat', 'data-points': points.length,
      viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart',
      'aria-label': 'Heartbeat round trip over the last polls',
    });
    chart.append(svg('rect', { x: 0, y: 0, width: W, height: H, class: 'frame' }));
    if (points.length === 0) {
      chart.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'axis' }, 'no heartbeat acknowledged yet'));
      return chart;
    }
    const max = Math.max(...points) || 0.001;
    const x = (i) => LABEL + ((W - LABEL - PAD) * (i + HISTORY - points.length)) / (HISTORY - 1);
    const y = (v) => H - PAD - ((H - 2 * PAD) * v) / max;
    const ms = (s) => (s * 1000).toFixed(s < 0.01 ? 2 : 1) + ' ms';
    chart.append(
      svg('line', { x1: LABEL, y1: y(max), x2: W - PAD, y2: y(max), class: 'grid' }),
      svg('line', { x1: LABEL, y1: y(0), x2: W - PAD, y2: y(0), class: 'grid' }),
      svg('text', { x: LABEL - 6, y: y(max) + 4, 'text-anchor': 'end', class: 'axis' }, ms(max)),
      svg('text', { x: LABEL - 6, y: y(0), 'text-anchor': 'end', class: 'axis' }, '0 ms'),
      svg('polyline', { points: points.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' '), class: 'line' }));
    const last = points[points.length - 1];
    chart.append(svg('circle', { cx: x(points.length - 1), cy: y(last), r: 3, class: 'dot' }));
    return chart;
  }

  // workersLine says who runs the flow (each worker's host and how much
  // it holds) and when its progress last moved.
  // s is the flow's summary: its workers with what each holds, and its
  // stalled partitions, whatever page of topics is shown.
  function workersLine(f, s) {
    if (s.workers == null) return el('p', { class: 'muted', 'data-field': 'workers' }, 'workers: unknown');
    const who = s.workers.map((w) => `${w.host} (${w.held} held)`).join(', ');
    const byPhase = (s.topics && s.topics.byPhase) || {};
    const done = (byPhase.done || 0) + (byPhase.removed || 0);
    const last = f.lastProgress ? 'progress last moved ' + clock(f.lastProgress)
      : s.topics && s.topics.total && done === s.topics.total ? 'nothing left to copy: every topic finished' : 'no progress yet';
    const stalledList = list(s.stalled && s.stalled.first);
    const stalledMore = ((s.stalled && s.stalled.count) || 0) - stalledList.length;
    const stalled = stalledList.length ? '; stalled: ' + stalledList.join(', ') + (stalledMore > 0 ? `, and ${num(stalledMore)} more` : '') : '';
    return el('p', { class: s.workers.length ? 'muted' : 'warn', 'data-field': 'workers', 'data-workers': s.workers.length },
      `workers: ${s.workers.length}${who ? ' — ' + who : ''}; ${last}${stalled}`);
  }

  // counts says a flow's counts by phase or verdict: "mirroring 12 ·
  // consumers-ready 3", in the phases' order.
  function counts(m) {
    const keys = Object.keys(m || {}).sort((a, b) => {
      const ra = PHASES.includes(a) ? PHASES.indexOf(a) : PHASES.length, rb = PHASES.includes(b) ? PHASES.indexOf(b) : PHASES.length;
      return ra - rb || (a < b ? -1 : a > b ? 1 : 0);
    });
    return keys.length ? keys.map((k) => `${k} ${num(m[k])}`).join(' · ') : 'none';
  }

  // overview is a flow's summary: its topics and groups counted by phase
  // and verdict, the topics with the largest lag, and the groups not
  // ready with their reasons.
  function overview(s) {
    const t = s.topics || {}, g = s.groups || {};
    const worst = list(s.worstLagRecords);
    const notReady = list(s.notReady);
    const notReadyCount = (g.byVerdict && g.byVerdict['not-ready']) || 0;
    return el('div', { class: 'overview', 'data-field': 'overview', 'data-topics': t.total || 0, 'data-groups': g.total || 0 },
      el('p', { 'data-field': 'topicCounts' }, `${num(t.total || 0)} topics (${num(t.partitions || 0)} partitions), ${num(t.lagging || 0)} lagging, ` +
        `${num(t.lagRecords || 0)} records behind — ${counts(t.byPhase)}`),
      el('p', { 'data-field': 'groupCounts' }, `${num(g.total || 0)} groups — ${counts(g.byVerdict)}; ${counts(g.byPhase)}`),
      worst.length ? el('table', { class: 'worst' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Largest lag'), el('th', { class: 'num' }, 'Records'), el('th', { class: 'num' }, 'Seconds'), el('th', {}, 'Phase'))),
        el('tbody', {}, ...worst.map((w) => el('tr', { 'data-worst': w.topic },
          el('td', {}, w.topic), el('td', { class: 'num' }, num(w.lagRecords)), el('td', { class: 'num' }, secs(w.lagSeconds || 0)), el('td', {}, w.phase))))) : null,
      notReady.length ? el('details', { class: 'not-ready', 'data-field': 'notReady', 'data-count': notReadyCount },
        el('summary', {}, `${num(notReadyCount)} group${notReadyCount === 1 ? '' : 's'} not ready` +
          (notReadyCount > notReady.length ? ` (the first ${notReady.length}; filter on "not ready" to page through all)` : '')),
        el('ul', { class: 'reasons' }, ...notReady.map((n) => el('li', { 'data-not-ready': n.group },
          el('b', {}, n.group), ': ' + list(n.reasons && n.reasons.first).join('; ') +
          ((n.reasons && n.reasons.count > list(n.reasons.first).length) ? `; and ${n.reasons.count - n.reasons.first.length} more` : ''))))) : null);
  }

  // shown says which of the flow's matching topics and groups this page
  // holds.
  function shown(f) {
    const p = f.page;
    if (!p) return null;
    const part = (n, kind) => {
      if (n === 0) return `no ${kind}`;
      const from = Math.min(p.offset + 1, n), to = Math.min(p.offset + (p.limit || n), n);
      return from > to ? `none of ${num(n)} ${kind}` : `${kind} ${num(from)}–${num(to)} of ${num(n)}`;
    };
    return el('p', { class: 'muted', 'data-field': 'shown', 'data-topics': p.topics, 'data-groups': p.groups },
      (filtered() ? 'matching the filters: ' : 'showing ') + part(p.topics, 'topics') + ', ' + part(p.groups, 'groups'));
  }

  function renderFlow(f, time, s) {
    s = s || {};
    const hb = f.heartbeat;
    const errors = list(f.errors);
    return el('section', { class: 'flow', 'data-flow': f.name },
      el('header', { class: 'flow-head' },
        el('h2', {}, f.name),
        el('span', { class: 'route', 'data-field': 'direction' }, `${f.source} → ${f.target}` + (f.direction === 'back' ? ' (the way back)' : '')),
        el('span', { class: f.state === 'stopped' || f.state === 'stalled' ? 'warn' : 'muted', 'data-field': 'state' },
          (f.state || '') + (f.stateReason ? ': ' + f.stateReason : '')),
        el('span', { class: 'muted' }, 'updated ' + clock(time)),
        errors.length ? el('ul', { class: 'errors', 'data-field': 'errors' }, ...errors.map((e) => el('li', {}, e))) : null),
      workersLine(f, s),
      overview(s),
      shown(f),
      el('h3', {}, 'Migration'),
      migration(f, time),
      el('h3', {}, 'Topics'),
      topicsTable(f),
      blockedTable(f),
      el('h3', {}, 'Consumer groups'),
      groupsTable(f),
      el('h3', {}, 'Heartbeat round trip'),
      el('p', { class: 'muted', 'data-field': 'heartbeat' }, hb
        ? `last heartbeat ${clock(hb.time)}, round trip ${(hb.rttSeconds * 1000).toFixed(1)} ms`
        : 'no heartbeat acknowledged yet'),
      heartbeatChart(f));
  }

  function remember(flows) {
    const seen = new Set();
    for (const f of flows) {
      seen.add(f.name);
      const h = rtt.get(f.name) || [];
      if (f.heartbeat) h.push(f.heartbeat.rttSeconds);
      rtt.set(f.name, h.slice(-HISTORY));
    }
    for (const name of rtt.keys()) if (!seen.has(name)) rtt.delete(name);
  }

  function render(rep, sum) {
    const flows = list(rep.flows);
    const sums = new Map(list(sum.flows).map((s) => [s.name, s]));
    remember(flows);
    flowsEl.replaceChildren(...flows.map((f) => renderFlow(f, rep.time, sums.get(f.name))));
    if (flows.length === 0) flowsEl.append(el('p', { class: 'empty' }, 'No flow is running yet.'));
    const topics = list(sum.flows).reduce((n, s) => n + ((s.topics && s.topics.total) || 0), 0);
    const groups = list(sum.flows).reduce((n, s) => n + ((s.groups && s.groups.total) || 0), 0);
    summaryEl.textContent = `${flows.length} flow${flows.length === 1 ? '' : 's'} · ${num(topics)} topics · ${num(groups)} groups`;
    renderPager(flows);
    updatedEl.textContent = 'report of ' + clock(rep.time);
    lastOK = rep.time;
    polls++;
    errorEl.hidden = true;
    errorEl.textContent = '';
    root.dataset.state = 'ok';
    root.dataset.polls = String(polls);
    root.dataset.updated = new Date().toISOString() + ' #' + polls;
  }

  function fail(msg) {
    errorEl.textContent = 'Cannot read the status: ' + msg +
      (lastOK ? ` — showing the report of ${clock(lastOK)}.` : '');
    errorEl.hidden = false;
    root.dataset.state = 'error';
  }

  // readLagHistory reads the topics' lag over the last hour, at most once
  // every LAG_HISTORY_MS; a failure keeps the history read before.
  // Only the topics shown are asked for: the history of every topic grows
  // with their number. Another page of topics is read at once.
  let lagHistoryOf = '';
  async function readLagHistory(flows) {
    const names = [...new Set(flows.flatMap((f) => list(f.topics).map((t) => t.topic)))].sort();
    const query = names.map((n) => 'topic=' + encodeURIComponent(n)).join('&');
    if (names.length === 0) return;
    if (query === lagHistoryOf && Date.now() - lagHistoryAt < LAG_HISTORY_MS) return;
    lagHistoryAt = Date.now();
    lagHistoryOf = query;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      const res = await fetch('api/v1/history?' + query, { cache: 'no-store', signal: abort.signal, headers: { Accept: 'application/json' } });
      if (!res.ok) return;
      const body = await res.json();
      const m = new Map();
      for (const f of list(body && body.flows)) {
        for (const t of list(f.topics)) m.set(f.name + '\u0000' + t.topic, list(t.points));
      }
      lagHistory = m;
    } catch (_) {
      // The sparklines keep what they had; the status poll reports errors.
    } finally {
      clearTimeout(timer);
    }
  }

  function filtered() {
    return !!(view.search || view.phase || view.verdict || view.lagging);
  }

  // detailQuery asks for the page of topics and groups the view shows.
  function detailQuery() {
    const q = new URLSearchParams();
    if (view.search) q.set('search', view.search);
    if (view.phase) q.set('phase', view.phase);
    if (view.verdict) q.set('verdict', view.verdict);
    if (view.lagging) q.set('lagging', '1');
    if (view.page > 0) q.set('offset', String(view.page * PAGE));
    q.set('limit', String(PAGE));
    return q.toString();
  }

  // renderPager says which page is shown, and offers the others.
  function renderPager(flows) {
    const most = Math.max(0, ...flows.map((f) => f.page ? Math.max(f.page.topics, f.page.groups) : 0));
    const pages = Math.max(1, Math.ceil(most / PAGE));
    pagerEl.dataset.page = String(view.page + 1);
    pagerEl.dataset.pages = String(pages);
    const prev = el('button', { type: 'button', 'data-action': 'previous' }, '‹ previous');
    const next = el('button', { type: 'button', 'data-action': 'next' }, 'next ›');
    prev.disabled = view.page === 0;
    next.disabled = view.page + 1 >= pages;
    prev.addEventListener('click', () => go(view.page - 1));
    next.addEventListener('click', () => go(view.page + 1));
    pagerEl.replaceChildren(prev, el('span', { class: 'muted' }, ` page ${num(view.page + 1)} of ${num(pages)} (${PAGE} topics and ${PAGE} groups per flow) `), next);
  }

  function go(page) {
    view.page = Math.max(0, page);
    changed();
  }

  // changed keeps the view in the URL and polls at once.
  function changed() {
    const h = new URLSearchParams();
    if (view.search) h.set('search', view.search);
    if (view.phase) h.set('phase', view.phase);
    if (view.verdict) h.set('verdict', view.verdict);
    if (view.lagging) h.set('lagging', '1');
    if (view.page > 0) h.set('page', String(view.page + 1));
    if (unfoldAll) h.set('finished', '');
    history.replaceState(null, '', h.toString() ? '#' + h.toString() : location.pathname + location.search);
    poll();
  }

  function bindFilters() {
    if (!filtersEl) return;
    const search = filtersEl.querySelector('[name=search]');
    const phase = filtersEl.querySelector('[name=phase]');
    const verdict = filtersEl.querySelector('[name=verdict]');
    const lagging = filtersEl.querySelector('[name=lagging]');
    search.value = view.search;
    phase.value = view.phase;
    verdict.value = view.verdict;
    lagging.checked = view.lagging;
    let typing = null;
    const update = () => {
      view.search = search.value.trim();
      view.phase = phase.value;
      view.verdict = verdict.value;
      view.lagging = lagging.checked;
      view.page = 0;
      changed();
    };
    search.addEventListener('input', () => {
      clearTimeout(typing);
      typing = setTimeout(update, 300);
    });
    for (const e of [phase, verdict, lagging]) e.addEventListener('change', update);
    filtersEl.addEventListener('submit', (e) => {
      e.preventDefault();
      update();
    });
  }

  async function getJSON(url, signal) {
    const res = await fetch(url, { cache: 'no-store', signal, headers: { Accept: 'application/json' } });
    let body = null;
    try {
      body = await res.json();
    } catch (_) {
      // Not JSON: the status line says what happened.
    }
    if (!res.ok) throw new Error((body && typeof body.error === 'string') ? body.error : `HTTP ${res.status} ${res.statusText}`);
    if (!body || !Array.isArray(body.flows)) throw new Error('unexpected answer from ' + url.split('?')[0]);
    return body;
  }

  let polling = 0; // the latest poll: an older one's answer is dropped
  let next = null;
  async function poll() {
    const mine = ++polling;
    clearTimeout(next);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      const [sum, body] = await Promise.all([
        getJSON('api/v1/status/summary', abort.signal),
        getJSON('api/v1/status?' + detailQuery(), abort.signal),
      ]);
      if (mine !== polling) return;
      readLagHistory(list(body.flows)); // not awaited: the sparklines follow at a later poll
      render(body, sum);
    } catch (e) {
      if (mine !== polling) return;
      fail(e && e.name === 'AbortError' ? 'no answer within 10 s' : String(e && e.message ? e.message : e));
    } finally {
      clearTimeout(timer);
      // A chain of timeouts, not an interval: a slow answer never overlaps
      // the next poll; a change of view polls at once and restarts it.
      if (mine === polling) next = setTimeout(poll, POLL_MS);
    }
  }

  bindFilters();
  poll();
})();
