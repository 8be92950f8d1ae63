// A batched worker matches replies to requests by their place in the batch: every ask gets its own answer however
// the asks fall into batches; a thread that answers a batch with the wrong number of replies, or stops, fails what
// waits on it, and the next ask starts a new thread that the old one's end does not disturb.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BatchedWorker } from '../../../agent/replication/batched-worker.js';

interface Ask { readonly op: 'echo' | 'short' | 'exit'; readonly n: number }
interface Answer { readonly echo: number; readonly batchSize: number }

/** Answers each request with its n; a batch holding 'short' gets one reply too few, one holding 'exit' none. */
const WORKER = `
import { parentPort } from 'node:worker_threads';
parentPort.on('message', (batch) => {
  if (batch.some((r) => r.op === 'exit')) process.exit(3);
  const replies = batch.map((r) => ({ echo: r.n, batchSize: batch.length }));
  parentPort.postMessage(batch.some((r) => r.op === 'short') ? replies.slice(1) : replies);
});
`;

function setUp(t: TestContext): BatchedWorker<Ask, Answer> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-batched-worker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'echo-worker.mjs');
  writeFileSync(script, WORKER);
  const worker = new BatchedWorker<Ask, Answer>(pathToFileURL(script), 'echo thread');
  t.after(() => worker.close());
  return worker;
}

test('each ask gets the reply in its own place, whatever batches the asks fall into', async (t) => {
  const worker = setUp(t);
  const asks = Array.from({ length: 200 }, (_, n) => worker.ask({ op: 'echo', n }));
  const answers = await Promise.all(asks);
  assert.deepEqual(answers.map((a) => a.echo), Array.from({ length: 200 }, (_, n) => n));
  // Two batches go at once, the rest wait for an answer and go together: so some batches held several asks.
  assert.ok(answers.some((a) => a.batchSize > 1), `batch sizes: ${[...new Set(answers.map((a) => a.batchSize))].join(', ')}`);
});

test('a batch answered with too few replies fails every ask waiting, naming the counts; the next ask gets a new thread', async (t) => {
  const worker = setUp(t);
  const short = worker.ask({ op: 'short', n: 1 });
  const queued = worker.ask({ op: 'echo', n: 2 });
  await assert.rejects(short, { code: 'VIGIL_WORKER_PROTOCOL', message: 'the echo thread answered 0 replies to a batch of 1 requests' });
  await assert.rejects(queued, { code: 'VIGIL_WORKER_PROTOCOL' });
  // Asked before the old thread's exit is reported: that exit must not fail it.
  assert.deepEqual(await worker.ask({ op: 'echo', n: 3 }), { echo: 3, batchSize: 1 });
  assert.deepEqual(await worker.ask({ op: 'echo', n: 4 }), { echo: 4, batchSize: 1 });
});

test('a thread that stops fails what waits on it; the next ask starts another', async (t) => {
  const worker = setUp(t);
  await assert.rejects(worker.ask({ op: 'exit', n: 1 }), { code: 'VIGIL_WORKER_EXIT', message: 'the echo thread stopped' });
  assert.deepEqual(await worker.ask({ op: 'echo', n: 5 }), { echo: 5, batchSize: 1 });
});

test('a closed worker refuses asks', async (t) => {
  const worker = setUp(t);
  assert.equal((await worker.ask({ op: 'echo', n: 6 })).echo, 6);
  await worker.close();
  await assert.rejects(worker.ask({ op: 'echo', n: 7 }), { code: 'VIGIL_CLOSED' });
});

test('a warmed thread answers the first ask, and a process that only warmed one exits by itself', async (t) => {
  const worker = setUp(t);
  worker.warm();
  assert.deepEqual(await worker.ask({ op: 'echo', n: 8 }), { echo: 8, batchSize: 1 });
  // A child that warms a thread and asks nothing: the idle thread must not keep it up.
  const module = new URL('../../../agent/replication/batched-worker.js', import.meta.url).href;
  // The thread listens, as a real one does: only the unreferencing lets the child end.
  const listening = `data:text/javascript,${encodeURIComponent("import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => {});")}`;
  const script = `import { BatchedWorker } from ${JSON.stringify(module)}; new BatchedWorker(new URL(${JSON.stringify(listening)}), 'idle thread').warm(); setTimeout(() => process.stdout.write('armed'), 50);`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(child.status, 0, `${child.signal ?? ''} ${child.stderr}`);
  assert.equal(child.stdout, 'armed');
});
