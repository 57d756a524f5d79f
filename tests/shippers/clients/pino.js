// pino + pino-http-send, unmodified, shipping the Clickpost calls of INPUT (JSON lines).
// env: SHIP_URL, SHIP_AUTH, INPUT, BODY_TYPE=json|ndjson, WAIT_MS.
// Configured as ../../../../shared/shippers/pino-http-send/send.js.
const fs = require('fs');
const pino = require('pino');
const { createWriteStream } = require('pino-http-send');

const stream = createWriteStream({
  url: process.env.SHIP_URL,
  bodyType: process.env.BODY_TYPE || 'json',
  headers: { Authorization: process.env.SHIP_AUTH },
  batchSize: 10, timeout: 1000, retries: 5, interval: 1000,
});
const log = pino({ base: { service: 'pino-shipper' } }, stream);

for (const line of fs.readFileSync(process.env.INPUT, 'utf8').split('\n')) {
  if (line.trim()) log.info(JSON.parse(line), 'clickpost call');
}
setTimeout(() => process.exit(0), Number(process.env.WAIT_MS || 4000));
