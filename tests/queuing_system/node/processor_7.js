#!/usr/bin/env node
// A Node BullMQ worker doing what queuing_system/7-job_processor.py does,
// for the tests: progress 0, a failure for the two blacklisted numbers,
// progress 50, then one "Sending notification ..." line.
// Usage: node processor_7.js <redisUrl> <queue> [concurrency]
// Prints "ready" once connected; SIGTERM lets running jobs finish.
// bullmq comes from bench/node/node_modules (NODE_PATH).
'use strict';
const { Worker } = require('bullmq');

const [url, queueName, concurrencyText] = process.argv.slice(2);
const parsed = new URL(url);
const connection = {
  host: parsed.hostname,
  port: Number(parsed.port || 6379),
  db: Number(parsed.pathname.slice(1) || 0),
};
const BLACKLISTED = ['4153518780', '4153518781'];

const worker = new Worker(queueName, async (job) => {
  const { phoneNumber, message } = job.data;
  await job.updateProgress(0);
  if (BLACKLISTED.includes(phoneNumber)) {
    throw new Error(`Phone number ${phoneNumber} is blacklisted`);
  }
  await job.updateProgress(50);
  console.log(`Sending notification to ${phoneNumber}, with message: ${message}`);
}, { connection, concurrency: Number(concurrencyText || 2) });

worker.waitUntilReady().then(() => console.log('ready'));
process.on('SIGTERM', async () => {
  await worker.close();
  process.exit(0);
});
