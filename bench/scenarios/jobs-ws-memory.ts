/**
 * Memory of idle WebSocket subscribers: a Gatehouse child process (`bench/lib/gatehouse-child.ts`,
 * so the RSS read is the server's alone) on a scratch SQLite database; this process opens
 * `subscribers` WebSockets to `GET /api/v1/ws` with the admin's API key, each subscribing to one
 * `job:<id>` topic (spread over the child's jobs), waits for every `subscribed` answer, lets the
 * server settle and reads its VmRSS from /proc/<pid>/status. If not every socket could be opened,
 * the figure is extrapolated from the ones that were, and says so.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { ChildReady } from '../lib/gatehouse-child.js';
import { scratchSqlite } from '../lib/scratch.js';

/** What the WebSocket memory measurement found. */
export interface WsMemoryFigures {
  requested: number;
  /** Sockets open and subscribed at the measurement. */
  subscribed: number;
  /** Server RSS in MiB after start-up, before any subscriber. */
  rssBeforeMiB: number;
  /** Server RSS in MiB with `subscribed` idle subscribers. */
  rssAfterMiB: number;
  /** Peak RSS (VmHWM) of the server in MiB. */
  rssPeakMiB: number;
  /** (after − before) / subscribed, in KiB. */
  perSubscriberKiB: number;
  /** Server RSS projected for `requested` subscribers when fewer were opened (null when all were). */
  projectedMiB: number | null;
  /** Seconds to open and subscribe them all. */
  openSeconds: number;
  /** The first errors seen, if any. */
  errors: string[];
}

/** Options for {@link measureWsMemory}. */
export interface WsMemoryOptions {
  subscribers: number;
  /** Sockets being opened at once. */
  openConcurrency: number;
  log: (message: string) => void;
}

function readRss(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
}

async function startChild(databaseUrl: string, dataDir: string, subscribers: number): Promise<{ child: ChildProcess; ready: ChildReady }> {
  const entry = fileURLToPath(new URL('../lib/gatehouse-child.ts', import.meta.url));
  // Every socket is the admin's: the per-user cap (REALTIME_MAX_CONNECTIONS_PER_USER, default 20)
  // is raised above the count, else all but 20 upgrades are refused with 429.
  const maxConnections = String(subscribers + 100);
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DATABASE_URL: databaseUrl, DATA_DIR: dataDir, BENCH_CHILD_JOBS: '100', BENCH_CHILD_MAX_CONNECTIONS_PER_USER: maxConnections },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const ready = await new Promise<ChildReady>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Gatehouse child not ready after 60 s: ${stderr.slice(-500)}`)), 60_000);
    lines.on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as ChildReady;
        if (parsed.address) {
          clearTimeout(timer);
          resolve(parsed);
        }
      } catch {
        // not the ready line
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Gatehouse child exited with ${code}: ${stderr.slice(-500)}`));
    });
  });
  return { child, ready };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Opens one socket and subscribes it; resolves with the open socket. */
function subscribe(url: string, key: string, topic: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${key}` }, perMessageDeflate: false });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('no subscribed answer within 30 s'));
    }, 30_000);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'subscribe', topics: [topic] })));
    socket.on('message', (data: WebSocket.RawData) => {
      const message = JSON.parse(data.toString()) as { type: string; code?: string };
      if (message.type === 'subscribed') {
        clearTimeout(timer);
        resolve(socket);
      } else if (message.type === 'error') {
        clearTimeout(timer);
        socket.terminate();
        reject(new Error(`subscribe refused: ${message.code}`));
      }
    });
    socket.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`upgrade refused: ${res.statusCode}`));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Runs the measurement; always stops the child and drops the database. */
export async function measureWsMemory(options: WsMemoryOptions): Promise<WsMemoryFigures> {
  const db = scratchSqlite();
  const sockets: WebSocket[] = [];
  let child: ChildProcess | undefined;
  try {
    const started = await startChild(db.url, db.dataDir, options.subscribers);
    child = started.child;
    const { ready } = started;
    const pid = child.pid as number;
    const url = `${ready.address.replace(/^http/, 'ws')}/api/v1/ws`;
    // Warm-up: a few subscribers opened and closed, so code paths are loaded before "before".
    for (const s of await Promise.all(Array.from({ length: 20 }, (_, i) => subscribe(url, ready.adminKey, `job:${ready.jobIds[i % ready.jobIds.length]}`)))) s.close();
    await sleep(2000);
    const before = readRss(pid);
    options.log(`  server RSS before: ${before.rss.toFixed(1)} MiB`);
    const errors: string[] = [];
    const openStart = performance.now();
    let next = 0;
    const opener = async () => {
      for (let i = next++; i < options.subscribers; i = next++) {
        try {
          sockets.push(await subscribe(url, ready.adminKey, `job:${ready.jobIds[i % ready.jobIds.length]}`));
        } catch (error) {
          if (errors.length < 5) errors.push(error instanceof Error ? error.message : String(error));
        }
        if (i > 0 && i % 2000 === 0) options.log(`  ${i} subscribers…`);
      }
    };
    await Promise.all(Array.from({ length: options.openConcurrency }, opener));
    const openSeconds = (performance.now() - openStart) / 1000;
    await sleep(3000);
    const subscribed = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
    const after = readRss(pid);
    const perSubscriberKiB = subscribed > 0 ? ((after.rss - before.rss) * 1024) / subscribed : Number.NaN;
    const projectedMiB = subscribed < options.subscribers ? before.rss + (perSubscriberKiB * options.subscribers) / 1024 : null;
    options.log(`  ${subscribed} subscribed in ${openSeconds.toFixed(1)} s; server RSS after: ${after.rss.toFixed(1)} MiB (peak ${after.hwm.toFixed(1)})`);
    return {
      requested: options.subscribers,
      subscribed,
      rssBeforeMiB: before.rss,
      rssAfterMiB: after.rss,
      rssPeakMiB: after.hwm,
      perSubscriberKiB,
      projectedMiB,
      openSeconds,
      errors,
    };
  } finally {
    for (const s of sockets) s.terminate();
    if (child) await stopChild(child);
    await db.drop();
  }
}
