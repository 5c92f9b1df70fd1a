import { Resvg } from '@resvg/resvg-js';

export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
}

const WIDTH = 520;
const HEIGHT = 340;
const MARGIN = { left: 64, right: 16, top: 36, bottom: 48 };

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten. */
function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value) ?? 10 * power);
}

/** One line chart as SVG: x on a log2 scale (load doubles between levels), y linear from 0. */
function panelSvg(panel: Panel, offsetX: number): string {
  const xs = panel.series.flatMap((series) => series.points.map((point) => point.x));
  const ys = panel.series.flatMap((series) => series.points.map((point) => point.y));
  const xMin = Math.log2(Math.min(...xs));
  const xMax = Math.max(Math.log2(Math.max(...xs)), xMin + 1);
  const yMax = niceMax(Math.max(...ys));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x: number) => offsetX + MARGIN.left + ((Math.log2(x) - xMin) / (xMax - xMin)) * plotW;
  const py = (y: number) => MARGIN.top + plotH - (y / yMax) * plotH;
  const parts: string[] = [
    `<text x="${offsetX + WIDTH / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escape(panel.title)}</text>`,
    `<line x1="${offsetX + MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${offsetX + MARGIN.left + plotW}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
    `<line x1="${offsetX + MARGIN.left}" y1="${MARGIN.top}" x2="${offsetX + MARGIN.left}" y2="${MARGIN.top + plotH}" stroke="#333"/>`,
    `<text x="${offsetX + MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle" font-size="12">${escape(panel.xLabel)}</text>`,
    `<text transform="translate(${offsetX + 16},${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escape(panel.yLabel)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const value = (yMax / 4) * i;
    parts.push(
      `<line x1="${offsetX + MARGIN.left}" y1="${py(value)}" x2="${offsetX + MARGIN.left + plotW}" y2="${py(value)}" stroke="#ddd"/>`,
      `<text x="${offsetX + MARGIN.left - 6}" y="${py(value) + 4}" text-anchor="end" font-size="11">${Number(value.toPrecision(3))}</text>`,
    );
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    parts.push(`<text x="${px(x)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle" font-size="11">${x}</text>`);
  }
  panel.series.forEach((series, index) => {
    const points = series.points.map((point) => `${px(point.x).toFixed(1)},${py(point.y).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${series.color}" stroke-width="2" points="${points}"/>`);
    for (const point of series.points) parts.push(`<circle cx="${px(point.x)}" cy="${py(point.y)}" r="3" fill="${series.color}"/>`);
    parts.push(
      `<rect x="${offsetX + MARGIN.left + 10}" y="${MARGIN.top + 6 + index * 16}" width="10" height="10" fill="${series.color}"/>`,
      `<text x="${offsetX + MARGIN.left + 26}" y="${MARGIN.top + 15 + index * 16}" font-size="11">${escape(series.name)}</text>`,
    );
  });
  return parts.join('\n');
}

/** Panels side by side, rendered to PNG (resvg: no browser, no native build, system fonts). */
export function renderChartPng(panels: Panel[]): Buffer {
  const width = WIDTH * panels.length;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" font-family="DejaVu Sans, sans-serif">
<rect width="100%" height="100%" fill="white"/>
${panels.map((panel, index) => panelSvg(panel, index * WIDTH)).join('\n')}
</svg>`;
  return new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}
