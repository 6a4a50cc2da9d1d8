#!/usr/bin/env node
// Node peers for bench/bench_queue.py: no-op jobs end to end.
// Usage: node peer.js <kue|bullmq> <worker|produce> <redisUrl> <jobs> <concurrency>
// worker: processes queue "bench" until SIGTERM, prints "ready".
// produce: adds <jobs> jobs, waits for every completion event, prints
// {"seconds": <enqueue of the first job to the last completion event>}.
'use strict';
const [lib, role, url, jobsText, concText] = process.argv.slice(2);
const JOBS = parseInt(jobsText || '10000', 10);
const CONCURRENCY = parseInt(concText || '2', 10);
const CHUNK = 500;

function report(t0) {
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ seconds }));
}

function kueMain() {
  const kue = require('kue');
  const queue = kue.createQueue({ redis: url });
  if (role === 'worker') {
    queue.process('bench', CONCURRENCY, (job, done) => done());
    console.log('ready');
    process.on('SIGTERM', () => queue.shutdown(5000, () => process.exit(0)));
    return;
  }
  let done = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < JOBS; i += 1) {
    const job = queue.create('bench', { i }).removeOnComplete(true);
    job.on('complete', () => {
      done += 1;
      if (done === JOBS) { report(t0); queue.shutdown(1000, () => process.exit(0)); }
    });
    job.save();
  }
}

async function bullmqMain() {
  const { Queue, Worker, QueueEvents } = require('bullmq');
  const parsed = new URL(url);
  const connection = { host: parsed.hostname, port: Number(parsed.port) };
  if (role === 'worker') {
    const worker = new Worker('bench', async () => {}, { connection, concurrency: CONCURRENCY });
    await worker.waitUntilReady();
    console.log('ready');
    process.on('SIGTERM', async () => { await worker.close(); process.exit(0); });
    return;
  }
  const queue = new Queue('bench', { connection, streams: { events: { maxLen: 100000 } } });
  const events = new QueueEvents('bench', { connection });
  await events.waitUntilReady();
  let done = 0;
  const t0 = process.hrtime.bigint();
  const finished = new Promise((resolve) => {
    events.on('completed', () => { done += 1; if (done === JOBS) resolve(); });
  });
  for (let i = 0; i < JOBS; i += CHUNK) {
    const batch = [];
    for (let j = i; j < Math.min(i + CHUNK, JOBS); j += 1) {
      batch.push({ name: 'bench', data: { i: j }, opts: { removeOnComplete: true } });
    }
    await queue.addBulk(batch);
  }
  await finished;
  report(t0);
  await events.close();
  await queue.close();
  process.exit(0);
}

if (lib === 'kue') kueMain(); else bullmqMain();
