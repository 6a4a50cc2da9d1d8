#!/usr/bin/env node
// Node BullMQ peer for bench/bench_queue_delay.py: how late delayed jobs start.
// Usage: node delay.js worker <redisUrl> <queue>
//          processes <queue> (concurrency 1) until SIGTERM, prints "ready";
//          each job returns how late it started: now - job.data.due (ms).
//        node delay.js produce <redisUrl> <queue> <jobs>
//          adds <jobs> jobs delayed 200 ms + 40 ms * i, waits for every
//          completion, prints the lateness values as a JSON array.
'use strict';
const { Queue, Worker, QueueEvents } = require('bullmq');

const [role, url, queueName, jobsText] = process.argv.slice(2);
const parsed = new URL(url);
const connection = { host: parsed.hostname, port: Number(parsed.port || 6379) };

async function worker() {
  const w = new Worker(queueName, async (job) => Date.now() - job.data.due,
    { connection, concurrency: 1 });
  await w.waitUntilReady();
  console.log('ready');
  process.on('SIGTERM', async () => { await w.close(); process.exit(0); });
}

async function produce() {
  const jobs = parseInt(jobsText || '50', 10);
  const queue = new Queue(queueName, { connection });
  const events = new QueueEvents(queueName, { connection });
  await events.waitUntilReady();
  const late = [];
  const finished = new Promise((resolve) => {
    events.on('completed', ({ returnvalue }) => {
      late.push(Number(returnvalue));
      if (late.length === jobs) resolve();
    });
  });
  const now = Date.now();
  const batch = [];
  for (let i = 0; i < jobs; i += 1) {
    const delay = 200 + 40 * i;
    batch.push({ name: queueName, data: { due: now + delay }, opts: { delay } });
  }
  await queue.addBulk(batch);
  await finished;
  console.log(JSON.stringify(late));
  await events.close();
  await queue.close();
  process.exit(0);
}

if (role === 'worker') worker(); else produce();
