/**
 * A line chart (uPlot, canvas) that names itself for assistive technology: a `<figure>` with a
 * caption (title and a one-sentence summary), the canvas marked `aria-hidden` with an accessible
 * label on its wrapper, and the numbers in a `<details>` table. Load it lazily: uPlot is only in
 * the chunks of the pages that draw charts.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** One line of a chart: its label, its values (null leaves a gap), and how to show a value. */
export interface ChartSeries {
  label: string;
  values: Array<number | null>;
  /** A CSS colour or custom property name such as `--accent` (default the accent colour). */
  color?: string;
  format?: (value: number) => string;
}

/** Props of {@link LineChart}. */
export interface LineChartProps {
  title: string;
  /** One sentence stating what the chart shows (the caption and the accessible description). */
  summary: string;
  /** x values (seconds, or Unix seconds with `time`). */
  x: number[];
  xLabel: string;
  /** x values are Unix timestamps in seconds (dates on the axis). */
  time?: boolean;
  series: ChartSeries[];
  height?: number;
  /** How the table shows an x value (default: as is). */
  formatX?: (value: number) => string;
  /** Draw points rather than lines (few values, e.g. months). */
  points?: boolean;
  /** Draw a step line with its points (a value that holds until the next one, e.g. a best-so-far). */
  stepped?: boolean;
  /** `data-testid` of the figure (its `data-points` says how many x values are drawn). */
  testId?: string;
}

/**
 * A scale's range with room around the data: a single instant or a single value still gets a
 * readable window (uPlot's automatic range spans years for one point in time).
 */
function padded(values: Array<number | null>, time: boolean): uPlot.Range.MinMax | undefined {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (!finite.length) return undefined;
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  if (time) return max - min < 1 ? [min - 60, max + 60] : [min, max];
  const span = max - min;
  const pad = span > Math.abs(max) * 1e-6 ? span * 0.1 : Math.abs(max) * 0.05 || 1;
  return [min - pad, max + pad];
}

function cssColor(color: string | undefined, element: HTMLElement): string {
  const name = color ?? '--accent';
  if (!name.startsWith('--')) return name;
  return getComputedStyle(element).getPropertyValue(name).trim() || '#2554c7';
}

/** A responsive line chart with a caption and a data table. */
export function LineChart({ title, summary, x, xLabel, time, series, height = 220, formatX, points, stepped, testId }: LineChartProps) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element || !x.length) return;
    const xRange = padded(x, !!time);
    const yRange = padded(series.flatMap((s) => s.values), false);
    const text = cssColor('--text', element);
    const grid = cssColor('--border', element);
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      scales: { x: { time: !!time, ...(xRange ? { range: xRange } : {}) }, y: yRange ? { range: yRange } : {} },
      legend: { show: series.length > 1 },
      cursor: { drag: { x: false, y: false } },
      axes: [{ ...axis, label: xLabel }, { ...axis }],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: cssColor(s.color, element),
          width: 2,
          spanGaps: false,
          points: { show: !!points || !!stepped, size: 7 },
          ...(points ? { paths: () => null } : stepped ? { paths: uPlot.paths.stepped?.({ align: 1 }) } : {}),
        })),
      ],
    };
    const plot = new uPlot(options, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, element);
    const observer = new ResizeObserver(() => plot.setSize({ width: Math.max(200, element.clientWidth), height }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [x, series, xLabel, time, height, points, stepped]);
  const showX = formatX ?? ((value: number) => String(value));
  return (
    <figure className="chart" data-testid={testId} data-points={x.length}>
      <figcaption>
        <strong>{title}</strong> <span className="muted">{summary}</span>
      </figcaption>
      {x.length ? <div ref={box} className="chart-canvas" role="img" aria-label={`${title}. ${summary}`} /> : <p className="muted">No values yet.</p>}
      <details>
        <summary>Data table</summary>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{xLabel}</th>
                {series.map((s) => (
                  <th scope="col" key={s.label} className="num">
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {x.map((value, i) => (
                <tr key={value}>
                  <td>{showX(value)}</td>
                  {series.map((s) => {
                    const v = s.values[i];
                    return (
                      <td key={s.label} className="num">
                        {v === null || v === undefined ? '—' : s.format ? s.format(v) : String(v)}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
