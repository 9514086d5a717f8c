// Validates an AsyncAPI document with the official parser; prints its diagnostics and
// exits 1 when any is an error (severity 0). Usage: node validate.mjs <document.json>
import { readFileSync } from "node:fs";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const path = process.argv[2];
const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(path, "utf8"), { source: path });
let errors = 0;
for (const d of diagnostics) {
  const level = d.severity === DiagnosticSeverity.Error ? "error" : "warning";
  if (d.severity === DiagnosticSeverity.Error) errors += 1;
  console.log(`${level} ${d.code} at ${(d.path || []).join(".")}: ${d.message}`);
}
if (errors || !document) {
  console.log(`${path}: ${errors} error(s)`);
  process.exit(1);
}
console.log(`${path}: valid AsyncAPI ${document.version()}, ${document.channels().length} channels, ` +
  `${document.operations().length} operations, ${document.messages().length} messages`);
