// winston 3's Http transport, unmodified, shipping the Clickpost calls of INPUT (JSON lines).
// env: SHIP_URL, SHIP_AUTH (the whole Authorization value), INPUT, BATCH=1, WAIT_MS.
// Configured as ../../../../shared/shippers/winston-http/send.js, less format.timestamp(),
// which would overwrite each call's own `timestamp` with the time it was logged.
const fs = require('fs');
const winston = require('winston');

const u = new URL(process.env.SHIP_URL);
const logger = winston.createLogger({
  format: winston.format.json(),
  defaultMeta: { service: 'winston-shipper' },
  transports: [new winston.transports.Http({
    host: u.hostname, port: u.port, path: u.pathname + u.search,
    headers: { Authorization: process.env.SHIP_AUTH },
    batch: process.env.BATCH === '1', batchCount: 10, batchInterval: 500,
  })],
});
// The transport warns on any status but 200 and then drops the record: the test fails on it.
logger.on('warn', e => console.error('transport warn:', e.message));

for (const line of fs.readFileSync(process.env.INPUT, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const call = JSON.parse(line);
  const level = Number(call.http_status || call.status_code) >= 400 ? 'error' : 'info';
  logger.log({ level, message: 'clickpost call', ...call });
}
setTimeout(() => process.exit(0), Number(process.env.WAIT_MS || 3000));
