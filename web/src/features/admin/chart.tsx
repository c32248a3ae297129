/**
 * A small uPlot line chart of (time, value) points, sized to its container and coloured from
 * the page's CSS variables (so dark mode applies). The points are also given as a visually
 * hidden table for screen readers; `data-points` tells tests how many points are drawn.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** One point: `at` an ISO time, `value` a number. */
export interface TimePoint {
  at: string;
  value: number;
}

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

/** A stepped line of `points` over time, labelled `title`; `valueLabel` names the y axis. */
export function TimeChart({ points, title, valueLabel, testId }: { points: TimePoint[]; title: string; valueLabel: string; testId?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const xs = points.map((p) => Date.parse(p.at) / 1000);
  const ys = points.map((p) => p.value);
  const key = JSON.stringify([xs, ys]);

  useEffect(() => {
    const element = box.current;
    if (!element || points.length === 0) return;
    const text = cssVar('--text', '#1b1d21');
    const grid = cssVar('--border', '#d5d8de');
    const accent = cssVar('--accent', '#2554c7');
    // Fixed windows, padded: points at one instant or of (nearly) one value still read well.
    const xMin = Math.min(...xs);
    const xMax = Math.max(...xs);
    const xRange: uPlot.Range.MinMax = xMax - xMin < 1 ? [xMin - 60, xMax + 60] : [xMin, xMax];
    const yMin = Math.min(...ys);
    const yMax = Math.max(...ys);
    const span = yMax - yMin;
    const yPad = span > Math.abs(yMax) * 1e-6 ? span * 0.1 : Math.abs(yMax) * 0.05 || 1;
    const yRange: uPlot.Range.MinMax = [yMin - yPad, yMax + yPad];
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const options: uPlot.Options = {
      width: Math.max(280, element.clientWidth),
      height: 240,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, range: xRange }, y: { range: yRange } },
      axes: [axis, { ...axis, label: valueLabel, size: 70 }],
      series: [{}, { label: valueLabel, stroke: accent, width: 2, paths: uPlot.paths.stepped?.({ align: 1 }), points: { show: true, size: 6, fill: accent } }],
    };
    const data: uPlot.AlignedData = [xs, ys];
    plot.current?.destroy();
    plot.current = new uPlot(options, data, element);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(280, element.clientWidth), height: 240 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
    };
    // Redraw when the points change (key), not on every render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, valueLabel]);

  useEffect(
    () => () => {
      plot.current?.destroy();
      plot.current = null;
    },
    [],
  );

  return (
    <figure className="chart-figure" data-testid={testId} data-points={points.length}>
      <figcaption>{title}</figcaption>
      {points.length === 0 ? (
        <p className="chart-empty muted">No values yet.</p>
      ) : (
        <div ref={box} className="time-chart" role="img" aria-label={`${title}: ${points.length} points, latest ${ys[ys.length - 1]}`} />
      )}
      <table className="visually-hidden">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">{valueLabel}</th>
          </tr>
        </thead>
        <tbody>
          {points.map((p) => (
            <tr key={p.at + p.value}>
              <td>{p.at}</td>
              <td>{p.value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
