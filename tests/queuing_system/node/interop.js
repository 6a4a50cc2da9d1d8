#!/usr/bin/env node
// Node BullMQ peers for tests/queuing_system/test_node_interop.py.
// Usage:
//   node interop.js produce <redisUrl> <queue> <jobs>
//     adds jobs {n: 0..jobs-1}, waits for each one's completion event,
//     prints one JSON line {"<id>": <returnvalue>, ...}, exits 0.
//   node interop.js worker <redisUrl> <queue> <concurrency>
//     processes the queue: HINCRBY test:runs <id> 1, returns "node";
//     prints "ready" once connected; SIGTERM lets running jobs finish.
// bullmq and ioredis come from bench/node/node_modules (NODE_PATH).
'use strict';
const { Queue, QueueEvents, Worker } = require('bullmq');
const IORedis = require('ioredis');

const [role, url, queueName, countText] = process.argv.slice(2);
const parsed = new URL(url);
const connection = {
  host: parsed.hostname,
  port: Number(parsed.port || 6379),
  db: Number(parsed.pathname.slice(1) || 0),
};

async function produce(jobs) {
  const events = new QueueEvents(queueName, { connection });
  await events.waitUntilReady();
  const results = {};
  let done = 0;
  const finished = new Promise((resolve) => {
    events.on('completed', ({ jobId, returnvalue }) => {
      results[jobId] = returnvalue;
      done += 1;
      if (done === jobs) resolve();
    });
  });
  const queue = new Queue(queueName, { connection });
  const batch = [];
  for (let n = 0; n < jobs; n += 1) batch.push({ name: queueName, data: { n } });
  await queue.addBulk(batch);
  await finished;
  console.log(JSON.stringify(results));
  await events.close();
  await queue.close();
  process.exit(0);
}

async function work(concurrency) {
  const redis = new IORedis(connection);
  const worker = new Worker(queueName, async (job) => {
    await redis.hincrby('test:runs', job.id, 1);
    return 'node';
  }, { connection, concurrency });
  await worker.waitUntilReady();
  console.log('ready');
  process.on('SIGTERM', async () => {
    await worker.close();
    await redis.quit();
    process.exit(0);
  });
}

if (role === 'produce') produce(Number(countText));
else work(Number(countText || 2));
