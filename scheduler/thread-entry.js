// Entry of a BackgroundThread: registers tsx (as api/bin/autopeft.js does), then loads the
// TypeScript module named in workerData, whose serveInThread() answers the requests.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.module);
