// Toasts for errors and notices, and the "加载中…" indicator for long loads.
import { ApiError } from "./api";
import { t } from "./i18n";

const toastTimeoutMs = 8000;

export type ToastKind = "error" | "info" | "success";

export function toast(kind: ToastKind, title: string, detail?: string): void {
  const host = document.getElementById("toasts");
  if (!host) {
    return;
  }
  const item = document.createElement("div");
  item.className = `toast toast-${kind}`;
  item.setAttribute("role", kind === "error" ? "alert" : "status");
  const heading = document.createElement("strong");
  heading.textContent = title;
  item.append(heading);
  if (detail) {
    const body = document.createElement("p");
    body.textContent = detail;
    item.append(body);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.textContent = "×";
  close.setAttribute("aria-label", t("common.close"));
  close.addEventListener("click", () => item.remove());
  item.append(close);
  host.append(item);
  // Keep at most five on screen: the oldest go first.
  while (host.children.length > 5) {
    host.firstElementChild?.remove();
  }
  window.setTimeout(() => item.remove(), kind === "error" ? toastTimeoutMs * 1.5 : toastTimeoutMs);
}

/** Shows what an API call (or anything else) failed with; aborted requests are not errors. */
export function showError(error: unknown): void {
  if (error instanceof DOMException && error.name === "AbortError") {
    return;
  }
  if (error instanceof ApiError) {
    toast("error", error.problem.title ?? t("common.error"), error.description || undefined);
    return;
  }
  console.error(error);
  toast("error", t("common.error"), error instanceof Error ? error.message : String(error));
}

let busyCount = 0;

/** Runs work with the global loading indicator shown (nested calls keep it up until the last one ends). */
export async function withBusy<T>(work: () => Promise<T>): Promise<T> {
  setBusy(+1);
  try {
    return await work();
  } finally {
    setBusy(-1);
  }
}

function setBusy(delta: number): void {
  busyCount = Math.max(0, busyCount + delta);
  const indicator = document.getElementById("busy");
  if (indicator) {
    indicator.hidden = busyCount === 0;
    document.body.setAttribute("aria-busy", busyCount > 0 ? "true" : "false");
  }
}
