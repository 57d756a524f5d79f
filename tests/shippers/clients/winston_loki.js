// winston-loki, unmodified, in its default format, logging the Clickpost calls of INPUT.
// `new LokiTransport({ host, basicAuth, labels })` as its README says; each call's fields are
// winston meta, so the line is `message {json of the fields}` (and, with json: true, the same
// fields go as structured metadata). `replaceTimestamp: false` keeps each call's own time (the
// default stamps the time of logging instead). JSON=1 sends JSON, else snappy protobuf.
// A failed push is re-queued and sent again with the next batch; errors reach onConnectionError.
// env: SHIP_URL (the server's base URL), SHIP_TOKEN, INPUT (with `_at_ms`), JSON.
const fs = require('fs');
const winston = require('winston');
const LokiTransport = require('winston-loki');

const transport = new LokiTransport({
  host: process.env.SHIP_URL,
  basicAuth: `shipper:${process.env.SHIP_TOKEN}`,
  labels: { app: 'winston-loki' },
  json: process.env.JSON === '1',
  interval: 0.5,
  replaceTimestamp: false,
  onConnectionError: (err) => console.error('loki connection error', err.message),
});
const logger = winston.createLogger({ transports: [transport] });

for (const line of fs.readFileSync(process.env.INPUT, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const { _at_ms, message, timestamp, ...call } = JSON.parse(line);
  const level = Number(call.http_status || call.status_code) >= 400 ? 'error' : 'info';
  logger.log({ level, message: message || 'Clickpost call', timestamp: new Date(_at_ms).toISOString(), ...call });
}
setTimeout(async () => {
  await transport.flush();
  await transport.close();
  process.exit(0);
}, Number(process.env.WAIT_MS || 1500));
