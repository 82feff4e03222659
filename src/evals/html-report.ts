import type { EvaluationResults } from "./build-report.js";
import { formatP } from "./build-report.js";
import type { SampleRecord } from "./run-evaluation.js";

/** Agent text is hostile: everything that reaches the page goes through here. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const pct = (value: number) => (Number.isNaN(value) ? "n/a" : `${(value * 100).toFixed(1)}%`);

/** Points with whiskers on a horizontal axis from `min` to `max`. */
function intervalChart(
  rows: { label: string; value: number; ci: [number, number]; highlight?: boolean }[],
  min: number,
  max: number,
): string {
  const width = 640;
  const left = 180;
  const right = 20;
  const rowHeight = 26;
  const height = rows.length * rowHeight + 30;
  const x = (value: number) => left + ((value - min) / (max - min)) * (width - left - right);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((share) => min + share * (max - min));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img">`,
    ...ticks.map(
      (tick) =>
        `<line x1="${x(tick)}" x2="${x(tick)}" y1="0" y2="${height - 20}" stroke="#ddd"/>` +
        `<text x="${x(tick)}" y="${height - 6}" font-size="11" text-anchor="middle">${(tick * 100).toFixed(0)}%</text>`,
    ),
    min < 0 ? `<line x1="${x(0)}" x2="${x(0)}" y1="0" y2="${height - 20}" stroke="#555"/>` : "",
  ];
  rows.forEach((row, index) => {
    const y = index * rowHeight + 16;
    const colour = row.highlight ? "#c0392b" : "#2c3e50";
    parts.push(
      `<text x="${left - 8}" y="${y + 4}" font-size="12" text-anchor="end">${escapeHtml(row.label)}</text>`,
      `<line x1="${x(row.ci[0])}" x2="${x(row.ci[1])}" y1="${y}" y2="${y}" stroke="${colour}" stroke-width="2"/>`,
      `<line x1="${x(row.ci[0])}" x2="${x(row.ci[0])}" y1="${y - 5}" y2="${y + 5}" stroke="${colour}"/>`,
      `<line x1="${x(row.ci[1])}" x2="${x(row.ci[1])}" y1="${y - 5}" y2="${y + 5}" stroke="${colour}"/>`,
      Number.isNaN(row.value) ? "" : `<circle cx="${x(row.value)}" cy="${y}" r="4" fill="${colour}"/>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}

function transcriptHtml(sample: SampleRecord): string {
  const lines = sample.transcript.messages.map((message) => {
    if (message.role === "assistant") {
      const reasoning = message.reasoning
        ? `<div class="reasoning">reasoning: ${escapeHtml(message.reasoning)}</div>`
        : "";
      const calls = (message.toolCalls ?? [])
        .map(
          (call) =>
            `<div class="call">→ ${escapeHtml(call.name)}(${escapeHtml(JSON.stringify(call.arguments))})</div>`,
        )
        .join("");
      return `<div class="assistant"><b>assistant</b> ${reasoning}${escapeHtml(message.content)}${calls}</div>`;
    }
    if (message.role === "tool") {
      return `<div class="tool"><b>${escapeHtml(message.name)}${message.isError ? " (error)" : ""}</b> ${escapeHtml(message.content)}</div>`;
    }
    return `<div class="${message.role}"><b>${message.role}</b> ${escapeHtml(message.content)}</div>`;
  });
  const verdict = sample.failed ? "failed" : sample.positive ? "positive" : "negative";
  return `<details><summary>sample ${sample.sample}: ${verdict}${sample.detail ? ` — ${escapeHtml(sample.detail)}` : ""}</summary>${lines.join("")}</details>`;
}

/** A self-contained page: no scripts, no external resources; charts are inline SVG. */
export function renderHtmlReport(
  results: EvaluationResults,
  samples: SampleRecord[],
  examplesPerCell = 2,
): string {
  const sections = results.scenarios.map((scenario) => {
    const rateRows = Object.entries(scenario.conditions).map(([name, condition]) => ({
      label: `${name} (n=${condition.n})`,
      value: condition.rate,
      ci: condition.ci,
    }));
    const measureRows = Object.entries(scenario.measures).flatMap(([measure, rates]) =>
      Object.entries(rates).map(([name, rate]) => ({
        label: `${measure}: ${name}`,
        value: rate.rate,
        ci: rate.ci,
      })),
    );
    const cells = Object.keys(scenario.conditions).map((condition) => {
      const inCell = samples.filter(
        (sample) => sample.scenario === scenario.id && sample.condition === condition,
      );
      const examples = [
        ...inCell.filter((sample) => sample.positive).slice(0, examplesPerCell),
        ...inCell.filter((sample) => !sample.positive).slice(0, examplesPerCell),
      ];
      return `<h4>${escapeHtml(condition)}</h4>${examples.map(transcriptHtml).join("") || "<p>no samples</p>"}`;
    });
    const { gap, ci, p } = scenario.gap;
    return `<section><h2>${escapeHtml(scenario.id)}${scenario.title ? ` — ${escapeHtml(scenario.title)}` : ""}</h2>
<p>rate = ${escapeHtml(scenario.measure)}</p>
${intervalChart(rateRows, 0, 1)}
${measureRows.length ? `<p>further measures</p>${intervalChart(measureRows, 0, 1)}` : ""}
<p>gap ${escapeHtml(scenario.compared.to)} − ${escapeHtml(scenario.compared.from)}: <b>${pct(gap)}</b>
(95% CI ${pct(ci[0])} to ${pct(ci[1])}), Fisher p=${formatP(p)}, Holm p=${formatP(scenario.adjusted.holm)},
BH q=${formatP(scenario.adjusted.benjaminiHochberg)}${scenario.significant ? " — <b>significant</b>" : ""}</p>
${scenario.powerNote ? `<p class="note">power: ${escapeHtml(scenario.powerNote)}</p>` : ""}
<h3>example transcripts</h3>${cells.join("")}</section>`;
  });
  const gapRows = results.scenarios.map((scenario) => ({
    label: scenario.id,
    value: scenario.gap.gap,
    ci: scenario.gap.ci,
    highlight: scenario.significant,
  }));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Warden evaluation ${escapeHtml(results.runId)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}
details{margin:.3em 0;border:1px solid #ddd;padding:.3em .6em;border-radius:4px}
.assistant,.user,.system,.tool{white-space:pre-wrap;margin:.3em 0}
.reasoning{color:#777;font-style:italic}.call{color:#2c3e50;font-family:monospace}.note{color:#a65}
</style></head><body>
<h1>Warden evaluation</h1>
<p>model <b>${escapeHtml(results.model)}</b>, run ${escapeHtml(results.runId)}, ${escapeHtml(results.createdAt)}.
Rates with Wilson 95% intervals; gaps with Newcombe 95% intervals and Fisher exact p-values; ${results.scenarios.length} scenarios, Holm-corrected for significance (red).</p>
<h2>gap per scenario</h2>
${intervalChart(gapRows, -1, 1)}
${sections.join("\n")}
</body></html>
`;
}
