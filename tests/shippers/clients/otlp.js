// The OpenTelemetry JS OTLP/HTTP (JSON) log exporter, unmodified, shipping the Clickpost calls
// of INPUT (JSON lines; `_at_ms` is each call's time). Even calls go as a structured body
// (kvlistValue); odd ones as JSON text (stringValue) without their `timestamp`, which the log
// record's own time (timeUnixNano) then stands for.
// env: SHIP_URL, SHIP_AUTH, INPUT, GZIP=1, WAIT_MS.
// Configured as ../../../../shared/shippers/otlp-http-js/send.js.
const fs = require('fs');
const { diag, DiagConsoleLogger, DiagLogLevel } = require('@opentelemetry/api');
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');

diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN); // export failures reach stderr
const exporter = new OTLPLogExporter({
  url: process.env.SHIP_URL,
  headers: { Authorization: process.env.SHIP_AUTH },
  compression: process.env.GZIP === '1' ? 'gzip' : 'none',
});
const processor = BatchLogRecordProcessor.length >= 2
  ? new BatchLogRecordProcessor(exporter, { scheduledDelayMillis: 500 })
  : new BatchLogRecordProcessor({ exporter, scheduledDelayMillis: 500 });
const provider = new LoggerProvider({
  resource: resourceFromAttributes({ 'service.name': 'otlp-shipper' }),
  processors: [processor],
});
const logger = provider.getLogger('clickpost-client', '1.0.0');

const lines = fs.readFileSync(process.env.INPUT, 'utf8').split('\n').filter(l => l.trim());
lines.forEach((line, i) => {
  const { _at_ms, ...call } = JSON.parse(line);
  const attributes = { 'call.index': i };
  if (i % 2 === 0) {
    logger.emit({ severityText: 'INFO', body: call, attributes });
  } else {
    const { timestamp, ...rest } = call;
    logger.emit({ severityText: 'WARN', body: JSON.stringify(rest), timestamp: new Date(_at_ms), attributes });
  }
});
provider.forceFlush().then(() => provider.shutdown()).catch(e => console.error('flush error', e.stack))
  .finally(() => setTimeout(() => process.exit(0), Number(process.env.WAIT_MS || 200)));
