// Times are shown, and typed, in Asia/Shanghai whatever the browser's own zone is: the rules and the reports are.
import { locale } from "./i18n";

export const zone = "Asia/Shanghai";

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(kind: "full" | "time"): Intl.DateTimeFormat {
  const key = `${locale()}/${kind}`;
  let found = formatters.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat(locale() === "en" ? "en-GB" : "zh-CN", {
      timeZone: zone,
      hour12: false,
      ...(kind === "full" ? { year: "numeric", month: "2-digit", day: "2-digit" } : {}),
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(key, found);
  }
  return found;
}

/** "2026/11/22 08:30:05" (zh-CN) or "22/11/2026, 08:30:05" (en), in Asia/Shanghai. */
export function formatDateTime(epochMs: number | null | undefined): string {
  return epochMs === null || epochMs === undefined ? "—" : formatter("full").format(new Date(epochMs));
}

export function formatTime(epochMs: number): string {
  return formatter("time").format(new Date(epochMs));
}

/** The wall-clock fields of an instant in Asia/Shanghai. */
function parts(epochMs: number): Record<string, string> {
  const found: Record<string, string> = {};
  const shanghai = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
  for (const part of shanghai.formatToParts(new Date(epochMs))) {
    found[part.type] = part.value;
  }
  return found;
}

/** A datetime-local value ("2026-11-22T08:30") for the instant, in Asia/Shanghai. */
export function toLocalInput(epochMs: number): string {
  const p = parts(epochMs);
  return `${p.year}-${p.month}-${p.day}T${p.hour === "24" ? "00" : p.hour}:${p.minute}`;
}

/** Today's midnight in Asia/Shanghai as a datetime-local value, and the next midnight. */
export function todayRange(now = Date.now()): { from: string; to: string } {
  const p = parts(now);
  const from = `${p.year}-${p.month}-${p.day}T00:00`;
  // China has no daylight saving time: a day is 24 hours, and UTC+8.
  const start = Date.parse(`${p.year}-${p.month}-${p.day}T00:00:00+08:00`);
  return { from, to: toLocalInput(start + 24 * 3600 * 1000) };
}
