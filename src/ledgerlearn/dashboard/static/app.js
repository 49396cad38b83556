// ledgerlearn dashboard: a hash-routed page over the JSON API (docs/dashboard.md).
// Plain ES2020, no build step. Money stays in wei strings: the page shows the
// API's *_eth twins and compares wei with BigInt only.
'use strict';

const state = {
  status: null,      // GET /api/status
  accounts: [],      // GET /api/accounts
  account: null,     // dev account index as a string, or "wallet"
  wallet: null,      // {address, chainId} once a browser wallet answered
  view: null,        // the current view: {refresh()} (called after header actions)
  messages: [],      // the current view's message boxes (cleared when the account changes)
};
const ACCOUNT_KEY = 'ledgerlearn.account';

// ------------------------------------------------------------------ helpers
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'testid') node.dataset.testid = v;
    else if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

const enc = encodeURIComponent;
const short = (hex) => (typeof hex === 'string' && hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : String(hex ?? ''));
const count = (n) => Number(n ?? 0).toLocaleString('en-US');
const fmtTime = (ts) => (ts ? new Date(Number(ts) * 1000).toISOString().slice(0, 19).replace('T', ' ') + ' UTC' : '');
const pct = (v, none = 'unknown') => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : none);
const isPositive = (wei) => { try { return BigInt(wei ?? 0) > 0n; } catch { return false; } };

function fmtDuration(s) {
  s = Number(s) || 0;
  const parts = [];
  for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
    if (s >= n) { parts.push(`${Math.floor(s / n)}${u}`); s %= n; }
  }
  return parts.length ? parts.slice(0, 2).join(' ') : '0s';
}

/** Seconds from "90", "45m", "3h", "1d12h", "2w" (throws a readable Error). */
function parseDuration(text, what = 'duration') {
  const s = String(text ?? '').trim().toLowerCase().replace(/\s+/g, '');
  if (!s) throw new Error(`${what}: enter a duration such as 1d, 3h or 90 (seconds)`);
  const units = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  const re = /(\d+)([smhdw]?)/gy;
  let m, pos = 0;
  while ((m = re.exec(s)) !== null) { total += Number(m[1]) * units[m[2]]; pos = re.lastIndex; }
  if (pos !== s.length) throw new Error(`${what}: "${text}" is not a duration (e.g. 90, 45m, 3h, 1d12h)`);
  return total;
}

/** A float ETH value for charts only (exact BigInt split first; a JSON number of wei is already rounded). */
function weiToEthNumber(wei) {
  const b = BigInt(typeof wei === 'number' ? Math.round(wei) : wei ?? 0), a = b < 0n ? -b : b, unit = 10n ** 18n;
  const v = Number(a / unit) + Number(a % unit) / 1e18;
  return b < 0n ? -v : v;
}

function readFile(file, as = 'text') {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(new Error(`${file.name}: could not be read`));
    if (as === 'dataurl') r.readAsDataURL(file); else r.readAsText(file);
  });
}

/** Evaluation records from a JSON list or JSONL of {input|text|x, label}. */
function parseRecords(text, what = 'evaluation') {
  const t = text.trim();
  let rows;
  try {
    rows = t.startsWith('[') ? JSON.parse(t) : t.split(/\r?\n/).filter((l) => l.trim()).map((l) => JSON.parse(l));
  } catch (e) {
    throw new Error(`${what}: not a JSON list or JSON lines (${e.message})`);
  }
  if (!Array.isArray(rows) || !rows.length) throw new Error(`${what}: no records`);
  return rows.map((r, i) => {
    const input = r?.input ?? r?.text ?? r?.x;
    if (input === undefined || r.label === undefined) throw new Error(`${what}: record ${i + 1} needs input (or text, x) and label`);
    return { input, label: r.label };
  });
}

// ---------------------------------------------------------------------- API
async function api(path, { method = 'GET', body } = {}) {
  const opts = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
  let res;
  try { res = await fetch(path, opts); } catch (e) { throw new Error(`the dashboard server does not answer (${e.message})`); }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const msg = data?.error ?? (typeof data?.detail === 'string' ? data.detail : null);
    const err = new Error(msg || `${res.status} ${res.statusText}: ${text.slice(0, 200)}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function query(params) {
  const q = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '');
  return q.length ? '?' + q.map(([k, v]) => `${k}=${enc(v)}`).join('&') : '';
}

const modelPath = (name) => `/api/models/${enc(name)}`;

// ------------------------------------------------------------------ messages
/** A result line and a red alert box for one form; `show(text)` / `fail(err)`. */
function messages(prefix) {
  const box = messageBox(el('div', { class: 'message result', role: 'status', testid: `${prefix}-result`, hidden: true }),
    el('div', { class: 'message error', role: 'alert', testid: `${prefix}-error`, hidden: true }));
  state.messages.push(box);  // the view's boxes: cleared when the account changes
  return box;
}

function messageBox(ok, bad) {
  const box = {
    nodes: [ok, bad],
    show(text) { bad.hidden = true; bad.textContent = ''; ok.textContent = text; ok.hidden = false; },
    fail(err) { ok.hidden = true; ok.textContent = ''; bad.textContent = err?.message ?? String(err); bad.hidden = false; },
    clear() { ok.hidden = bad.hidden = true; ok.textContent = bad.textContent = ''; },
  };
  return box;
}

/** Wraps a loader `(current, ...args)` so that only its latest call renders: `current()` is false once a newer call started. */
function latest(load) {
  let n = 0;
  return (...args) => { const mine = ++n; return load(() => mine === n, ...args); };
}

/** Run `fn` with `button` disabled (it stays so after if `dataset.off` says so); its text goes to `msg`, its error to msg.fail. */
async function perform(button, msg, fn) {
  if (button) button.disabled = true;
  msg.clear();
  try {
    const text = await fn();
    if (text) msg.show(text);
    return true;
  } catch (e) {
    msg.fail(e);
    return false;
  } finally {
    if (button) button.disabled = button.dataset.off === '1';
  }
}

// ------------------------------------------------------------------ accounts
function acting() {
  if (state.account === 'wallet') {
    const a = state.wallet?.address;
    return { spec: a, address: a, wallet: true };
  }
  const a = state.accounts.find((x) => String(x.index) === state.account);
  return a ? { spec: String(a.index), address: a.address, wallet: false } : { spec: null, address: null, wallet: false };
}

async function connectWallet() {
  const eth = window.ethereum;
  const [address] = await eth.request({ method: 'eth_requestAccounts' });
  const chainId = parseInt(await eth.request({ method: 'eth_chainId' }), 16);
  state.wallet = { address, chainId };
}

function walletChainProblem() {
  if (!state.wallet || !state.status) return null;
  if (state.wallet.chainId !== Number(state.status.chain_id)) {
    return `wrong network: the wallet is on chain ${state.wallet.chainId}, the dashboard on chain ${state.status.chain_id}; switch the wallet's network`;
  }
  return null;
}

function checkWalletChain() {
  const problem = state.account === 'wallet' ? walletChainProblem() : null;
  const box = document.querySelector('[data-testid=wallet-error]');
  box.textContent = problem ?? '';
  box.hidden = !problem;
}

const ACTION_PATHS = {
  contribute: (m) => `${modelPath(m)}/contributions`,
  refund: (m, tx) => `${modelPath(m)}/contributions/${enc(tx)}/refund`,
  report: (m, tx) => `${modelPath(m)}/contributions/${enc(tx)}/report`,
  withdraw: (m) => `${modelPath(m)}/withdraw`,
};

/** Do `action` as the chosen account: directly, or prepared and sent by the wallet. */
async function act(model, action, body = {}, tx = null) {
  const who = acting();
  if (!who.spec) throw new Error('account: choose an account first');
  const full = { ...body, account: who.spec };
  if (!who.wallet) return api(ACTION_PATHS[action](model, tx), { method: 'POST', body: full });
  const problem = walletChainProblem();
  if (problem) throw new Error(problem);
  const prepared = await api(`${modelPath(model)}/prepare/${action}`, { method: 'POST', body: tx ? { ...full, tx_hash: tx } : full });
  const send = { from: prepared.from, to: prepared.to, data: prepared.data, value: prepared.value };
  // Gas with headroom: a contribution's cost depends on the time it is mined at (the deposit's square root).
  send.gas = prepared.gas ?? '0x' + ((BigInt(await window.ethereum.request({ method: 'eth_estimateGas', params: [send] })) * 13n) / 10n + 10000n).toString(16);
  const hash = await window.ethereum.request({ method: 'eth_sendTransaction', params: [send] });
  const receipt = await waitForTx(hash);
  const paid = (receipt.events ?? []).find((e) => e.amount !== undefined || e.deposit !== undefined);
  return { tx_hash: hash, wallet: true, ...receipt, paid: paid ? ethText(paid.amount ?? paid.deposit) : null };
}

/** The result line of a wallet transaction. */
const walletText = (verb, r) => `${verb}: tx ${short(r.tx_hash)}${r.paid ? `, ${r.paid}` : ''} (mined in block ${r.block_number})`;

async function waitForTx(hash, timeoutMs = 120000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      const r = await api(`/api/tx/${enc(hash)}`);
      if (r && r.block_number !== null && r.block_number !== undefined) {
        const ok = r.status === true || r.status === 1 || r.status === 'success' || r.status === 'ok';
        if (!ok) throw new Error(`transaction ${short(hash)} failed (status ${r.status})`);
        return r;
      }
    } catch (e) {
      if (e.status !== 404) throw e;
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new Error(`transaction ${short(hash)} not mined after ${timeoutMs / 1000} s`);
}

// --------------------------------------------------------------------- header
async function refreshHeader() {
  const [status, accounts] = await Promise.all([api('/api/status'), api('/api/accounts')]);
  state.status = status;
  state.accounts = accounts;
  document.querySelector('[data-testid=chain-info]').textContent =
    `chain ${status.chain_id} · ${status.backend}${status.rpc_url ? ' ' + status.rpc_url : ''} · block ${count(status.block_number)} · ${fmtTime(status.timestamp)}`;
  document.querySelector('[data-testid=advance-form]').hidden = !status.dev_chain;
  renderAccountPicker();
}

function renderAccountPicker() {
  const select = document.querySelector('[data-testid=account-select]');
  if (state.account === null) {
    const saved = localStorage.getItem(ACCOUNT_KEY);
    const known = state.accounts.some((a) => String(a.index) === saved) || (saved === 'wallet' && window.ethereum);
    state.account = known ? saved : (state.accounts.length ? String(state.accounts[0].index) : null);
  }
  const options = state.accounts.map((a) =>
    el('option', { value: String(a.index) }, `#${a.index} ${short(a.address)} (${a.balance_eth})`));
  if (window.ethereum) options.push(el('option', { value: 'wallet' }, state.wallet ? `browser wallet ${short(state.wallet.address)}` : 'browser wallet'));
  select.replaceChildren(...options);
  if (state.account !== null) select.value = state.account;
  const bal = document.querySelector('[data-testid=account-balance]');
  const a = state.accounts.find((x) => String(x.index) === state.account);
  bal.textContent = a ? a.balance_eth : '';
  bal.dataset.wei = a ? a.balance_wei : '';
}

function setupHeader() {
  const headerMsg = messageBox(document.querySelector('[data-testid=header-result]'), document.querySelector('[data-testid=header-error]'));
  document.querySelector('[data-testid=account-select]').addEventListener('change', async (ev) => {
    state.account = ev.target.value;
    localStorage.setItem(ACCOUNT_KEY, state.account);
    headerMsg.clear();
    state.messages.forEach((m) => m.clear());
    if (state.account === 'wallet') {
      try { await connectWallet(); } catch (e) { headerMsg.fail(e); }
    }
    checkWalletChain();
    renderAccountPicker();
    state.view?.refresh?.();
  });
  const form = document.querySelector('[data-testid=advance-form]');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = form.querySelector('input');
    await perform(form.querySelector('button'), headerMsg, async () => {
      const seconds = parseDuration(input.value, 'advance');
      const r = await api('/api/chain/advance', { method: 'POST', body: { seconds } });
      await refreshHeader();
      await state.view?.refresh?.();
      const now = r?.now ?? r?.next_timestamp;
      return `advanced the clock by ${fmtDuration(seconds)}${now ? `: the next block is at ${fmtTime(now)}` : ''}`;
    });
  });
  if (window.ethereum?.on) {
    window.ethereum.on('chainChanged', (id) => { if (state.wallet) { state.wallet.chainId = parseInt(id, 16); checkWalletChain(); } });
    window.ethereum.on('accountsChanged', (accs) => { if (state.wallet) { state.wallet.address = accs[0]; renderAccountPicker(); state.view?.refresh?.(); } });
  }
}

// --------------------------------------------------------------- components
function table(testid, headers, rows, empty = 'nothing yet') {
  if (!rows.length) return el('p', { class: 'empty', testid: `${testid}-empty` }, empty);
  return el('table', { testid },
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col', class: h.num ? 'num' : null }, h.label ?? h)))),
    el('tbody', {}, rows));
}

/** prev/next and "showing 1–50 of 10,000"; calls onPage(offset). */
function pager(testid, limit, onPage) {
  let offset = 0, total = 0;
  const text = el('span', { testid: `${testid}-range` });
  const prev = el('button', { type: 'button', class: 'secondary small', testid: `${testid}-prev`, onclick: () => onPage(Math.max(0, offset - limit)) }, '‹ prev');
  const next = el('button', { type: 'button', class: 'secondary small', testid: `${testid}-next`, onclick: () => onPage(offset + limit) }, 'next ›');
  const node = el('div', { class: 'pager' }, prev, text, next);
  return {
    node,
    get offset() { return offset; },
    update(page) {
      offset = page.offset; total = page.total;
      node.hidden = total === 0;
      text.textContent = total ? `showing ${count(offset + 1)}–${count(Math.min(offset + page.items.length, total))} of ${count(total)}` : 'none';
      prev.disabled = offset === 0;
      next.disabled = offset + limit >= total;
    },
  };
}

function statusCell(c) {
  return el('td', { class: `status-${String(c.status ?? '').replace(/\s+/g, '-')}`, testid: `status-${c.tx_hash}` }, c.status_text || c.status || '');
}

const txCell = (tx) => el('td', { class: 'mono', title: tx }, short(tx));

/** plotly.js (3.5 MB), loaded on the first chart so that pages show before it is parsed. */
let plotlyLoading = null;
function loadPlotly() {
  plotlyLoading ??= new Promise((resolve, reject) => {
    const script = el('script', { src: '/static/plotly.min.js' });
    script.onload = () => resolve(window.Plotly);
    script.onerror = () => { plotlyLoading = null; reject(new Error('charts need plotly.js: /static/plotly.min.js did not load')); };
    document.head.append(script);
  });
  return plotlyLoading;
}

async function plot(node, traces, layout) {
  const base = { margin: { t: 40, r: 10, b: 70, l: 60 }, height: 340, legend: { orientation: 'h', y: -0.25 } };
  try {
    const Plotly = await loadPlotly();
    if (node.isConnected) await Plotly.react(node, traces, { ...base, ...layout }, { displaylogo: false, responsive: true });
  } catch (e) { node.textContent = e.message; }
}

/** The input control for a model's input kind; read() gives the API's `input`. */
function inputWidget(info, prefix) {
  const spec = info.input ?? { kind: 'text' };
  const id = `${prefix}-input`;
  const label = el('label', { for: id }, 'input');
  if (spec.kind === 'image') {
    let dataUrl = null;
    const preview = el('img', { class: 'preview', testid: `${prefix}-preview`, alt: 'preview of the chosen image', hidden: true });
    const file = el('input', {
      type: 'file', id, accept: 'image/*', testid: id,
      onchange: async () => {
        dataUrl = file.files[0] ? await readFile(file.files[0], 'dataurl') : null;
        preview.hidden = !dataUrl;
        if (dataUrl) preview.src = dataUrl;
      },
    });
    return {
      node: el('div', { class: 'stack' }, label, el('div', { class: 'row' }, file, preview), spec.hint ? el('span', { class: 'hint' }, spec.hint) : null),
      read() { if (!dataUrl) throw new Error('input: choose an image file'); return { image: dataUrl }; },
    };
  }
  if (spec.kind === 'numbers' || spec.kind === 'encoded') {
    const dim = spec.dimension ? `${spec.dimension} numbers` : 'numbers';
    const input = el('input', { id, testid: id, autocomplete: 'off', placeholder: `${dim}, separated by commas or spaces` });
    return {
      node: el('div', { class: 'stack' }, label, input,
        el('span', { class: 'hint', testid: `${prefix}-dimension` },
          [spec.dimension ? `dimension ${spec.dimension}` : null, spec.kind === 'encoded' ? spec.hint : null].filter(Boolean).join(' · '))),
      read() {
        const parts = input.value.trim().split(/[\s,;]+/).filter(Boolean);
        if (!parts.length) throw new Error(`input: enter ${dim}`);
        return parts.map((p) => {
          const v = Number(p);
          if (!Number.isFinite(v)) throw new Error(`input: "${p}" is not a number`);
          return v;
        });
      },
    };
  }
  const area = el('textarea', { id, testid: id, rows: 3, placeholder: spec.hint || 'text' });
  return {
    node: el('div', { class: 'stack' }, label, area),
    read() { return area.value; },
  };
}

// ------------------------------------------------------------ models list view
async function viewModels(root) {
  const listBox = el('div', { testid: 'models-list' }, el('p', { class: 'loading' }, 'loading…'));
  const msg = messages('models');
  root.append(
    el('h1', {}, 'Shared models'),
    el('p', { class: 'subtitle' }, 'Predict for free; add data with a deposit you get back when the model agrees.'),
    el('section', { class: 'card' }, listBox, ...msg.nodes),
    deployForm(() => load()));
  async function load() {
    try {
      const models = await api('/api/models');
      listBox.replaceChildren(table('models-table',
        ['name', 'model type', 'incentive', 'accuracy', { label: 'contributions', num: true }, 'address'],
        models.map((m) => el('tr', { testid: `model-row-${m.name}`, title: m.error ?? null },
          el('td', {}, m.status === 'missing' ? `${m.name} (missing on this chain)` : el('a', { href: `#/models/${enc(m.name)}`, testid: `model-link-${m.name}` }, m.name)),
          el('td', {}, m.model_type), el('td', {}, m.incentive),
          el('td', {}, pct(m.accuracy)),
          el('td', { class: 'num' }, count(m.contributions)),
          el('td', { class: 'mono', title: m.address }, short(m.address)))),
        'no models on this chain yet: deploy one below'));
    } catch (e) { listBox.replaceChildren(); msg.fail(e); }
  }
  await load();
  return { refresh: load };
}

const ENCODERS = [
  'none', 'MurmurHash3', 'IMDB vocab', 'IMDB vocab, binary', 'Multiply by 1E9, then round',
  'Normalize to L2 norm 1, multiply by 1E9, then round',
  'Image: flatten, divide by 255, L2 norm 1, multiply by 1E9, round', 'Image: flatten, indices of pixels >= 128',
];

function deployForm(onDeployed) {
  const msg = messages('deploy');
  const field = (label, input, cls) => el('label', { class: cls }, label, input);
  const f = {
    name: el('input', { testid: 'deploy-name', required: true, autocomplete: 'off' }),
    file: el('input', { type: 'file', testid: 'deploy-file', accept: '.json,application/json' }),
    incentive: el('select', { testid: 'deploy-incentive' }, el('option', { value: 'drt' }, 'drt (deposit, refund, take)'), el('option', { value: 'points' }, 'points')),
    refund: el('input', { testid: 'deploy-refund-wait', value: '1d', size: 6 }),
    owner: el('input', { testid: 'deploy-owner-wait', value: '8d', size: 6 }),
    any: el('input', { testid: 'deploy-any-wait', value: '9d', size: 6 }),
    cost: el('input', { testid: 'deploy-cost-weight', value: '1e15', size: 10 }),
    description: el('input', { testid: 'deploy-description', autocomplete: 'off' }),
    encoder: el('input', { testid: 'deploy-encoder', list: 'encoder-names', placeholder: 'none', autocomplete: 'off' }),
    evaluation: el('input', { type: 'file', testid: 'deploy-evaluation', accept: '.json,.jsonl,application/json' }),
  };
  const submit = el('button', { type: 'submit', testid: 'deploy-submit' }, 'deploy');
  const form = el('form', { class: 'cols', testid: 'deploy-form' },
    field('name', f.name), field('model file (JSON)', f.file), field('incentive', f.incentive),
    field('refund wait', f.refund), field('owner claim wait', f.owner), field('anyone claim wait', f.any),
    field('cost weight (wei, or 0.001eth)', f.cost), field('encoder (optional)', f.encoder),
    field('evaluation file (optional: JSON list or JSONL of {input, label})', f.evaluation),
    field('description', f.description, 'wide'),
    el('datalist', { id: 'encoder-names' }, ENCODERS.map((e) => el('option', { value: e }))),
    el('div', { class: 'wide' }, submit, ...msg.nodes));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    perform(submit, msg, async () => {
      const who = acting();
      if (who.wallet) throw new Error('account: choose a dev account to deploy (the dashboard signs deployments itself)');
      if (!f.file.files[0]) throw new Error('model: choose a model file');
      let model;
      try { model = JSON.parse(await readFile(f.file.files[0])); } catch (e) { throw new Error(`model: the file is not valid JSON (${e.message})`); }
      const body = {
        name: f.name.value.trim(), model, incentive: f.incentive.value,
        refund_wait: parseDuration(f.refund.value, 'refund_wait'),
        owner_claim_wait: parseDuration(f.owner.value, 'owner_claim_wait'),
        any_claim_wait: parseDuration(f.any.value, 'any_claim_wait'),
        cost_weight: f.cost.value.trim(), description: f.description.value,
        encoder: f.encoder.value.trim() || undefined,
        account: who.spec ?? undefined,
      };
      const records = f.evaluation.files[0] ? parseRecords(await readFile(f.evaluation.files[0])) : null;
      const r = await api('/api/models', { method: 'POST', body });
      let text = `deployed ${r.name ?? body.name} at ${r.address}${r.gas_total ? `, gas ${count(r.gas_total)}` : ''}`;
      if (records) {  // attached once the model exists
        try {
          const e = await api(`${modelPath(r.name ?? body.name)}/evaluation`, { method: 'POST', body: { records } });
          text += `; evaluation set of ${count(e.evaluation_size ?? records.length)} records attached`;
        } catch (e) {
          e.message = `${text}, but the evaluation set was refused: ${e.message}`;
          throw e;
        }
      }
      await Promise.all([onDeployed(), refreshHeader()]);
      return text;
    });
  });
  return el('section', { class: 'card', testid: 'deploy' }, el('h2', {}, 'Deploy a model'), form);
}

// ------------------------------------------------------------------ model view
async function viewModel(root, name) {
  const info = await api(modelPath(name));
  const page = { name: info.name || name, info, loaders: [] };
  root.append(
    el('h1', { testid: 'model-name' }, page.name),
    info.description ? el('p', { class: 'subtitle' }, info.description) : null,
    el('div', { class: 'grid' }, infoSection(page), predictSection(page), contributeSection(page)),
    el('div', { class: 'grid wide-right' }, accountSection(page), mineSection(page)),
    reportableSection(page), allSection(page), chartsSection(page));
  page.refresh = async () => {
    await Promise.allSettled([refreshHeader(), ...page.loaders.map((f) => f())]);
  };
  if (root.isConnected) state.view = page;  // an account change while loading refreshes it
  await page.refresh();
  return page;
}

function infoSection(page) {
  const box = el('dl', { class: 'kv', testid: 'model-info' });
  const render = (i) => {
    const rows = [
      ['type', i.model_type], ['incentive', i.incentive], ['classes', (i.classes ?? []).join(', ')],
      ['encoder', i.encoder], ['input', [i.input?.kind, i.input?.dimension ? `dimension ${i.input.dimension}` : null].filter(Boolean).join(', ')],
      ['accuracy', pct(i.accuracy)],
      ['refund wait', fmtDuration(i.refund_wait)], ['owner claim wait', fmtDuration(i.owner_claim_wait)],
      ['anyone claim wait', fmtDuration(i.any_claim_wait)], ['contributions', count(i.contributions)],
      ['owner', i.owner], ['address', i.address],
    ];
    box.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { testid: `info-${k.replace(/\s+/g, '-')}` }, v ?? '')]));
  };
  render(page.info);
  page.loaders.push(latest(async (current) => {
    const info = await api(modelPath(page.name));
    if (current()) { page.info = info; render(info); }
  }));
  return el('section', { class: 'card' }, el('h2', {}, 'Model'), box);
}

function predictSection(page) {
  const msg = messages('predict');
  const widget = inputWidget(page.info, 'predict');
  const submit = el('button', { type: 'submit', testid: 'predict-submit' }, 'predict');
  const form = el('form', { class: 'stack', testid: 'predict-form' }, widget.node, el('div', {}, submit), ...msg.nodes);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    perform(submit, msg, async () => {
      const r = await api(`${modelPath(page.name)}/predict`, { method: 'POST', body: { input: widget.read() } });
      return `prediction: ${r.label_name ?? r.label}`;
    });
  });
  return el('section', { class: 'card' }, el('h2', {}, 'Predict (free)'), form);
}

function contributeSection(page) {
  const msg = messages('contribute');
  const widget = inputWidget(page.info, 'contribute');
  const label = el('select', { id: 'contribute-label', testid: 'contribute-label' },
    (page.info.classes ?? []).map((c, i) => el('option', { value: String(i) }, c)));
  const value = el('input', { id: 'contribute-value', testid: 'contribute-value', placeholder: 'default: the deposit', autocomplete: 'off' });
  const deposit = el('span', { class: 'deposit', testid: 'contribute-deposit' }, 'deposit: …');
  const submit = el('button', { type: 'submit', testid: 'contribute-submit' }, 'add data');
  let shown = null; // the deposit the person saw: sent as max_deposit
  const form = el('form', { class: 'stack', testid: 'contribute-form' }, widget.node,
    el('label', { for: 'contribute-label' }, 'label', label),
    el('label', { for: 'contribute-value' }, 'value to send (optional: wei or 0.05eth)', value),
    el('div', { class: 'row' }, deposit, submit), ...msg.nodes);
  const loadDeposit = latest(async (current) => {
    try {
      const d = await api(`${modelPath(page.name)}/deposit`);
      if (!current()) return;
      shown = d.deposit_wei;
      deposit.textContent = page.info.incentive === 'points' && !isPositive(d.deposit_wei) ? 'deposit: none (points)' : `deposit: ${d.deposit_eth}`;
      deposit.dataset.wei = d.deposit_wei;
    } catch (e) { if (current()) { deposit.textContent = 'deposit: unknown'; msg.fail(e); } }
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    perform(submit, msg, async () => {
      const body = { input: widget.read(), label: Number(label.value) };
      if (value.value.trim()) body.value = value.value.trim();
      else if (shown !== null) body.max_deposit = shown;
      let r;
      try { r = await act(page.name, 'contribute', body); } finally { await page.refresh(); }
      value.value = '';
      return r.wallet ? walletText('contributed', r)
        : `contributed: tx ${short(r.tx_hash)}, deposit ${r.deposit_eth}, label ${r.label_name ?? r.label}`;
    });
  });
  page.loaders.push(loadDeposit);
  return el('section', { class: 'card' }, el('h2', {}, 'Add data'), form);
}

function accountSection(page) {
  const msg = messages('withdraw');
  const box = el('dl', { class: 'kv', testid: 'my-account' });
  const withdraw = claimButton(page, msg, { label: 'withdraw', testid: 'withdraw-submit', action: 'withdraw', verb: 'withdrew', small: false });
  withdraw.disabled = true;
  withdraw.dataset.off = '1';
  const load = latest(async (current) => {
    const who = acting();
    if (!who.address) { box.replaceChildren(el('dd', { class: 'empty' }, 'choose an account')); withdraw.disabled = true; withdraw.dataset.off = '1'; return; }
    try {
      const s = await api(`${modelPath(page.name)}/accounts/${enc(who.address)}`);
      if (!current()) return;
      const rows = [
        ['address', s.address, 'address'], ['balance', s.balance_eth, 'balance'],
        ['pending withdrawal', s.pending_withdrawal_eth, 'pending'], ['good contributions', `${count(s.good_count)} of ${count(s.total_good)}`, 'good'],
        ['points', count(s.points), 'points'], ['contributions', count(s.contributions), 'contributions'],
        ['held', s.held_eth, 'held'], ['refundable now', s.refundable_eth, 'refundable'],
      ];
      box.replaceChildren(...rows.flatMap(([k, v, id]) => [el('dt', {}, k), el('dd', { testid: `my-${id}` }, v ?? '')]));
      box.querySelector('[data-testid=my-balance]').dataset.wei = s.balance_wei;
      withdraw.disabled = !isPositive(s.pending_withdrawal_wei);
      withdraw.dataset.off = withdraw.disabled ? '1' : '';
      withdraw.title = withdraw.disabled ? 'nothing to withdraw: only failed payments are credited here' : '';
    } catch (e) { if (current()) msg.fail(e); }
  });
  page.loaders.push(load);
  return el('section', { class: 'card' }, el('h2', {}, 'My balance and score'), box, el('div', { class: 'row' }, withdraw), ...msg.nodes);
}

/** A paged contributions table; `columns(c)` gives the extra cells of a row. */
function contributionsTable(page, { testid, limit, params, empty, extra }) {
  const box = el('div', { testid });
  const msg = messages(testid);
  const pg = pager(`${testid}-pager`, limit, (o) => load(o));
  const load = latest(async (current, offset = pg.offset) => {
    const p = params();
    if (!p) { box.replaceChildren(el('p', { class: 'empty' }, 'choose an account')); return; }
    try {
      const page_ = await api(`${modelPath(page.name)}/contributions${query({ ...p, offset, limit })}`);
      if (!current()) return;
      if (page_.items.length === 0 && offset > 0 && page_.total > 0) return load(Math.max(0, page_.total - limit));
      box.replaceChildren(table(`${testid}-table`,
        ['tx', 'label', 'added', 'author', { label: 'deposit', num: true }, 'status', ''],
        page_.items.map((c) => el('tr', { testid: `${testid}-row-${c.tx_hash}` },
          txCell(c.tx_hash), el('td', {}, c.label_name ?? c.label), el('td', {}, fmtTime(c.added_time)),
          el('td', { class: 'mono', title: c.author }, short(c.author)),
          el('td', { class: 'num' }, c.deposit_eth ?? c.deposit_wei), statusCell(c), el('td', {}, extra(c)))),
        empty));
      pg.update(page_);
    } catch (e) { if (current()) msg.fail(e); }
  });
  page.loaders.push(() => load());
  return { nodes: [box, pg.node, ...msg.nodes], msg };
}

/** A button that runs a claim (refund, report, take, withdraw) and says what it paid. */
function claimButton(page, msg, { label, testid, action, tx = null, verb, small = true }) {
  const b = el('button', { type: 'button', class: small ? 'small' : null, testid }, label);
  b.addEventListener('click', () => perform(b, msg, async () => {
    let r;
    try { r = await act(page.name, action, {}, tx); } finally { await page.refresh(); }
    if (r.wallet) return walletText(verb, r);
    const credited = isPositive(r.credited_wei) ? `; ${r.credited_eth} of it was credited to your pending withdrawal (the payment could not be pushed)` : '';
    return `${verb}${tx ? ` ${short(tx)}` : ''}: got ${r.amount_eth} (tx ${short(r.tx_hash)})${credited}`;
  }));
  return b;
}

function mineSection(page) {
  const msg = messages('refund');
  const t = contributionsTable(page, {
    testid: 'my-contributions', limit: 20, empty: 'no contributions from this account yet',
    params: () => (acting().address ? { author: acting().address } : null),
    extra: (c) => (c.status === 'refundable' ? claimButton(page, msg, { label: 'refund', testid: `refund-${c.tx_hash}`, action: 'refund', tx: c.tx_hash, verb: 'refunded' }) : ''),
  });
  return el('section', { class: 'card' }, el('h2', {}, 'My contributions'), ...t.nodes, ...msg.nodes);
}

function reportableSection(page) {
  const msg = messages('report');
  const box = el('div', { testid: 'reportable' });
  const pg = pager('reportable-pager', 20, (o) => load(o));
  const load = latest(async (current, offset = pg.offset) => {
    const who = acting();
    if (!who.address) { box.replaceChildren(el('p', { class: 'empty' }, 'choose an account')); return; }
    try {
      const p = await api(`${modelPath(page.name)}/reportable${query({ account: who.address, offset, limit: 20 })}`);
      if (!current()) return;
      box.replaceChildren(table('reportable-table', ['tx', 'label', 'author', { label: 'you get', num: true }, 'reason', ''],
        p.items.map((c) => el('tr', { testid: `reportable-row-${c.tx_hash}` },
          txCell(c.tx_hash), el('td', {}, c.label_name ?? c.label), el('td', { class: 'mono', title: c.author }, short(c.author)),
          el('td', { class: 'num', testid: `reportable-amount-${c.tx_hash}` }, c.amount_eth), el('td', {}, c.reason),
          el('td', {}, claimButton(page, msg, /take|owner/.test(c.reason ?? '')
            ? { label: 'take', testid: `report-${c.tx_hash}`, action: 'report', tx: c.tx_hash, verb: 'took' }
            : { label: 'report', testid: `report-${c.tx_hash}`, action: 'report', tx: c.tx_hash, verb: 'reported' })))),
        'nothing to report for this account now'));
      pg.update(p);
    } catch (e) { if (current()) msg.fail(e); }
  });
  page.loaders.push(() => load());
  return el('section', { class: 'card' }, el('h2', {}, 'Reportable: others’ data you can report or take'), box, pg.node, ...msg.nodes);
}

function allSection(page) {
  const msg = messages('all-refund');
  const t = contributionsTable(page, {
    testid: 'all-contributions', limit: 50, empty: 'no contributions yet', params: () => ({}),
    extra: (c) => (c.status === 'refundable' ? claimButton(page, msg, { label: 'refund', testid: `all-refund-${c.tx_hash}`, action: 'refund', tx: c.tx_hash, verb: 'refunded' }) : ''),
  });
  return el('section', { class: 'card' }, el('h2', {}, 'All contributions'), ...t.nodes, ...msg.nodes);
}

function chartsSection(page) {
  const acc = el('div', { class: 'chart', testid: 'chart-accuracy' });
  const accReason = el('p', { class: 'hint', testid: 'chart-accuracy-reason', hidden: true });
  const bal = el('div', { class: 'chart', testid: 'chart-balances' });
  const msg = messages('evaluation');
  const file = el('input', { type: 'file', id: 'evaluation-file', testid: 'evaluation-file', accept: '.json,.jsonl,application/json' });
  const submit = el('button', { type: 'submit', testid: 'evaluation-submit' }, 'attach');
  const form = el('form', { class: 'row', testid: 'evaluation-form' },
    el('label', { for: 'evaluation-file' }, 'evaluation set (JSON list or JSONL of {input, label})'), file, submit);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    perform(submit, msg, async () => {
      if (!file.files[0]) throw new Error('evaluation: choose a file');
      const records = parseRecords(await readFile(file.files[0]));
      const r = await api(`${modelPath(page.name)}/evaluation`, { method: 'POST', body: { records } });
      await page.refresh();
      return `attached ${count(r?.evaluation_size ?? records.length)} evaluation records`;
    });
  });
  const load = latest(async (current) => {
    const [a, b] = await Promise.all([
      api(`${modelPath(page.name)}/charts/accuracy`).catch((e) => ({ available: false, reason: e.message })),
      api(`${modelPath(page.name)}/charts/balances`).catch((e) => ({ series: [], error: e.message })),
    ]);
    if (!current()) return;
    accReason.hidden = !!a.available;
    accReason.textContent = a.available ? '' : `accuracy over time: ${a.reason || 'not available'}`;
    plotAccuracy(acc, a);
    plotBalances(bal, b.series ?? []);
  });
  page.loaders.push(load);
  return el('section', { class: 'card', testid: 'charts' }, el('h2', {}, 'Charts'), accReason, acc, bal, form, ...msg.nodes);
}

/** Accuracy (on the evaluation set) and agreement with new data, over time or, when a time is unknown, over contributions. */
function plotAccuracy(node, a) {
  const points = a.available ? a.points ?? [] : [], agreement = a.agreement ?? [];
  const byTime = [...points, ...agreement].every((p) => p.time !== null && p.time !== undefined);
  const x = (p) => (byTime ? new Date(p.time * 1000) : p.contributions);
  const hover = (p) => `${p.contributions} contributions${p.time ? ', ' + fmtTime(p.time) : ''}`;
  const traces = [];
  if (points.length) traces.push({ name: 'accuracy on the evaluation set', mode: 'lines+markers', x: points.map(x), y: points.map((p) => p.accuracy), text: points.map(hover) });
  if (agreement.length) {
    traces.push({ name: 'model agrees with new data', mode: 'lines+markers', line: { dash: 'dot' }, x: agreement.map(x), y: agreement.map((p) => p.rate), text: agreement.map(hover) });
  }
  node.hidden = !traces.length;
  if (traces.length) {
    const times = [...points, ...agreement].map((p) => p.time * 1000);
    const oneTime = byTime && Math.min(...times) === Math.max(...times);  // widen a single instant to an hour each side
    const xaxis = { title: { text: byTime ? 'time' : 'contributions' }, ...(byTime ? {} : { rangemode: 'tozero', dtick: 1 }) };
    if (oneTime) xaxis.range = [new Date(times[0] - 3600e3), new Date(times[0] + 3600e3)];
    plot(node, traces, { title: { text: 'accuracy over time' }, yaxis: { range: [0, 1.05], tickformat: '.0%' }, xaxis });
  }
}

/** Each account's net wei (refunds and takes minus deposits), held flat up to the chain's time. */
function plotBalances(node, series) {
  node.hidden = !series.length;
  if (!series.length) return;
  const now = state.status?.timestamp;
  plot(node, series.map((s) => {
    const pts = [...s.points];
    const last = pts[pts.length - 1];
    if (now && last && last.time < now) pts.push({ time: now, net_wei: last.net_wei });
    return {
      name: s.address === 'others' ? `${s.accounts} others` : short(s.address), mode: 'lines+markers', line: { shape: 'hv' },
      x: pts.map((p) => new Date(p.time * 1000)), y: pts.map((p) => weiToEthNumber(p.net_wei)),
    };
  }), { title: { text: 'net balance per account (refunds and takes minus deposits)' }, yaxis: { title: { text: 'ETH' } } });
}

// ------------------------------------------------------------ runs and markets
/** A display value for a summary field: wei as ETH, times as dates, shares as %. */
function fieldText(key, v) {
  if (v === null || v === undefined) return '';
  if (key.endsWith('_wei')) return ethText(v);
  if (/(^|_)(time|deadline)$/.test(key) && typeof v === 'number' && v > 1e9) return fmtTime(v);
  if (/accuracy/.test(key) && typeof v === 'number' && v >= 0 && v <= 1) return pct(v);
  if (typeof v === 'number') return Number.isInteger(v) ? count(v) : String(Number(v.toFixed(4)));
  return /^0x[0-9a-fA-F]{40,}$/.test(v) && key !== 'address' ? short(v) : String(v);
}

/** ETH text of a wei amount; exact from a decimal string (or safe integer), "≈" from a big JSON number. */
function ethText(wei) {
  const exact = typeof wei === 'string' || Number.isSafeInteger(wei);
  let b;
  try { b = BigInt(typeof wei === 'number' && !exact ? Math.round(wei) : wei); } catch { return String(wei); }
  const neg = b < 0n, a = neg ? -b : b, unit = 10n ** 18n;
  const frac = (a % unit).toString().padStart(18, '0').slice(0, 6).replace(/0+$/, '');
  const text = `${neg ? '-' : ''}${(a / unit).toLocaleString('en-US')}${frac ? '.' + frac : ''} ETH`;
  return a !== 0n && !frac && a < unit ? `${a.toLocaleString('en-US')} wei` : (exact ? text : `≈ ${text}`);
}

function scalarRows(obj, skip = []) {
  return Object.entries(obj ?? {})
    .filter(([k, v]) => !skip.includes(k) && (v === null || ['string', 'number', 'boolean'].includes(typeof v)))
    .flatMap(([k, v]) => [el('dt', {}, k.replace(/_wei$/, '').replace(/_/g, ' ')), el('dd', { testid: `field-${k}` }, fieldText(k, v))]);
}

/** A table of the scalar fields of `rows` (nested lists shown as their length). */
function recordsTable(testid, rows, empty) {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => rows.some((r) => r[k] !== null && typeof r[k] !== 'object' || Array.isArray(r[k])));
  return table(testid, cols.map((c) => c.replace(/_wei$/, '').replace(/_/g, ' ')),
    rows.map((r) => el('tr', {}, cols.map((c) => el('td', { title: typeof r[c] === 'string' ? r[c] : null },
      Array.isArray(r[c]) ? count(r[c].length) : fieldText(c === 'address' ? 'addr' : c, r[c]))))), empty);
}

function simpleList(root, { title, path, testid, href, columns, empty }) {
  const box = el('div', { testid }, el('p', { class: 'loading' }, 'loading…'));
  const msg = messages(testid);
  root.append(el('h1', {}, title), el('section', { class: 'card' }, box, ...msg.nodes));
  const load = async () => {
    try {
      const items = await api(path);
      box.replaceChildren(table(`${testid}-table`, columns.map((c) => c[0]),
        items.map((it) => el('tr', { class: 'clickable', testid: `${testid}-row-${it.id ?? it.name}`, onclick: () => { location.hash = href(it); } },
          columns.map(([, f], i) => el('td', {}, i === 0 ? el('a', { href: href(it) }, f(it)) : f(it))))),
        empty));
    } catch (e) { box.replaceChildren(); msg.fail(e); }
  };
  return load().then(() => ({ refresh: load }));
}


function viewRuns(root) {
  return simpleList(root, {
    title: 'Simulation runs', path: '/api/runs', testid: 'runs', empty: 'no simulation records in the runs folder (see `ledgerlearn simulate`)',
    href: (r) => `#/runs/${enc(r.id)}`,
    columns: [['run', (r) => r.id], ['kind', (r) => r.kind ?? 'unreadable'], ['what', (r) => r.title ?? r.error ?? ''],
      ['contributions', (r) => (r.contributions === undefined ? '' : count(r.contributions))],
      ['accuracy', (r) => (r.initial_accuracy === undefined ? '' : `${pct(r.initial_accuracy)} → ${pct(r.final_accuracy)}`)]],
  });
}

async function viewRun(root, id) {
  const run = await api(`/api/runs/${enc(id)}`);
  const accuracy = el('div', { class: 'chart', testid: 'run-accuracy' });
  const balances = el('div', { class: 'chart', testid: 'run-balances' });
  root.append(el('h1', { testid: 'run-title' }, run.title ?? run.id),
    el('p', { class: 'subtitle' }, `${run.kind} record ${run.file}`),
    el('div', { class: 'grid' },
      el('section', { class: 'card' }, el('h2', {}, 'Summary'), el('dl', { class: 'kv', testid: 'run-summary' }, scalarRows(run.summary, ['id', 'file', 'title', 'modified']))),
      el('section', { class: 'card' }, el('h2', {}, 'Measurements'), el('dl', { class: 'kv', testid: 'run-stats' }, scalarRows(run.stats)))),
    el('section', { class: 'card' }, el('h2', {}, 'Accuracy'), accuracy),
    el('section', { class: 'card' }, el('h2', {}, 'Balances per agent'), balances),
    el('section', { class: 'card' }, el('h2', {}, 'Agents'), recordsTable('run-agents', run.agents ?? [], 'no agents')));
  const days = (t) => t / 86400;
  if (Array.isArray(run.accuracy)) {  // a simulation: accuracy over virtual time
    plot(accuracy, [{ name: 'accuracy', mode: 'lines+markers', x: run.accuracy.map((p) => days(p.time)), y: run.accuracy.map((p) => p.accuracy) }],
      { xaxis: { title: { text: 'virtual days since the model went live' } }, yaxis: { tickformat: '.0%', range: [0, 1.05] } });
  } else if (run.accuracy) {  // a bounty market: accuracy before and after
    const keys = ['initial', 'all_contributions', 'honest_only'].filter((k) => typeof run.accuracy[k] === 'number');
    plot(accuracy, [{ type: 'bar', x: keys.map((k) => k.replace(/_/g, ' ')), y: keys.map((k) => run.accuracy[k]), text: keys.map((k) => pct(run.accuracy[k])) }],
      { yaxis: { tickformat: '.0%', range: [0, 1] }, title: { text: `on ${count(run.accuracy.test_samples)} hidden test samples` } });
  }
  const b = run.balances ?? { series: [] };
  if (b.series?.length) {
    const wei = b.unit === 'wei';
    plot(balances, b.series.map((sr) => ({
      name: sr.name, mode: 'lines+markers', line: { shape: wei ? 'linear' : 'hv' },
      x: sr.points.map((p) => (wei ? p.pass : days(p.time))), y: sr.points.map((p) => (wei ? weiToEthNumber(p.balance_wei) : p.balance)),
    })), {
      xaxis: { title: { text: wei ? 'reward pass (0: after deposits)' : 'virtual days' }, ...(wei ? { dtick: 1 } : {}) },
      yaxis: { title: { text: wei ? 'ETH' : b.unit === 'points' ? 'points' : `balance (units of ${ethText(b.unit_wei ?? 0)})` } },
    });
  } else balances.replaceChildren(el('p', { class: 'empty' }, 'this run recorded no balances'));
  return { refresh: () => {} };
}

function viewMarkets(root) {
  return simpleList(root, {
    title: 'Markets', path: '/api/markets', testid: 'markets', empty: 'no markets recorded on this chain (see `ledgerlearn market`)',
    href: (m) => `#/markets/${enc(m.name)}`,
    columns: [['market', (m) => m.name], ['kind', (m) => m.kind ?? ''], ['address', (m) => m.address]],
  });
}

async function viewMarket(root, name) {
  const m = await api(`/api/markets/${enc(name)}`);
  const rounds = m.rounds ?? [];
  const chart = el('div', { class: 'chart', testid: 'market-chart' });
  root.append(el('h1', { testid: 'market-name' }, `Market ${m.name ?? name}`),
    el('p', { class: 'subtitle' }, `${m.kind} at ${m.address}: ${m.phase}`),
    el('section', { class: 'card' }, el('h2', {}, 'Summary'), el('dl', { class: 'kv', testid: 'market-summary' }, scalarRows(m.summary))),
    el('section', { class: 'card' }, el('h2', {}, 'Rounds'), chart, recordsTable('market-rounds', rounds, 'no rounds yet')),
    el('section', { class: 'card' }, el('h2', {}, 'Timeline'), recordsTable('market-timeline', m.timeline ?? [], 'no events yet')));
  const x = rounds.map((r, i) => r.round ?? i + 1);
  const acc = rounds.filter((r) => typeof r.accuracy === 'number');
  if (acc.length) {
    plot(chart, [{ name: 'accuracy', mode: 'lines+markers', x: acc.map((r) => r.round), y: acc.map((r) => r.accuracy) }],
      { xaxis: { title: { text: 'round' }, dtick: 1 }, yaxis: { tickformat: '.0%', range: [0, 1.05] }, title: { text: 'accuracy on the revealed test set' } });
  } else if (rounds.some((r) => r.paid_wei !== undefined)) {
    plot(chart, [{ type: 'bar', name: 'paid', x, y: rounds.map((r) => weiToEthNumber(r.paid_wei)) }],
      { xaxis: { title: { text: 'round' }, dtick: 1 }, yaxis: { title: { text: 'paid (ETH)' } } });
  } else chart.hidden = true;
  return { refresh: () => {} };
}

// -------------------------------------------------------------------- router
const ROUTES = [
  [/^#?\/?$/, viewModels],
  [/^#\/models\/(.+)$/, viewModel],
  [/^#\/runs\/?$/, viewRuns],
  [/^#\/runs\/(.+)$/, viewRun],
  [/^#\/markets\/?$/, viewMarkets],
  [/^#\/markets\/(.+)$/, viewMarket],
];

let routeToken = 0;

async function route() {
  const token = ++routeToken;
  const root = document.getElementById('view');
  const box = el('div', { class: 'page' });
  const hash = location.hash || '#/';
  root.replaceChildren(box);  // a later route replaces `box`: this one's late output goes nowhere
  root.setAttribute('aria-busy', 'true');
  state.view = null;
  state.messages = [];
  for (const a of document.querySelectorAll('nav a')) {
    const section = a.getAttribute('href');
    a.classList.toggle('active', section === '#/' ? hash === '#/' || hash.startsWith('#/models') : hash.startsWith(section));
  }
  const found = ROUTES.map(([re, view]) => [hash.match(re), view]).find(([m]) => m);
  try {
    if (!found) throw new Error(`no page at ${hash}`);
    const [m, view] = found;
    const v = await view(box, ...m.slice(1).map((s) => decodeURIComponent(s)));
    if (token === routeToken) state.view = v;
  } catch (e) {
    const msg = messages('page');
    msg.fail(e);
    box.append(...msg.nodes, el('p', {}, el('a', { href: '#/' }, 'back to the models')));
  } finally {
    if (token === routeToken) root.setAttribute('aria-busy', 'false');
  }
}

async function start() {
  setupHeader();
  try { await refreshHeader(); } catch (e) {
    const box = document.querySelector('[data-testid=header-error]');
    box.textContent = e.message; box.hidden = false;
  }
  window.addEventListener('hashchange', route);
  await route();
  document.body.dataset.ready = '1';
}

start();
