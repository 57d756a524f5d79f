// The OpenTelemetry JS OTLP/HTTP log exporter, unmodified, with each call as the log record's
// attributes (the OpenTelemetry convention) and a plain text body.
// Configured as ../../../../shared/shippers/otlp-http-js/send.js; `timestamp` is the record's
// own time (timeUnixNano), the rest of the call its typed attributes (a nested `response` is a
// kvlistValue, numbers intValue/doubleValue).
// env: SHIP_URL, SHIP_AUTH, INPUT (with `_at_ms`).
const fs = require('fs');
const { diag, DiagConsoleLogger, DiagLogLevel } = require('@opentelemetry/api');
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');

diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN); // export failures reach stderr
const exporter = new OTLPLogExporter({
  url: process.env.SHIP_URL,
  headers: { Authorization: process.env.SHIP_AUTH },
});
const processor = BatchLogRecordProcessor.length >= 2
  ? new BatchLogRecordProcessor(exporter, { scheduledDelayMillis: 500 })
  : new BatchLogRecordProcessor({ exporter, scheduledDelayMillis: 500 });
const provider = new LoggerProvider({
  resource: resourceFromAttributes({ 'service.name': 'otlp-attributes' }),
  processors: [processor],
});
const logger = provider.getLogger('clickpost-client', '1.0.0');

for (const line of fs.readFileSync(process.env.INPUT, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const { _at_ms, timestamp, message, ...call } = JSON.parse(line);
  logger.emit({
    severityText: 'INFO',
    body: message || 'Clickpost call',
    timestamp: new Date(_at_ms),
    attributes: call,
  });
}
provider.forceFlush().then(() => provider.shutdown()).catch(e => console.error('flush error', e.stack))
  .finally(() => setTimeout(() => process.exit(0), Number(process.env.WAIT_MS || 200)));
